"""Faults with real processes: a worker killed mid-segment, Redis restarted, the database away.

Each test ends with every violation of the whole-video reference present exactly once (stored
row and exchange-log candidate) and the exchange log verifying.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid

import pytest
import redis
from sqlalchemy import create_engine, text

from celery_helpers import (
    DETECTOR, OPTIONS, PLAN, free_port, key, kill_group, shared_clip, start_worker, stored, wait_until,
)

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _ctx(db_url, tmp_path, broker_url):
    from workers.jobs import WorkerContext
    from workers.settings import load_settings

    return WorkerContext(load_settings(env={}, broker_url=broker_url, db_url=db_url, evidence_root=tmp_path / "evidence",
                                      key_prefix=os.environ.get("SAFECITY_BROKER_PREFIX", ""), **PLAN))


def _submit(ctx):
    from workers.app import create_app
    from workers.jobs import SubmitRequest, enqueue, submit_job

    clip, _ = shared_clip()
    sub = submit_job(ctx, SubmitRequest(clip / "scene.mp4", clip / "camera.yaml", "cpu", DETECTOR, None, False, OPTIONS))
    assert enqueue(create_app(ctx.settings), ctx, sub.job_id) == len(sub.segment_ids)
    return sub


def _running(ctx, job_id, worker_name=None):
    from workers.jobs import job_view

    segs = [s for s in job_view(ctx, job_id).segments if s["status"] == "running"]
    if worker_name:
        segs = [s for s in segs if s["worker"] and worker_name in s["worker"]]
    return segs[0] if segs else None


def _check_exactly_once(ctx, view, db_url):
    from exchange.audit import verify_database
    from exchange.home import init_home
    from workers.jobs import job_document

    _, reference = shared_clip()
    assert view.status == "done", view.job["error"]
    doc = job_document(view)
    assert sorted(map(key, doc["violations"])) == sorted(map(key, reference))
    ids, candidates = stored(db_url, "clip-day-s1")
    assert sorted(ids) == sorted(v["id"] for v in doc["violations"]), "stored rows = the job's violations, once each"
    assert candidates == len(ids), "one signed candidate envelope per violation"
    with ctx.sessions().begin() as session:
        report = verify_database(session, init_home().roster.to_doc())
    assert report.ok, report.first


def test_kill_9_worker_mid_segment(tmp_path, broker):
    """kill -9 of a whole worker mid-segment: Redis hands the message to another worker after the
    visibility timeout; the segment is done once, nothing lost or doubled."""
    from workers.jobs import wait_for_job

    db_url = f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    ctx = _ctx(db_url, tmp_path, broker)
    sub = _submit(ctx)
    env = {"SAFECITY_VISIBILITY_S": "8"}
    first = start_worker(tmp_path, "victim", broker, db_url, env=env)
    second = None
    try:
        seg = wait_until(lambda: _running(ctx, sub.job_id, "victim"), 120, "the victim to start a segment")
        time.sleep(1.0)  # well inside the segment: decoding and detecting
        kill_group(first)  # SIGKILL to the worker and its pool: no ack, no reject
        second = start_worker(tmp_path, "rescuer", broker, db_url, env=env)
        view = wait_for_job(ctx, sub.job_id, timeout_s=400)
    finally:
        kill_group(first)
        if second is not None:
            kill_group(second, 15)
    killed = next(s for s in view.segments if s["id"] == seg["id"])
    assert killed["attempts"] >= 2 and "rescuer" in killed["worker"], killed
    _check_exactly_once(ctx, view, db_url)


def test_redis_restart_mid_job(tmp_path):
    """The broker is killed and restarted (append-only file kept) while a segment runs: the worker
    reconnects, the job finishes, every violation is stored once."""
    from workers.jobs import wait_for_job

    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server not installed")
    port = free_port()
    data = tmp_path / "redis"
    data.mkdir()
    args = [server, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data), "--appendonly", "yes",
            "--appendfsync", "always", "--save", "", "--daemonize", "no"]

    def start_redis():
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: _ping(port), 20, "redis-server to accept connections")
        return proc

    broker_url = f"redis://127.0.0.1:{port}/0"
    redis_proc = start_redis()
    db_url = f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    ctx = _ctx(db_url, tmp_path, broker_url)
    worker = None
    try:
        sub = _submit(ctx)
        worker = start_worker(tmp_path, "w-redis", broker_url, db_url, env={"SAFECITY_VISIBILITY_S": "8"})
        wait_until(lambda: _running(ctx, sub.job_id), 120, "a segment to start")
        redis_proc.kill()  # SIGKILL: no shutdown save; the append-only file has every write
        redis_proc.wait()
        time.sleep(3.0)
        redis_proc = start_redis()
        view = wait_for_job(ctx, sub.job_id, timeout_s=400)
    finally:
        if worker is not None:
            kill_group(worker, 15)
        redis_proc.kill()
        redis_proc.wait()
    _check_exactly_once(ctx, view, db_url)


def _ping(port: int) -> bool:
    try:
        return redis.Redis(port=port, socket_connect_timeout=0.5).ping()
    except redis.ConnectionError:
        return False


@pytest.mark.postgres
def test_database_unavailable_for_a_while(tmp_path, broker):
    """PostgreSQL refuses the workers' role mid-job: the segment's transaction fails as a whole, the
    task retries with backoff, and succeeds once the database is back; nothing half-written."""
    from workers.jobs import wait_for_job

    admin = create_engine(PG_ADMIN, connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # no server: nothing to test against
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN}: {type(exc).__name__}")
    role = schema = f"sc_w_{uuid.uuid4().hex[:10]}"
    with admin.begin() as conn:
        conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        conn.execute(text(f'CREATE SCHEMA "{schema}" AUTHORIZATION "{role}"'))
    db_url = f"postgresql+psycopg://{role}@127.0.0.1:5432/test?options=-csearch_path%3D{schema}"
    ctx = _ctx(db_url, tmp_path, broker)
    worker = None
    log = tmp_path / "w-db.log"
    try:
        sub = _submit(ctx)
        worker = start_worker(tmp_path, "w-db", broker, db_url)
        wait_until(lambda: _running(ctx, sub.job_id), 120, "a segment to start")
        ctx.close()
        with admin.begin() as conn:  # the database goes away for this role: no new sessions, current ones cut
            conn.execute(text(f'ALTER ROLE "{role}" NOLOGIN'))
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :r"), {"r": role})
        wait_until(lambda: "segment retry" in log.read_text(errors="replace"), 180, "the worker to retry on the database error")
        time.sleep(2.0)
        with admin.begin() as conn:
            conn.execute(text(f'ALTER ROLE "{role}" LOGIN'))
        view = wait_for_job(ctx, sub.job_id, timeout_s=400)
        assert "database error" in log.read_text(errors="replace")
        assert sum(s["attempts"] for s in view.segments) > len(view.segments), "some segment ran again"
        _check_exactly_once(ctx, view, db_url)
    finally:
        if worker is not None:
            kill_group(worker, 15)
        ctx.close()
        with admin.begin() as conn:
            conn.execute(text(f'ALTER ROLE "{role}" LOGIN'))
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :r"), {"r": role})
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            conn.execute(text(f'DROP ROLE "{role}"'))
        admin.dispose()

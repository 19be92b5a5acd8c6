"""A killed live worker's spool is processed by the next lease holder, exactly once; a worker
that lost its lease before the commit stores nothing (real Redis, SQLite, H.264 chunk files)."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
import time
from pathlib import Path

import cv2
import yaml
from sqlalchemy import create_engine, func, select
from typer.testing import CliRunner

from celery_helpers import make_clip, reference_violations
from tests.workers.live_helpers import (
    WorkerThread, delete_prefix, free_port, private_prefix, redis_client, register_camera, wait_for,
)
from workers.leases import CameraLeases
from workers.live import LiveSettings, LiveWorker
from workers.live_runner import ChunkRecorder
from workers.metrics import LiveMetrics
from workers.streams import LiveFrame

CAMERA = "clip-day-s1"


def _settings(tmp_path: Path, prefix: str, db_url: str, worker_id: str) -> LiveSettings:
    return LiveSettings(
        redis_url="unused", db_url=db_url, key_prefix=prefix, worker_id=worker_id, lease_ttl_s=2, scan_interval_s=0.5,
        chunk_s=4, warmup_s=2, min_tail_s=1, max_tail_s=4, quiet_s=1, spool_dir=tmp_path / "spool",
        out_dir=tmp_path / "out", detector="motion", plates=False, read_timeout_s=1, open_timeout_s=1,
    )


def _record_like_a_killed_worker(clip: Path, settings: LiveSettings, token: int) -> list:
    """What a worker holding ``token`` left in the spool when it was killed: every chunk of the
    clip recorded, finished and marked pending (``_enqueue``), none stored."""
    from workers.spool import mark_pending

    start = dt.datetime.fromisoformat(yaml.safe_load((clip / "camera.yaml").read_text())["start_time_utc"].replace("Z", "+00:00"))
    cap = cv2.VideoCapture(str(clip / "scene.mp4"))
    fps = cap.get(cv2.CAP_PROP_FPS)
    rec = ChunkRecorder(Path(settings.spool_dir) / CAMERA, CAMERA, token, settings)
    chunks, n = [], 0
    while True:
        ok, img = cap.read()
        if not ok:
            break
        chunks += rec.add(LiveFrame(n, n / fps, start + dt.timedelta(seconds=n / fps), n / fps, img, 1), fps)
        n += 1
    cap.release()
    chunks += rec.close()
    for c in chunks:
        mark_pending(c)
    return sorted(chunks, key=lambda c: c.seq)


def _runs(db_url: str) -> int:
    from store.schema import RunRow

    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return conn.scalar(select(func.count()).select_from(RunRow).where(RunRow.camera_id == CAMERA))
    finally:
        engine.dispose()


def _violations(db_url: str) -> list[str]:
    from store.schema import ViolationRow

    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return sorted(conn.scalars(select(ViolationRow.id).where(ViolationRow.camera_id == CAMERA)))
    finally:
        engine.dispose()


def _types(db_url: str) -> list[str]:
    from store.schema import ViolationRow

    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return list(conn.scalars(select(ViolationRow.type).where(ViolationRow.camera_id == CAMERA)))
    finally:
        engine.dispose()


def _status(client, prefix: str) -> dict:
    raw = client.get(f"{prefix}camera:{CAMERA}:status")
    return json.loads(raw) if raw else {}


def test_next_holder_processes_a_killed_workers_spool_exactly_once(tmp_path):
    """Chunks a killed worker recorded but never stored are stored by the worker that takes the
    camera over (each with its own core: every violation once, signed evidence); a third holder
    finds nothing left to do and stores nothing again."""
    client = redis_client()
    prefix = private_prefix()
    clip = make_clip(tmp_path / "clip")
    db_url = f"sqlite:///{tmp_path / 'live.sqlite'}"
    dead_url = f"http://127.0.0.1:{free_port()}/gone"  # the camera is dark: only the spool has frames
    register_camera(db_url, CAMERA, dead_url, clip / "camera.yaml")
    try:
        # The killed worker: it held token 1, recorded the clip, never stored; its lease expires.
        killed = CameraLeases(client, "w-killed", prefix, 300)
        assert killed.acquire(CAMERA).token == 1
        chunks = _record_like_a_killed_worker(clip, _settings(tmp_path, prefix, db_url, "w-killed"), token=1)
        cored = [c for c in chunks if c.core_end > c.core_start]  # a warm-up-only file at the end has no core
        assert len(cored) >= 2
        wait_for(lambda: client.get(killed.lease_key(CAMERA)) is None, 5)

        with WorkerThread(LiveWorker(_settings(tmp_path, prefix, db_url, "w-next"), client, LiveMetrics())):
            done = wait_for(lambda: _status(client, prefix).get("chunks_done", 0) + _status(client, prefix).get("chunks_failed", 0)
                            >= len(cored), 600, step_s=0.5)
            st = _status(client, prefix)
        assert done and st["chunks_done"] == len(cored) and st["chunks_failed"] == 0, st
        assert st["token"] == 2 and st["leftover_chunks"] == len(chunks)
        stored = _violations(db_url)
        assert stored, "the clip has a red-light, a speeding and a wrong-way car"
        # Each chunk counts the vehicles born in its core: together, what the whole clip gives.
        assert sorted(_types(db_url)) == sorted(v.type for v in reference_violations(clip, tmp_path / "whole-evidence"))
        assert _runs(db_url) == len(cored)
        spool = Path(tmp_path / "spool" / CAMERA)
        assert list(spool.glob("*.pending.json")) == []
        # Evidence of the leftover chunks is signed like every other package.
        for package in (tmp_path / "out" / "evidence").iterdir():
            from safecity.cli import app

            res = CliRunner().invoke(app, ["evidence", "verify", str(package), "--json"])
            assert res.exit_code == 0 and json.loads(res.output)["ok"], res.output

        # A restarted worker (token 3) finds the chunks done: nothing processed, nothing stored twice.
        with WorkerThread(LiveWorker(_settings(tmp_path, prefix, db_url, "w-restart"), client, LiveMetrics())):
            assert wait_for(lambda: _status(client, prefix).get("token") == 3, 30)
            time.sleep(2.0)
            st = _status(client, prefix)
        assert st.get("chunks_done") == 0 and "leftover_chunks" not in st, st
        assert _violations(db_url) == stored and _runs(db_url) == len(cored)
    finally:
        delete_prefix(client, prefix)


def _empty_result(run_id: str):
    from pipeline.run import ProcessResult
    from store.repository import CameraRecord, RunRecord

    start = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.timezone.utc)
    return ProcessResult(CameraRecord("cam-fence", "fence", "cal-1", 60.0, "0" * 64),
                         RunRecord(run_id, "cam-fence", "/spool/x.mp4", "2" * 64, 10, 25.0, start, "test", "motion"), [], [])


def test_lease_lost_while_waiting_for_the_database_commits_nothing(tmp_path):
    """The worker's lease is current when it starts storing; while its transaction waits for
    another writer the lease passes to a second worker: the fencing check inside the
    transaction refuses the commit and nothing of the chunk is stored; the new holder stores."""
    from exchange.home import init_home
    from store.db import init_db, make_engine
    from store.schema import RunRow
    from workers.fencing import LeaseLostError, store_fenced

    client = redis_client()
    prefix = private_prefix()
    db_path = tmp_path / "fence.sqlite"
    db_url = f"sqlite:///{db_path}"
    engine = make_engine(db_url)
    init_db(engine)
    engine.dispose()
    home = init_home()
    at = dt.datetime(2026, 11, 26, 12, 1, tzinfo=dt.timezone.utc)
    try:
        old = CameraLeases(client, "w-old", prefix, 2000)
        lease = old.acquire("cam-fence")
        assert old.is_current(lease)  # what the check before the store saw
        blocker = sqlite3.connect(db_path)
        blocker.execute("BEGIN IMMEDIATE")  # another writer holds the database
        outcome: list = []

        def store() -> None:
            try:
                outcome.append(store_fenced(db_url, _empty_result("run-old"), home, at, old, lease))
            except BaseException as exc:  # noqa: BLE001 - asserted below
                outcome.append(exc)

        thread = threading.Thread(target=store)
        thread.start()
        time.sleep(1.0)  # the old worker now waits for the database lock inside its transaction
        assert thread.is_alive() and not outcome
        client.delete(old.lease_key("cam-fence"))  # its lease expired ...
        new = CameraLeases(client, "w-new", prefix, 2000)
        new_lease = new.acquire("cam-fence")  # ... and another worker took the camera
        assert new_lease.token == lease.token + 1
        blocker.rollback()
        blocker.close()
        thread.join(30)
        assert len(outcome) == 1 and isinstance(outcome[0], LeaseLostError), outcome
        assert "lease token 1 of w-old was lost before the commit" in str(outcome[0])
        assert client.get(new.lease_key("cam-fence")) == new_lease.value  # the stale worker did not touch it
        assert store_fenced(db_url, _empty_result("run-new"), home, at, new, new_lease) == (0, 0)
        check = create_engine(db_url)
        with check.connect() as conn:
            assert list(conn.scalars(select(RunRow.id))) == ["run-new"]
        check.dispose()
    finally:
        delete_prefix(client, prefix)

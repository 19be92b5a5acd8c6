"""``safecity cameras add|list|assign`` and ``safecity status`` against real databases and Redis."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from safecity.cli import app
from tests.workers.live_helpers import (
    REDIS_URL, HttpStream, WorkerThread, delete_prefix, free_port, need_ffmpeg, pattern_stream_args, private_prefix,
    redis_client, register_camera, wait_for,
)
from workers.live import LiveSettings, LiveWorker
from workers.status import queue_depths

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "sample_videos" / "day-default-s1" / "camera.yaml"  # camera_id demo-default-s1
runner = CliRunner()


def _run(*args: str):
    return runner.invoke(app, list(args))


def test_cameras_add_list_assign(db_url):
    """A registered camera is listed (password hidden), re-assigned to a worker and disabled."""
    r = _run("cameras", "add", "demo-default-s1", "--url", "rtsp://op:secret@10.0.0.5:554/stream1", "--camera", str(CONFIG), "--db", db_url)
    assert r.exit_code == 0, r.output
    r = _run("cameras", "assign", "demo-default-s1", "--worker", "gpu-host-1", "--pool", "gpu", "--disable", "--db", db_url)
    assert r.exit_code == 0, r.output
    r = _run("cameras", "list", "--json", "--db", db_url)
    assert r.exit_code == 0, r.output
    assert "secret" not in r.output
    (cam,) = json.loads(r.output)
    assert cam == {
        "camera_id": "demo-default-s1", "stream_url": "rtsp://op:***@10.0.0.5:554/stream1", "config_path": str(CONFIG.resolve()),
        "enabled": False, "pool": "gpu", "desired_worker": "gpu-host-1",
    }
    r = _run("cameras", "assign", "demo-default-s1", "--any", "--enable", "--db", db_url)
    assert r.exit_code == 0, r.output
    (cam,) = json.loads(_run("cameras", "list", "--json", "--db", db_url).output)
    assert cam["desired_worker"] is None and cam["enabled"] is True


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "demo-default-s1", "--url", "ftp://cam/x", "--camera", str(CONFIG)], "scheme 'ftp' is not one of"),
        (["add", "other-cam", "--url", "rtsp://cam/x", "--camera", str(CONFIG)], "camera_id is 'demo-default-s1', not 'other-cam'"),
        (["add", "demo-default-s1", "--url", "rtsp://cam/x", "--camera", "/nonexistent/camera.yaml"], "/nonexistent/camera.yaml"),
        (["add", "demo-default-s1", "--url", "rtsp://cam/x", "--camera", str(CONFIG), "--pool", "tpu"], "pool 'tpu': expected one of cpu, gpu"),
        (["assign", "nope", "--worker", "w1"], "camera 'nope': not registered"),
        (["assign", "demo-default-s1"], "nothing to change"),
    ],
)
def test_cameras_bad_input(db_url, args, message):
    """Bad registrations exit 2 with a message naming the input; nothing is stored."""
    r = _run("cameras", *args, "--db", db_url)
    assert r.exit_code == 2, r.output
    assert message in " ".join(r.output.split())
    assert json.loads(_run("cameras", "list", "--json", "--db", db_url).output) == []


def test_adding_a_camera_twice_is_refused(db_url):
    """The second registration of an id is refused and the first one kept."""
    args = ["cameras", "add", "demo-default-s1", "--url", "rtsp://cam/one", "--camera", str(CONFIG), "--db", db_url]
    assert _run(*args).exit_code == 0
    args[4] = "rtsp://cam/two"
    r = _run(*args)
    assert r.exit_code == 2 and "already registered" in r.output
    (cam,) = json.loads(_run("cameras", "list", "--json", "--db", db_url).output)
    assert cam["stream_url"] == "rtsp://cam/one"


def test_queue_depths_count_every_priority_list():
    """Queue depth sums the queue's list and Celery's priority lists (real Redis, a private database)."""
    import redis

    broker = redis.Redis.from_url(REDIS_URL.rsplit("/", 1)[0] + "/14", decode_responses=True)
    redis_client()  # skips when Redis is down
    before = queue_depths(broker)
    broker.lpush("detect.cpu", "a", "b")
    broker.lpush("detect.cpu\x06\x166", "c")
    broker.lpush("plates", "d")
    try:
        after = queue_depths(broker)
    finally:
        broker.lrem("detect.cpu", 1, "a"), broker.lrem("detect.cpu", 1, "b")
        broker.lrem("detect.cpu\x06\x166", 1, "c"), broker.lrem("plates", 1, "d")
    assert after["detect.cpu"] - before["detect.cpu"] == 3
    assert after["plates"] - before["plates"] == 1
    assert set(after) == {"detect.gpu", "detect.cpu", "plates", "registry", "exchange", "backup"}


def test_status_shows_workers_cameras_and_alerts(tmp_path):
    """Status lists the live worker, the held camera's fps and last frame; an unowned camera and a lost stream are problems (exit 1)."""
    need_ffmpeg()
    client = redis_client()
    prefix = private_prefix()
    db_url = f"sqlite:///{tmp_path / 'live.sqlite'}"
    config = tmp_path / "camera.yaml"
    config.write_text("# watch-only worker: never loaded\n")
    inp, out = pattern_stream_args()
    server = HttpStream(free_port(), inp, out).start()
    register_camera(db_url, "cam-a", server.url, config)
    register_camera(db_url, "cam-gpu", server.url, config, pool="gpu")  # no gpu worker runs: unowned
    settings = LiveSettings(redis_url=REDIS_URL, db_url=db_url, key_prefix=prefix, worker_id="w-status", lease_ttl_s=2,
                            scan_interval_s=0.5, spool_dir=tmp_path / "spool", out_dir=tmp_path / "out", pipeline=False, read_timeout_s=1)
    status = ["status", "--json", "--db", db_url, "--redis-url", REDIS_URL, "--prefix", prefix]

    def doc():
        r = _run(*status)
        return r.exit_code, json.loads(r.output)

    try:
        with WorkerThread(LiveWorker(settings, client)):
            assert wait_for(lambda: (doc()[1]["cameras"][0].get("input_fps") or 0) > 10, 30)
            code, d = doc()
            assert code == 1  # cam-gpu is enabled and unowned
            assert d["workers"]["w-status"]["cameras"] == ["cam-a"]
            a, g = d["cameras"]
            assert (a["camera_id"], a["holder"], a["state"]) == ("cam-a", "w-status", "streaming")
            assert a["frame_age_s"] < 2 and a["last_frame_utc"]
            assert (g["camera_id"], g["holder"], g["state"]) == ("cam-gpu", None, "unowned")
            assert d["problems"] == ["camera cam-gpu: enabled but no worker holds it"]
            server.stop()  # the camera goes dark
            assert wait_for(lambda: "disconnected" in doc()[1]["cameras"][0]["active_alerts"], 20)
            code, d = doc()
            assert d["cameras"][0]["state"] == "reconnecting" and d["cameras"][0]["reconnects"] >= 1
            assert "camera cam-a: active alerts disconnected" in d["problems"]
            assert any(al["camera_id"] == "cam-a" and al["kind"] == "disconnected" and al["state"] == "raised" for al in d["alerts"])
        # the alert is also stored durably in the database
        from store.db import make_engine, session_factory
        from workers.live_models import recent_alerts

        engine = make_engine(db_url)
        with session_factory(engine)() as session:
            kinds = {(r.camera_id, r.kind, r.state, r.worker_id) for r in recent_alerts(session)}
        engine.dispose()
        assert ("cam-a", "disconnected", "raised", "w-status") in kinds
    finally:
        server.stop()
        delete_prefix(client, prefix)


def test_status_lists_a_running_celery_worker(tmp_path):
    """A real `safecity worker` process answers the status ping with its name and queues."""
    import os
    import signal
    import subprocess
    import sys

    pytest.importorskip("celery")
    client = redis_client()
    prefix = private_prefix()
    broker = REDIS_URL.rsplit("/", 1)[0] + "/12"  # a database of its own: this worker must take no one else's tasks
    db_url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    cmd = [sys.executable, "-m", "safecity", "worker", "--queues", "backup", "--pool", "solo", "--name", "status-probe@test",
           "--db", db_url, "--broker", broker, "--loglevel", "WARNING"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    args = ["status", "--json", "--db", db_url, "--redis-url", REDIS_URL, "--broker-url", broker, "--prefix", prefix]
    try:
        def probe():
            r = _run(*args)
            return json.loads(r.output)["workers"].get("status-probe@test") if r.output.startswith("{") else None

        info = wait_for(probe, 90, step_s=1)
        assert info == {"kind": "celery", "queues": ["backup"], "host": "test"}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        delete_prefix(client, prefix)


def test_status_without_redis_exits_3(tmp_path):
    """An unreachable Redis is exit code 3 with the address (no password) in the message."""
    r = _run("status", "--db", f"sqlite:///{tmp_path / 'x.sqlite'}", "--redis-url", f"redis://:pw@127.0.0.1:{free_port()}/0", "--no-celery")
    assert r.exit_code == 3, r.output
    assert "not reachable" in r.output and "pw" not in r.output

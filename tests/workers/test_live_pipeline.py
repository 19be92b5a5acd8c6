"""The live pipeline end to end: a generated scene served as a live HTTP stream, a live worker
holding the camera, violations stored with evidence (real Redis, SQLite, ffmpeg)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.workers.live_helpers import (
    HttpStream, WorkerThread, delete_prefix, free_port, need_ffmpeg, private_prefix, redis_client, register_camera, wait_for,
)
from workers.live import LiveSettings, LiveWorker
from workers.metrics import LiveMetrics

ROOT = Path(__file__).resolve().parents[2]
SCENE = ROOT / "sample_videos" / "day-default-s1"


@pytest.mark.slow
def test_live_stream_goes_through_the_pipeline(tmp_path):
    """The 20 s sample scene, streamed once, becomes two overlapping chunks (a seam at 10 s): all 500 frames read, each of the truth's violations once, evidence files."""
    need_ffmpeg()
    client = redis_client()
    prefix = private_prefix()
    db_url = f"sqlite:///{tmp_path / 'live.sqlite'}"
    server = HttpStream(free_port(), ["-i", str(SCENE / "scene.mp4")]).start()  # played once, then the camera "goes dark"
    register_camera(db_url, "demo-default-s1", server.url, SCENE / "camera.yaml")
    settings = LiveSettings(
        redis_url="unused", db_url=db_url, key_prefix=prefix, worker_id="w-live", lease_ttl_s=10, scan_interval_s=2,
        chunk_s=10, max_tail_s=6, spool_dir=tmp_path / "spool", out_dir=tmp_path / "out", plates=False, read_timeout_s=3,
    )
    metrics = LiveMetrics()
    started = time.monotonic()
    try:
        with WorkerThread(LiveWorker(settings, client, metrics)) as worker:
            def status():
                raw = client.get(f"{prefix}camera:demo-default-s1:status")
                return json.loads(raw) if raw else {}

            assert wait_for(lambda: status().get("chunks_done", 0) + status().get("chunks_failed", 0) >= 2, 900), status()
            st = status()
        elapsed = time.monotonic() - started
    finally:
        server.stop()
        delete_prefix(client, prefix)
    print(f"\nlive pipeline: {st['frames']} frames read, input {st['input_fps']} fps, processing {st['processing_fps']} fps, "
          f"lag {st['lag_s']} s after the chunk's last frame, {st['violations']} violations, {elapsed:.0f} s wall")
    assert st["chunks_failed"] == 0, st["last_error"]
    assert st["frames"] == 500  # every frame of the 20 s, 25 fps scene

    from sqlalchemy import select

    from store.db import make_engine, session_factory
    from store.schema import RunRow, ViolationRow

    engine = make_engine(db_url)
    with session_factory(engine)() as session:
        runs = session.scalars(select(RunRow)).all()
        violations = session.scalars(select(ViolationRow)).all()
    engine.dispose()
    assert len(runs) == 2 and {r.camera_id for r in runs} == {"demo-default-s1"}
    assert st["violations"] == len(violations) >= 4
    truth = json.loads((SCENE / "truth.json").read_text())
    # the same pipeline as `safecity process`: the scene's eight offences, found from the stream
    assert sorted(v.type for v in violations) == sorted(v["type"] for v in truth["violations"])
    for v in violations:  # evidence written for each, and the chunk kept as their source video
        assert (tmp_path / "out" / "evidence" / v.id / "metadata.json").is_file()
    assert all(Path(r.video_path).is_file() for r in runs if any(v.run_id == r.id for v in violations))

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
    """The 20 s sample scene, streamed once, becomes two overlapping chunks (a seam at 10 s): all 500 frames read, each of the truth's offences once, evidence files."""
    need_ffmpeg()
    client = redis_client()
    prefix = private_prefix()
    db_url = f"sqlite:///{tmp_path / 'live.sqlite'}"
    server = HttpStream(free_port(), ["-i", str(SCENE / "scene.mp4")]).start()  # played once, then the camera "goes dark"
    config = tmp_path / "camera.yaml"
    config.write_bytes((SCENE / "camera.yaml").read_bytes())
    register_camera(db_url, "demo-default-s1", server.url, config)
    settings = LiveSettings(
        redis_url="unused", db_url=db_url, key_prefix=prefix, worker_id="w-live", lease_ttl_s=10, scan_interval_s=2,
        # max_tail_s 12: the stop-line offender stands past the line from 9.4 s to the end (20 s);
        # its chunk must follow it that long (the default is 30 s), or its rules see it cut short.
        chunk_s=10, max_tail_s=12, spool_dir=tmp_path / "spool", out_dir=tmp_path / "out", plates=False, read_timeout_s=3,
    )
    metrics = LiveMetrics()
    started = time.monotonic()
    try:
        with WorkerThread(LiveWorker(settings, client, metrics)) as worker:
            def status():
                raw = client.get(f"{prefix}camera:demo-default-s1:status")
                return json.loads(raw) if raw else {}

            # The scene's signal plan counts from its frame 0: anchor it at the connection's
            # first frame, as an installer anchors a live camera's plan (docs/operations.md).
            # The worker picks the edited config up from the next chunk on.
            since = wait_for(lambda: status().get("connected_since_utc"), 120)
            text = config.read_text().replace("start_time_utc: '2026-11-20T08:00:00Z'", f"start_time_utc: '{since}'")
            assert since in text
            config.write_text(text)
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
    assert st["truncated_tracks"] == 0  # every owned vehicle followed to its end

    from sqlalchemy import select

    from store.db import make_engine, session_factory
    from store.schema import RunRow, ViolationRow

    engine = make_engine(db_url)
    with session_factory(engine)() as session:
        runs = session.scalars(select(RunRow)).all()
        violations = session.scalars(select(ViolationRow)).all()
    engine.dispose()
    assert len(runs) == 2 and {r.camera_id for r in runs} == {"demo-default-s1"}
    assert st["violations"] == len(violations)
    truth = json.loads((SCENE / "truth.json").read_text())
    # The same pipeline as `safecity process`: each of the scene's offences exactly once, the
    # seam at 10 s included, the signal rules on the anchored plan.
    found = sorted(v.type for v in violations)
    print(f"live violations {found}")
    assert found == sorted(v["type"] for v in truth["violations"])
    for v in violations:  # evidence written for each, and the chunk kept as their source video
        assert (tmp_path / "out" / "evidence" / v.id / "metadata.json").is_file()
    assert all(Path(r.video_path).is_file() for r in runs if any(v.run_id == r.id for v in violations))


def test_a_bad_camera_config_raises_an_alert_and_records_nothing(tmp_path):
    """A camera whose config does not load raises pipeline_error naming the file; the stream is still watched; recording stops, files begun are finished and kept."""
    from tests.workers.live_helpers import pattern_stream_args

    need_ffmpeg()
    client = redis_client()
    prefix = private_prefix()
    db_url = f"sqlite:///{tmp_path / 'live.sqlite'}"
    inp, out = pattern_stream_args()
    server = HttpStream(free_port(), inp, out).start()
    config = tmp_path / "broken.yaml"
    config.write_text("camera_id: cam-bad\nname: [unclosed\n")
    register_camera(db_url, "cam-bad", server.url, config)
    settings = LiveSettings(redis_url="unused", db_url=db_url, key_prefix=prefix, worker_id="w-bad", lease_ttl_s=4, scan_interval_s=1,
                            chunk_s=1, warmup_s=0.2, max_tail_s=0.5, min_tail_s=0.1, spool_dir=tmp_path / "spool", out_dir=tmp_path / "out")
    try:
        with WorkerThread(LiveWorker(settings, client)):
            def status():
                raw = client.get(f"{prefix}camera:cam-bad:status")
                return json.loads(raw) if raw else {}

            assert wait_for(lambda: "pipeline_error" in status().get("active_alerts", []), 60), status()
            frames = status()["frames"]
            assert wait_for(lambda: status()["frames"] > frames + 50, 30)  # still reading
            files = sorted((tmp_path / "spool").rglob("*.mp4"))
            frames = status()["frames"]
            assert wait_for(lambda: status()["frames"] > frames + 50, 30)
            assert sorted((tmp_path / "spool").rglob("*.mp4")) == files  # nothing new recorded
            st = status()
    finally:
        server.stop()
        delete_prefix(client, prefix)
    assert "broken.yaml" in st["last_error"]
    assert st["chunks_done"] == 0
    import cv2

    for f in files:  # finished files: readable to the end
        cap = cv2.VideoCapture(str(f))
        assert cap.read()[0], f
        cap.release()

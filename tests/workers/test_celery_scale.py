"""Scale test: generated cameras across worker processes on this machine (``safecity worker-bench``)."""

from __future__ import annotations

import pytest
import redis

from celery_helpers import TEST_REDIS_DB

BROKER = f"redis://127.0.0.1:6379/{TEST_REDIS_DB}"


@pytest.mark.slow
def test_cameras_across_workers(tmp_path):
    """3 generated cameras on 2 worker processes: every job done, each segment once; throughput and lag measured."""
    from workers.bench import ensure_scenes, run_bench
    from workers.settings import load_settings

    client = redis.Redis.from_url(BROKER)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        pytest.skip(f"no Redis at {BROKER}: {exc}")
    client.flushdb()
    try:
        scenes = ensure_scenes(tmp_path / "scenes", 3, duration_s=4.0)
        settings = load_settings(env={}, broker_url=BROKER, db_url=f"sqlite:///{tmp_path / 'bench.sqlite'}",
                                 evidence_root=tmp_path / "evidence", segment_s=2.0, warmup_s=2.0)
        report = run_bench(settings, scenes, workers=2, detector="motion", timeout_s=600, log_dir=tmp_path / "logs")
    finally:
        client.flushdb()
        client.close()
    assert report.failed_jobs == 0 and report.cameras == 3 and report.workers == 2
    assert report.segments == 6  # 100 frames in 2 s cores: 2 per camera
    assert report.frames_decoded >= 300 and report.frames_per_s > 0
    assert 0 <= report.queue_wait_s_median <= report.lag_s_max <= report.wall_s

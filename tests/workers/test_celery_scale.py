"""Scale test: generated cameras across worker processes on this machine (``safecity worker-bench``)."""

from __future__ import annotations

import os

import pytest


@pytest.mark.slow
def test_cameras_across_workers(tmp_path, broker):
    """3 generated cameras on 2 worker processes: every job done, each segment once; throughput and lag measured."""
    from workers.bench import ensure_scenes, run_bench
    from workers.settings import load_settings

    scenes = ensure_scenes(tmp_path / "scenes", 3, duration_s=4.0)
    settings = load_settings(env={}, broker_url=broker, db_url=f"sqlite:///{tmp_path / 'bench.sqlite'}",
                             evidence_root=tmp_path / "evidence", segment_s=2.0, warmup_s=2.0,
                             key_prefix=os.environ["SAFECITY_BROKER_PREFIX"])
    report = run_bench(settings, scenes, workers=2, detector="motion", timeout_s=600, log_dir=tmp_path / "logs")
    assert report.failed_jobs == 0 and report.cameras == 3 and report.workers == 2
    assert report.segments == 3  # motion detector: one segment per camera (jobs.STATEFUL_DETECTORS)
    assert report.frames_decoded == 300 and report.frames_per_s > 0
    assert 0 <= report.queue_wait_s_median <= report.lag_s_max <= report.wall_s

"""Scale test: N generated cameras across M worker processes on this machine.

Generates (or reuses) N scenes with different seeds, starts M ``safecity worker`` processes
(solo pool, one task each) on a private Redis database and a fresh database, submits one job
per camera, waits, and reports:

* throughput: frames decoded by all segments / wall time from the first submission to the
  last segment done (frames/s), and the real-time factor (video seconds per wall second);
* lag: per job, submission to last segment done (s); queue wait: submission to a segment's
  start (s); both as median and maximum.

Used by ``safecity worker-bench`` and the scale test; figures in docs/workers.md.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from workers.jobs import SubmitRequest, WorkerContext, enqueue, job_view, submit_job, wait_for_job
from workers.settings import WorkerSettings


@dataclass(frozen=True)
class BenchReport:
    cameras: int
    workers: int
    detector: str
    segments: int
    frames_decoded: int
    video_s: float
    wall_s: float
    frames_per_s: float
    realtime_factor: float
    lag_s_median: float
    lag_s_max: float
    queue_wait_s_median: float
    queue_wait_s_max: float
    violations: int
    failed_jobs: int

    def to_dict(self) -> dict:
        return asdict(self)


def ensure_scenes(work_dir: Path, cameras: int, duration_s: float, scenario: str = "default") -> list[Path]:
    """``cameras`` scene folders (seeds 1..N) under ``work_dir``, generated when missing."""
    from scenes.generate import generate_scene

    dirs = []
    for seed in range(1, cameras + 1):
        d = work_dir / f"{scenario}-s{seed}-{duration_s:g}s"
        if not (d / "scene.mp4").is_file():
            generate_scene(d, scenario=scenario, seed=seed, duration_s=duration_s)
        dirs.append(d)
    return dirs


def start_workers(n: int, settings: WorkerSettings, log_dir: Path, env: dict[str, str] | None = None, threads: int = 1) -> list[subprocess.Popen]:
    """``n`` worker processes (``safecity worker``, solo pool) with ``settings``' broker and database."""
    log_dir.mkdir(parents=True, exist_ok=True)
    procs = []
    for i in range(n):
        cmd = [
            sys.executable, "-m", "safecity", "worker", "--queues", "detect.cpu", "--concurrency", "1", "--pool", "solo",
            "--threads", str(threads), "--name", f"bench{i}-{os.getpid()}@%h", "--db", settings.database_url(),
            "--broker", settings.broker_url, "--loglevel", "WARNING",
        ]
        full_env = {**os.environ, **(env or {}), "SAFECITY_RESULT_BACKEND": settings.backend_url,
                    "SAFECITY_VISIBILITY_S": str(settings.visibility_timeout_s), "SAFECITY_BROKER_PREFIX": settings.key_prefix}
        with open(log_dir / f"worker{i}.log", "ab") as fh:
            procs.append(subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=full_env, start_new_session=True))
    return procs


def stop_workers(procs: list[subprocess.Popen], timeout_s: float = 20.0) -> None:
    """Warm shutdown (SIGTERM: finish the current task), then SIGKILL whatever is left."""
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def run_bench(
    settings: WorkerSettings, scenes: list[Path], workers: int, detector: str = "onnx", detect_every: int = 1,
    timeout_s: float = 3600.0, log_dir: Path | None = None,
) -> BenchReport:
    """Submit one job per scene to ``workers`` fresh worker processes; measure (module docstring)."""
    from workers.app import create_app

    ctx = WorkerContext(settings)
    app = create_app(settings)
    procs = start_workers(workers, settings, log_dir or Path(settings.evidence_folder()).parent / "bench-logs")
    try:
        t0 = time.time()
        job_ids = []
        for scene in scenes:
            sub = submit_job(ctx, SubmitRequest(scene / "scene.mp4", scene / "camera.yaml", "cpu", detector, None, False,
                                                 {"detect_every": detect_every}))
            enqueue(app, ctx, sub.job_id)
            job_ids.append(sub.job_id)
        views = [wait_for_job(ctx, j, timeout_s) for j in job_ids]
        wall = time.time() - t0
    finally:
        stop_workers(procs)
    views = [job_view(ctx, j) for j in job_ids]
    frames = sum(s["frames"] or 0 for v in views for s in v.segments)
    video_s = sum(v.job["frame_count"] / v.job["fps"] for v in views)
    lags, waits = [], []
    for v in views:
        submitted = _aware(v.job["submitted_at"])
        ends = [_aware(s["finished_at"]) for s in v.segments if s["finished_at"]]
        if ends:
            lags.append((max(ends) - submitted).total_seconds())
        waits += [(_aware(s["started_at"]) - submitted).total_seconds() for s in v.segments if s["started_at"]]
    return BenchReport(
        cameras=len(scenes), workers=workers, detector=detector, segments=sum(len(v.segments) for v in views),
        frames_decoded=frames, video_s=round(video_s, 2), wall_s=round(wall, 2), frames_per_s=round(frames / wall, 2),
        realtime_factor=round(video_s / wall, 3),
        lag_s_median=round(statistics.median(lags), 2) if lags else 0.0, lag_s_max=round(max(lags), 2) if lags else 0.0,
        queue_wait_s_median=round(statistics.median(waits), 2) if waits else 0.0, queue_wait_s_max=round(max(waits), 2) if waits else 0.0,
        violations=sum(len(s["violation_ids"] or []) for v in views for s in v.segments),
        failed_jobs=sum(1 for v in views if v.status != "done"),
    )


def _aware(value: dt.datetime) -> dt.datetime:
    """SQLite returns naive datetimes for timezone-aware columns: they are UTC."""
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def report_json(report: BenchReport) -> str:
    return json.dumps(report.to_dict(), indent=2)

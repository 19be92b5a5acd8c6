"""Builders for the Celery worker tests: a short clip of a committed scene, its reference
result, real worker processes, and readers of what they stored."""

from __future__ import annotations

import atexit
import functools
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import yaml

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_videos" / "day-default-s1"
TEST_REDIS_DB = 11  # the worker tests' database on the shared Redis; each test adds a key prefix of its own
TEST_BROKER = f"redis://127.0.0.1:6379/{TEST_REDIS_DB}"
CLIP_FIRST, CLIP_FRAMES = 280, 200  # red light, a speeding car and a wrong-way car cross the seams
# Segments of 2.4 s: cores [0,60) [60,120) [120,200); the motion detector learns its background
# for 25 frames, so the warm-up (2 s = 50 frames) covers it plus the tracker's confirmation.
PLAN = {"segment_s": 2.4, "warmup_s": 2.0, "min_tail_s": 1.0, "quiet_s": 1.0}
DETECTOR = "motion"  # model-free and fast on a shared 2-core machine; stateful, so its jobs are one segment
SEAM_DETECTOR = "onnx"  # stateless: what segmented processing is for
OPTIONS = {"clip_pre_s": 0.4, "clip_post_s": 0.4}


def make_clip(out_dir: Path, first: int = CLIP_FIRST, count: int = CLIP_FRAMES) -> Path:
    """Frames [first, first+count) of the committed day scene as a video of its own.

    The camera config moves with it: start time plus first/fps, signal plan offset into the cycle.
    """
    from pipeline.encode import H264Writer

    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = yaml.safe_load((SAMPLE / "camera.yaml").read_text())
    cap = cv2.VideoCapture(str(SAMPLE / "scene.mp4"))
    fps = cap.get(cv2.CAP_PROP_FPS)
    cap.set(cv2.CAP_PROP_POS_FRAMES, first)
    writer = H264Writer(out_dir / "scene.mp4", fps, tuple(cfg["image_size_px"]))
    for _ in range(count):
        ok, img = cap.read()
        if not ok:
            raise RuntimeError(f"{SAMPLE}: fewer than {first + count} frames")
        writer.write(img)
    writer.close()
    cap.release()
    shift = first / fps
    import datetime as dt

    start = dt.datetime.fromisoformat(str(cfg["start_time_utc"]).replace("Z", "+00:00"))
    cfg["start_time_utc"] = (start + dt.timedelta(seconds=shift)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    plan = cfg["signal"]["plan"]
    cycle = sum(p["duration_s"] for p in plan["phases"])
    plan["offset_s"] = round((plan.get("offset_s", 0.0) + shift) % cycle, 3)
    cfg["camera_id"] = "clip-day-s1"
    (out_dir / "camera.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return out_dir


def reference_violations(clip: Path, evidence: Path, detector: str = DETECTOR) -> list:
    """The clip processed whole, in this process: what the distributed run must equal."""
    from pipeline.config import load_camera_config
    from pipeline.run import ProcessOptions, process_video
    from safecity.composition import build_detector

    cam = clip / "camera.yaml"
    det, name = build_detector(detector, None)
    result = process_video(clip / "scene.mp4", load_camera_config(cam), hashlib.sha256(cam.read_bytes()).hexdigest(),
                           det, name, evidence, ProcessOptions(**OPTIONS))
    return result.violations


def key(v) -> tuple:
    """What must match between runs: rule, decisive frame, measured speed."""
    get = (lambda k: v[k]) if isinstance(v, dict) else (lambda k: getattr(v, k))
    speed = get("speed_kmh")
    return (get("type"), get("at_frame"), round(speed, 1) if speed is not None else None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_worker(tmp: Path, name: str, broker: str, db_url: str, *, pool: str = "solo", concurrency: int = 1,
                 env: dict[str, str] | None = None, queues: str = "detect.cpu") -> subprocess.Popen:
    """A real ``safecity worker`` process in its own process group; output in ``tmp/<name>.log``."""
    full_env = {**os.environ, "SAFECITY_VISIBILITY_S": "20", "SAFECITY_RETRY_BACKOFF_S": "1", **(env or {})}
    cmd = [sys.executable, "-m", "safecity", "worker", "--queues", queues, "--pool", pool, "--concurrency", str(concurrency),
           "--threads", "1", "--name", f"{name}@test", "--db", db_url, "--broker", broker, "--loglevel", "INFO"]
    log = open(tmp / f"{name}.log", "ab")
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=full_env, start_new_session=True, cwd=ROOT)


def kill_group(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """Signal the worker and its pool children (its process group)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def wait_until(check, timeout_s: float, what: str, poll_s: float = 0.2):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(poll_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def stored(db_url: str, camera_id: str) -> tuple[list[str], int]:
    """Violation ids stored for the camera, and the exchange log's candidate envelopes for them."""
    from sqlalchemy import create_engine, func, select

    from exchange.schema import ExchangeEntryRow
    from store.schema import ViolationRow

    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            ids = list(conn.scalars(select(ViolationRow.id).where(ViolationRow.camera_id == camera_id)))
            candidates = conn.scalar(select(func.count()).select_from(ExchangeEntryRow).where(ExchangeEntryRow.type == "candidate"))
    finally:
        engine.dispose()
    return ids, candidates


@functools.cache
def shared_clip() -> tuple[Path, tuple]:
    """The clip and its reference violations, made once per test process (removed at exit)."""
    base = Path(tempfile.mkdtemp(prefix="safecity-clip-"))
    atexit.register(shutil.rmtree, base, True)
    clip = make_clip(base / "clip")
    return clip, tuple(reference_violations(clip, base / "reference-evidence"))


def plan_windows(clip: Path, segment_s: float = PLAN["segment_s"]):
    """The segment windows a job over the clip gets with PLAN (and ``segment_s``)."""
    from pipeline.video import probe_video
    from workers.segments import SegmentPlan, SegmentWindow, plan_cores

    import datetime as dt

    info = probe_video(clip / "scene.mp4", dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    plan = SegmentPlan.from_seconds(info.fps, segment_s, PLAN["warmup_s"], PLAN["min_tail_s"], 300.0, PLAN["quiet_s"])
    return [SegmentWindow(i, a, b, plan, info.frame_count) for i, (a, b) in enumerate(plan_cores(info.frame_count, plan.segment_frames))]


def broker_fixture(monkeypatch):
    """The shared Redis with a key prefix of this test's own (SAFECITY_BROKER_PREFIX, inherited by
    the worker processes): test runs side by side never see each other's messages. Every key
    under the prefix is deleted afterwards."""
    import uuid

    import pytest
    import redis

    client = redis.Redis.from_url(TEST_BROKER)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        pytest.skip(f"no Redis at {TEST_BROKER}: {exc}")
    prefix = f"safecity-test-{uuid.uuid4().hex[:10]}:"
    monkeypatch.setenv("SAFECITY_BROKER_PREFIX", prefix)
    try:
        yield TEST_BROKER
    finally:
        for k in client.scan_iter(match=f"{prefix}*"):
            client.delete(k)
        client.close()

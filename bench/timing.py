"""The benchmark's measurements: decode only, detector only, the full pipeline.

Each returns a :class:`Timing` with wall-clock seconds and the CPU seconds this process spent
(all threads: the decode thread, onnxruntime's). On a shared machine the CPU time is the honest
cost: ``frames / cpu_s`` is what one fully used core would deliver, so real-time streams per core
= that rate / the stream's frame rate.
"""

from __future__ import annotations

import hashlib
import resource
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from detectors.base import Detector


def cpu_seconds() -> float:
    """User + system CPU seconds of this process so far (every thread)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class Timing:
    """Frames processed and what they cost.

    Attributes:
        frames: frames processed.
        wall_s: wall-clock seconds.
        cpu_s: CPU seconds of this process (all threads).
    """

    frames: int
    wall_s: float
    cpu_s: float

    @property
    def fps(self) -> float:
        """Frames per wall-clock second."""
        return self.frames / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def fps_per_core(self) -> float:
        """Frames per CPU second: the rate of one fully used core."""
        return self.frames / self.cpu_s if self.cpu_s > 0 else 0.0

    def streams_per_core(self, stream_fps: float) -> float:
        """Real-time streams of ``stream_fps`` one core keeps up with."""
        return self.fps_per_core / stream_fps

    def to_dict(self) -> dict[str, float]:
        return {
            "frames": self.frames,
            "wall_s": round(self.wall_s, 3),
            "cpu_s": round(self.cpu_s, 3),
            "fps": round(self.fps, 2),
            "fps_per_core": round(self.fps_per_core, 2),
        }


def timed(work: Callable[[], int]) -> Timing:
    """Run ``work`` (returns frames done) and time it in wall and CPU seconds."""
    cpu0, wall0 = cpu_seconds(), time.perf_counter()
    frames = work()
    return Timing(frames, time.perf_counter() - wall0, cpu_seconds() - cpu0)


def decode_only(video: Path, max_frames: int | None = None) -> Timing:
    """Decode the video (OpenCV, as the pipeline does) and do nothing else: the cost floor."""

    def work() -> int:
        capture = cv2.VideoCapture(str(video))
        n = 0
        try:
            while max_frames is None or n < max_frames:
                ok, _ = capture.read()
                if not ok:
                    break
                n += 1
        finally:
            capture.release()
        return n

    return timed(work)


def read_frames(video: Path, max_frames: int) -> list[np.ndarray]:
    """The first ``max_frames`` frames of a video, decoded into memory."""
    capture = cv2.VideoCapture(str(video))
    frames: list[np.ndarray] = []
    try:
        while len(frames) < max_frames:
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(frame)
    finally:
        capture.release()
    return frames


def detector_only(detector: Detector, frames: Sequence[np.ndarray], batch_size: int) -> Timing:
    """Detect on frames already in memory, ``batch_size`` per call (one warm-up call first)."""
    detector.detect(list(frames[:batch_size]))

    def work() -> int:
        for start in range(0, len(frames), batch_size):
            detector.detect(list(frames[start : start + batch_size]))
        return len(frames)

    return timed(work)


def full_pipeline(
    video: Path, camera: Path, detector: Detector, model_name: str, options=None, plate_reader=None, outcome: dict | None = None
) -> tuple[Timing, Timing]:
    """``pipeline.run.process_video`` on the video: decode, detect, track, rules, evidence files.

    Returns:
        (decode..rules, the same plus evidence): the first is the run's own clock
        (``ProcessResult.seconds`` / ``cpu_seconds``), the per-frame cost; the second adds the
        evidence pass (stills, H.264 clips of every violation), a cost per violation that a
        violation-dense generated scene inflates.

    ``plate_reader`` reads the plate of every violating vehicle, as ``safecity process`` does
    (in the evidence pass: the second figure); ``outcome``, when given, is filled with the
    run's violation count and the plates read.

    Evidence goes to a temporary folder that is left for the OS to clean (never deleted here).
    """
    from pipeline.config import load_camera_config
    from pipeline.run import ProcessOptions, process_video

    config = load_camera_config(camera)
    config_sha = hashlib.sha256(camera.read_bytes()).hexdigest()
    evidence = Path(tempfile.mkdtemp(prefix="safecity-bench-evidence-"))
    results = []

    def work() -> int:
        result = process_video(
            video, config, config_sha, detector, model_name, evidence, options or ProcessOptions(),
            plate_reader=plate_reader,
        )
        results.append(result)
        return result.frames

    total = timed(work)
    run = results[0]
    if outcome is not None:
        outcome["violations"] = len(run.violations)
        outcome["plates_read"] = sum(1 for v in run.violations if v.plate_status == "read")
    return Timing(run.frames, run.seconds, run.cpu_seconds), total

"""Which frames the detector sees: a detection stride with tracker prediction, and motion gating.

Detection is most of a frame's cost (~30 ms of ~35 ms on one CPU core at 720p). Between two
detected frames the tracker predicts every track on its Kalman motion
(:meth:`pipeline.tracking.RoadTracker.predict`), so the next detection is matched against
boxes moved on by the frames skipped and a fast vehicle keeps its track. The stride gives way
whenever skipping would cost a track:

- while a track is unconfirmed (ByteTrack needs ``min_consecutive_frames`` consecutive matches
  and drops a new track that misses one), or a lost track's predicted box is still in view,
  every frame is detected;
- the first frame, and a frame after ``max_static_frames`` skipped ones, always are.

Motion gating (:class:`detectors.gating.MotionGate`) skips a frame that is due when nothing in
the region of interest changed since the last detected frame (the detector would return the
same boxes). Without ``ProcessOptions.flow`` observations, and so speeds and evidence frames,
come from detected frames only; with it, a skipped frame's boxes are measured by optical flow
from the frame before (pipeline/flow.py) and recorded as observations marked not detected.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from detectors.gating import MotionGate


class PredictingTracker(Protocol):
    def needs_detection(self) -> bool: ...


@dataclass
class ScheduleCounts:
    """What the schedule decided, frame by frame (for logs and the benchmark)."""

    detected: int = 0
    predicted: int = 0  # skipped by the stride
    static: int = 0  # due, but skipped by the motion gate
    forced: int = 0  # detected although the stride would have skipped (new or lost tracks)
    flowed: int = 0  # skipped (predicted or static) and measured by optical flow instead (pipeline/flow.py)

    def to_dict(self) -> dict[str, int]:
        return {"detected": self.detected, "predicted": self.predicted, "static": self.static, "forced": self.forced,
                "flowed": self.flowed}


class DetectionSchedule:
    """Decides, frame by frame, whether the detector runs.

    Args:
        stride: at most this many frames from one detected frame to the next while every
            track is confirmed (1: every frame).
        gate: skips due frames in which nothing moved; None: no gating.
        max_static_frames: the gate never stretches a gap beyond this many frames, so a
            static scene is still looked at (e.g. once a second at 25).

    Raises:
        ValueError: stride or max_static_frames < 1.
    """

    def __init__(self, stride: int = 1, gate: MotionGate | None = None, max_static_frames: int = 25) -> None:
        if stride < 1:
            raise ValueError(f"stride: expected >= 1 frame, got {stride}")
        if max_static_frames < 1:
            raise ValueError(f"max_static_frames: expected >= 1 frame, got {max_static_frames}")
        self.stride = int(stride)
        self.gate = gate
        self.max_static_frames = int(max_static_frames)
        self.counts = ScheduleCounts()
        self._last: int | None = None

    @property
    def every_frame(self) -> bool:
        """True when every frame is detected whatever happens (no stride, no gate)."""
        return self.stride == 1 and self.gate is None

    def due(self, step: int, image: np.ndarray, tracker: PredictingTracker) -> bool:
        """Whether the detector runs on this frame.

        Args:
            step: the frame's position in the sequence the tracker sees (0, 1, 2, ...).
            image: the frame, BGR uint8 (the gate looks at it).
            tracker: the camera's tracker, asked whether it needs this frame.
        """
        if self._last is None or self.every_frame:
            return self._detect()
        gap = step - self._last
        if gap < 1:
            raise ValueError(f"step: expected > the last detected step {self._last}, got {step}")
        needs = tracker.needs_detection()
        if gap < self.stride:
            if needs:
                self.counts.forced += 1
                return self._detect()
            self.counts.predicted += 1
            return False
        if self.gate is not None and not needs and gap < self.max_static_frames and not self.gate.moved(image):
            self.counts.static += 1
            return False
        return self._detect()

    def _detect(self) -> bool:
        self.counts.detected += 1
        return True

    def detected(self, step: int, image: np.ndarray) -> None:
        """Record that the detector ran on this frame (it becomes the gate's reference)."""
        self._last = step
        if self.gate is not None:
            self.gate.reference(image)

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
    local: int = 0  # of the forced ones, detected only around the tracks that forced them (LocalDetection)
    flowed: int = 0  # skipped (predicted or static) and measured by optical flow instead (pipeline/flow.py)

    def to_dict(self) -> dict[str, int]:
        return {"detected": self.detected, "predicted": self.predicted, "static": self.static, "forced": self.forced,
                "local": self.local, "flowed": self.flowed}


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
        self.forcing = False  # the last due() was a forced detection (the stride alone would skip)
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
        self.forcing = False
        if self._last is None or self.every_frame:
            return self._detect()
        gap = step - self._last
        if gap < 1:
            raise ValueError(f"step: expected > the last detected step {self._last}, got {step}")
        needs = tracker.needs_detection()
        if gap < self.stride:
            if needs:
                self.counts.forced += 1
                self.forcing = True
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
        """Record that the detector ran on this whole frame (it becomes the gate's reference).

        Not called after a local detection (:class:`LocalDetection`): that saw only part of the
        view, so the stride still counts from the last whole-view detection and the next one
        comes on time for vehicles entering elsewhere."""
        self._last = step
        if self.gate is not None:
            self.gate.reference(image)


@dataclass(frozen=True)
class LocalSettings:
    """How :class:`LocalDetection` sizes its region.

    Attributes:
        pad_frac: each needing track's box grows by this share of its width / height per side
            (a new track's Kalman velocity is zero: the vehicle may have moved on).
        min_pad_frac: and by at least this share of the view's width per side (a car entering
            at the frame's edge shows a narrow box but moves 10-20 px a frame at 720p: with half
            its box as the only margin, one on `amber-turn` seed 7 left the region, lost its new
            track and was confirmed three frames late).
        max_view_share: a region larger than this share of the view is not worth cropping:
            the whole view is detected instead.
        edge_px: a box within this many px of the region's edge (where that edge is not the
            view's) is cut by the crop and dropped.
    """

    pad_frac: float = 1.0
    min_pad_frac: float = 0.04
    max_view_share: float = 0.4
    edge_px: float = 4.0

    def __post_init__(self) -> None:
        if self.pad_frac < 0 or self.min_pad_frac < 0 or self.edge_px < 0:
            raise ValueError(f"pad_frac, min_pad_frac, edge_px: expected >= 0, got {self}")
        if not 0 < self.max_view_share <= 1:
            raise ValueError(f"max_view_share: expected 0 < share <= 1, got {self.max_view_share}")


class LocalDetection:
    """A forced frame detected only around the tracks that forced it.

    Between whole-view detections (every ``stride`` frames) a frame is forced when a track is new,
    young or just lost (:meth:`pipeline.tracking.RoadTracker.needs_detection`); the other vehicles
    are followed by optical flow on that frame anyway. So the detector looks only at a rectangle
    around the needing tracks' boxes (grown over any other track box it would cut), at the whole
    frame's scale (:class:`detectors.region.RegionDetector`), and the tracker associates only the
    tracks inside it (:meth:`pipeline.tracking.RoadTracker.local_update`).

    Args:
        detector: a detector with dynamic input height/width (the onnx backend); a
            ``RegionDetector``'s inner detector is used.
        view: (x1, y1, x2, y2) px the detector's whole-view detections cover.
        frame_size: (w, h) px of the frames.
    """

    def __init__(self, detector, view: tuple[int, int, int, int], frame_size: tuple[int, int],
                 settings: LocalSettings | None = None) -> None:
        inner = getattr(detector, "inner", detector)
        if not self.supported(detector):
            raise ValueError(
                f"detector: local detection needs dynamic input height/width, got {type(inner).__name__}"
            )
        self.detector = inner
        self.view = tuple(int(v) for v in view)
        self.frame_size = (int(frame_size[0]), int(frame_size[1]))
        self.settings = settings or LocalSettings()

    @staticmethod
    def supported(detector) -> bool:
        """Whether ``detector`` (or a ``RegionDetector``'s inner one) can detect in any crop."""
        return bool(getattr(getattr(detector, "inner", detector), "dynamic_hw", False))

    def region(self, needing: np.ndarray, others: np.ndarray) -> tuple[int, int, int, int] | None:
        """The rectangle (x1, y1, x2, y2 px) to detect in, or None to detect the whole view.

        Args:
            needing: (N, 4) px boxes of the tracks that forced the frame.
            others: (M, 4) px boxes of every live track: one the rectangle would cut is taken in whole.
        """
        s = self.settings
        if len(needing) == 0:
            return None
        size = np.stack([needing[:, 2] - needing[:, 0], needing[:, 3] - needing[:, 1]], axis=1)
        pad = np.maximum(s.min_pad_frac * (self.view[2] - self.view[0]), s.pad_frac * size)
        r = np.array([*(needing[:, :2] - pad).min(axis=0), *(needing[:, 2:] + pad).max(axis=0)])
        others = np.asarray(others, np.float64).reshape(-1, 4)
        for _ in range(4):
            overlap = (others[:, 0] < r[2]) & (others[:, 2] > r[0]) & (others[:, 1] < r[3]) & (others[:, 3] > r[1])
            cut = overlap & ((others[:, 0] < r[0]) | (others[:, 1] < r[1]) | (others[:, 2] > r[2]) | (others[:, 3] > r[3]))
            if not cut.any():
                break
            r = np.array([min(r[0], others[cut, 0].min()), min(r[1], others[cut, 1].min()),
                          max(r[2], others[cut, 2].max()), max(r[3], others[cut, 3].max())])
        vx1, vy1, vx2, vy2 = self.view
        x1, y1 = max(vx1, int(np.floor(r[0]))), max(vy1, int(np.floor(r[1])))
        x2, y2 = min(vx2, int(np.ceil(r[2]))), min(vy2, int(np.ceil(r[3])))
        if x2 <= x1 or y2 <= y1 or (x2 - x1) * (y2 - y1) > s.max_view_share * (vx2 - vx1) * (vy2 - vy1):
            return None
        return x1, y1, x2, y2

    def detect(self, image: np.ndarray, region: tuple[int, int, int, int]):
        """The detections inside ``region`` of ``image`` (frame px), less those its edge cuts."""
        from detectors.region import Region, RegionDetector, edge_contact

        d = RegionDetector(self.detector, Region(*region), self.frame_size).detect([image])[0]
        x1, y1, x2, y2 = region
        vx1, vy1, vx2, vy2 = self.view
        inner = np.array([x1 > vx1, y1 > vy1, x2 < vx2, y2 < vy2])  # the region's edges inside the view
        return d.filter(~(edge_contact(d.xyxy, region, self.settings.edge_px) & inner).any(axis=1))

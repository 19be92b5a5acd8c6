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
    """How :class:`LocalDetection` sizes its window.

    Attributes:
        pad_frac: each needing track's box grows by this share of its width / height per side
            (a new track's Kalman velocity is zero: the vehicle may have moved on); the window
            then grows to the model stride's grid.
        min_pad_frac: and by at least this share of the view's width per side (a car entering
            at the frame's edge shows a narrow box but moves 10-20 px a frame at 720p: with half
            its box as the only margin, one on `amber-turn` seed 7 left the window, lost its new
            track and was confirmed three frames late).
        max_view_share: a window larger than this share of the view is not worth cutting:
            the whole view is detected instead.
        context_px: network-input px of road added around the window on every side, beyond the
            grid: the network needs a vehicle's surroundings to find it, and a window that ends
            close to it (zero padding where the whole view has road) loses small ones. Measured
            on the two samples (every 15th frame, each whole-view box alone as the need):
            found again 0.96 by day and 0.86 at night with 0, 0.96 / 0.97 with 32, 0.98 / 1.00
            with 64 at 22 % of the view's input area (docs/performance.md).
        edge_px: a box within this many frame px of the window's edge (where that edge is not
            the view's) is cut by it and dropped.
    """

    pad_frac: float = 1.0
    min_pad_frac: float = 0.04
    max_view_share: float = 0.4
    context_px: int = 64
    edge_px: float = 4.0

    def __post_init__(self) -> None:
        if self.pad_frac < 0 or self.min_pad_frac < 0 or self.edge_px < 0 or self.context_px < 0:
            raise ValueError(f"pad_frac, min_pad_frac, context_px, edge_px: expected >= 0, got {self}")
        if not 0 < self.max_view_share <= 1:
            raise ValueError(f"max_view_share: expected 0 < share <= 1, got {self.max_view_share}")


@dataclass(frozen=True)
class LocalWindow:
    """Where a local detection looks.

    Attributes:
        canvas: (u1, v1, u2, v2) px of the view's network input (its letterbox canvas), each on
            the model stride's grid.
        frame: (x1, y1, x2, y2) px of the frame that window covers, inside the view.
    """

    canvas: tuple[int, int, int, int]
    frame: tuple[float, float, float, float]


class LocalDetection:
    """A forced frame detected only around the tracks that forced it.

    Between whole-view detections (every ``stride`` frames) a frame is forced when a track is new,
    young or just lost (:meth:`pipeline.tracking.RoadTracker.needs_detection`); the other vehicles
    are followed by optical flow on that frame anyway. So the detector looks only at a window
    around the needing tracks' boxes (grown over any other track box it would cut), and the
    tracker associates only the tracks inside it
    (:meth:`pipeline.tracking.RoadTracker.local_update`).

    The window is cut out of the network input the whole view would get (its letterbox canvas:
    same scale, same grey border), on the model's stride grid. So the network sees a vehicle
    in it with the same pixels, at the same position in its 32 px cells and anchors, as in the
    whole view; only the surroundings beyond the window are missing. (A crop letterboxed on its
    own gets another scale, rounded to its own stride-aligned size, another cell offset and a
    grey border where the view has road: on the far-side suite a small pedestrian at night then
    went unseen on forced frames and a yield case was lost.)

    Args:
        detector: a detector with dynamic input height/width (the onnx backend), or a
            ``RegionDetector`` on one: its region is the view and its input size the scale.
        view: (x1, y1, x2, y2) px the detector's whole-view detections cover.
        frame_size: (w, h) px of the frames.
    """

    def __init__(self, detector, view: tuple[int, int, int, int], frame_size: tuple[int, int],
                 settings: LocalSettings | None = None) -> None:
        from detectors.boxes import Letterbox

        inner = getattr(detector, "inner", detector)
        if not self.supported(detector):
            raise ValueError(
                f"detector: local detection needs dynamic input height/width, got {type(inner).__name__}"
            )
        self.detector = inner
        self.view = tuple(int(v) for v in view)
        self.frame_size = (int(frame_size[0]), int(frame_size[1]))
        self.settings = settings or LocalSettings()
        vx1, vy1, vx2, vy2 = self.view
        if not (0 <= vx1 < vx2 <= self.frame_size[0] and 0 <= vy1 < vy2 <= self.frame_size[1]):
            raise ValueError(f"view: expected inside the {self.frame_size[0]}x{self.frame_size[1]} frame, got {self.view}")
        self.input_size = int(getattr(detector, "input_size", inner.input_size))
        canvas = inner.canvas_for(vx2 - vx1, vy2 - vy1, self.input_size)
        #: the view's letterbox, exactly as a whole-view detection makes it
        self.box = Letterbox.fit(vx2 - vx1, vy2 - vy1, self.input_size, canvas)

    @staticmethod
    def supported(detector) -> bool:
        """Whether ``detector`` (or a ``RegionDetector``'s inner one) can detect in any crop."""
        return bool(getattr(getattr(detector, "inner", detector), "dynamic_hw", False))

    def window(self, needing: np.ndarray, others: np.ndarray) -> LocalWindow | None:
        """The window to detect in, or None to detect the whole view.

        Args:
            needing: (N, 4) px boxes of the tracks that forced the frame.
            others: (M, 4) px boxes of every live track: one the window would cut is taken in whole.
        """
        s = self.settings
        if len(needing) == 0:
            return None
        size = np.stack([needing[:, 2] - needing[:, 0], needing[:, 3] - needing[:, 1]], axis=1)
        pad = np.maximum(s.min_pad_frac * (self.view[2] - self.view[0]), s.pad_frac * size)
        r = np.array([*(needing[:, :2] - pad).min(axis=0), *(needing[:, 2:] + pad).max(axis=0)])
        others = np.asarray(others, np.float64).reshape(-1, 4)
        win = self._on_grid(r)
        for _ in range(4):
            f = win.frame
            overlap = (others[:, 0] < f[2]) & (others[:, 2] > f[0]) & (others[:, 1] < f[3]) & (others[:, 3] > f[1])
            cut = overlap & ((others[:, 0] < f[0]) | (others[:, 1] < f[1]) | (others[:, 2] > f[2]) | (others[:, 3] > f[3]))
            if not cut.any():
                break
            r = np.array([min(r[0], others[cut, 0].min()), min(r[1], others[cut, 1].min()),
                          max(r[2], others[cut, 2].max()), max(r[3], others[cut, 3].max())])
            win = self._on_grid(r)
        u1, v1, u2, v2 = win.canvas
        b = self.box
        seen = max(0, min(u2, b.pad_left + b.resized_w) - max(u1, b.pad_left)) * max(
            0, min(v2, b.pad_top + b.resized_h) - max(v1, b.pad_top))
        if u2 <= u1 or v2 <= v1 or seen > s.max_view_share * b.resized_w * b.resized_h:
            return None
        return win

    def _on_grid(self, r: np.ndarray) -> LocalWindow:
        """The stride-aligned canvas window holding frame rectangle ``r`` (x1, y1, x2, y2 px)."""
        b, step, m = self.box, self.detector.stride, self.settings.context_px
        vx1, vy1 = self.view[:2]
        i1, j1, i2, j2 = b.to_input(np.asarray(r, np.float64) - [vx1, vy1, vx1, vy1])[0]
        u1, v1 = max(0, int(np.floor((i1 - m) / step)) * step), max(0, int(np.floor((j1 - m) / step)) * step)
        u2 = min(b.canvas_w, int(np.ceil((i2 + m) / step)) * step)
        v2 = min(b.canvas_h, int(np.ceil((j2 + m) / step)) * step)
        return self.window_at((u1, v1, u2, v2))

    def window_at(self, canvas: tuple[int, int, int, int]) -> LocalWindow:
        """The window of the view's input rectangle ``canvas`` (u1, v1, u2, v2 px, on the grid)."""
        b, step = self.box, self.detector.stride
        vx1, vy1 = self.view[:2]
        u1, v1, u2, v2 = (int(c) for c in canvas)
        if any(c % step for c in (u1, v1, u2, v2)) or not (0 <= u1 < u2 <= b.canvas_w and 0 <= v1 < v2 <= b.canvas_h):
            raise ValueError(f"canvas: expected a rectangle of the {b.canvas_w}x{b.canvas_h} input on the {step} px grid, got {canvas}")
        x1, y1, x2, y2 = b.to_frame(np.array([u1, v1, u2, v2], np.float64))[0]  # clipped to the view
        return LocalWindow((u1, v1, u2, v2), (float(x1) + vx1, float(y1) + vy1, float(x2) + vx1, float(y2) + vy1))

    def detect(self, image: np.ndarray, window: LocalWindow):
        """The detections inside ``window`` of ``image`` (frame px), less those its edge cuts."""
        from dataclasses import replace

        from detectors.base import Detections, check_frame
        from detectors.onnx_yolo import letterbox
        from detectors.region import edge_contact

        check_frame(0, image)
        if (image.shape[1], image.shape[0]) != self.frame_size:
            raise ValueError(f"image: expected {self.frame_size[0]}x{self.frame_size[1]} px, got {image.shape[1]}x{image.shape[0]}")
        vx1, vy1, vx2, vy2 = self.view
        b = self.box
        canvas, _ = letterbox(image[vy1:vy2, vx1:vx2], self.input_size, (b.canvas_w, b.canvas_h))
        u1, v1, u2, v2 = window.canvas
        box = replace(b, pad_left=b.pad_left - u1, pad_top=b.pad_top - v1, canvas_w=u2 - u1, canvas_h=v2 - v1)
        d = self.detector.detect_letterboxed([canvas[v1:v2, u1:u2]], [box])[0]
        d = Detections(d.xyxy + np.array([vx1, vy1, vx1, vy1], np.float32), d.confidence, d.class_id, d.class_names)
        x1, y1, x2, y2 = window.frame
        inner = np.array([x1 > vx1, y1 > vy1, x2 < vx2, y2 < vy2])  # the window's edges inside the view
        return d.filter(~(edge_contact(d.xyxy, window.frame, self.settings.edge_px) & inner).any(axis=1))

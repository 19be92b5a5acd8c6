"""Detection cropped to a camera's region of interest, at the full frame's scale.

A road camera's lanes, lines and zones rarely fill the frame (sky, buildings, the far kerb).
Detecting only in their bounding rectangle, padded so a vehicle standing in a lane fits whole,
makes the network input smaller without making anything in it smaller: the crop is letterboxed
at the scale the whole frame would get, so a far car keeps its size in px and the detector
sees exactly what it saw before, only less of the surroundings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from detectors.base import Detections, Detector, check_frame


@dataclass(frozen=True)
class Region:
    """A rectangle of a frame, px, half-open: columns ``x1 <= x < x2``, rows ``y1 <= y < y2``."""

    x1: int
    y1: int
    x2: int
    y2: int

    def __post_init__(self) -> None:
        if not (0 <= self.x1 < self.x2 and 0 <= self.y1 < self.y2):
            raise ValueError(f"region: expected 0 <= x1 < x2 and 0 <= y1 < y2 px, got {self}")

    @property
    def width(self) -> int:
        return self.x2 - self.x1

    @property
    def height(self) -> int:
        return self.y2 - self.y1

    def area_fraction(self, frame_w: int, frame_h: int) -> float:
        """Share of a ``frame_w`` x ``frame_h`` frame the region covers."""
        return self.width * self.height / float(frame_w * frame_h)

    @classmethod
    def full(cls, frame_w: int, frame_h: int) -> Region:
        return cls(0, 0, frame_w, frame_h)


def region_of_interest(
    polygons: Sequence[np.ndarray], frame_w: int, frame_h: int, pad_px: float
) -> Region:
    """The bounding rectangle of ``polygons`` grown by ``pad_px`` on every side, inside the frame.

    Args:
        polygons: (K, 2) px point arrays (lanes, zones, lines of the camera config).
        frame_w, frame_h: frame size px.
        pad_px: margin px, so a vehicle whose ground contact is in a polygon fits whole (its
            body rises above and leans beside its footprint).

    Returns:
        The region; the whole frame when ``polygons`` is empty.

    Raises:
        ValueError: a negative pad, a bad polygon, or polygons wholly outside the frame.
    """
    if pad_px < 0:
        raise ValueError(f"pad_px: expected >= 0, got {pad_px}")
    if frame_w <= 0 or frame_h <= 0:
        raise ValueError(f"frame size: expected positive px, got {frame_w}x{frame_h}")
    points = [np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in polygons]
    if not points:
        return Region.full(frame_w, frame_h)
    allp = np.concatenate(points)
    if not np.isfinite(allp).all():
        raise ValueError("polygons: expected finite px coordinates")
    x1 = max(0, math.floor(allp[:, 0].min() - pad_px))
    y1 = max(0, math.floor(allp[:, 1].min() - pad_px))
    x2 = min(frame_w, math.ceil(allp[:, 0].max() + pad_px))
    y2 = min(frame_h, math.ceil(allp[:, 1].max() + pad_px))
    if x2 <= x1 or y2 <= y1:
        raise ValueError(
            f"polygons: their bounding box {allp.min(axis=0)}..{allp.max(axis=0)} px lies outside "
            f"the {frame_w}x{frame_h} frame"
        )
    return Region(x1, y1, x2, y2)


def edge_contact(xyxy: np.ndarray, rect: Sequence[float], margin_px: float) -> np.ndarray:
    """(N, 4) bool: whether each box reaches within ``margin_px`` of ``rect``'s left, top, right
    and bottom edge (x1, y1, x2, y2 px): a box cut there by a crop or the view."""
    x1, y1, x2, y2 = rect
    return np.stack([xyxy[:, 0] <= x1 + margin_px, xyxy[:, 1] <= y1 + margin_px,
                     xyxy[:, 2] >= x2 - margin_px, xyxy[:, 3] >= y2 - margin_px], axis=1)


def crop_input_size(region: Region, frame_w: int, frame_h: int, input_size: int, stride: int) -> int:
    """The letterbox size that gives a ``region`` crop the whole frame's scale (or a little more).

    The frame is scaled by ``input_size / max(frame_w, frame_h)``; the crop's longest side times
    that scale, rounded up to the model's stride, is the crop's letterbox size.
    """
    scale = input_size / max(frame_w, frame_h)
    side = max(region.width, region.height) * scale
    return max(stride, int(math.ceil(side / stride - 1e-9)) * stride)


class RegionDetector:
    """Runs a detector on a fixed region of every frame at the full frame's scale.

    Args:
        detector: a detector whose ``detect`` takes an ``input_size`` keyword and whose input
            height/width are dynamic (:class:`detectors.onnx_yolo.OnnxYoloDetector` with a
            dynamic model); its ``input_size`` and ``stride`` set the scale.
        region: the rectangle detected in, px of the frames.
        frame_size: (w, h) px of the frames this detector will be given.

    Boxes come back in frame px. A vehicle cut by the region's edge gets a cut box, as one cut
    by the frame's edge does; the tracker marks boxes touching ``region`` as not measurable
    (:class:`pipeline.tracking.RoadTracker` ``view_px``).

    Raises:
        ValueError: the detector cannot letterbox crops at another size, or the region does not
            fit the frame.
    """

    def __init__(self, detector: Detector, region: Region, frame_size: tuple[int, int]) -> None:
        if not getattr(detector, "dynamic_hw", False):
            raise ValueError(
                "detector: region cropping needs a detector with dynamic input height/width "
                f"(the onnx backend on a dynamic model), got {type(detector).__name__}"
            )
        w, h = frame_size
        if region.x2 > w or region.y2 > h:
            raise ValueError(f"region: {region} does not fit a {w}x{h} frame")
        self.inner = detector
        self.region = region
        self.frame_size = (int(w), int(h))
        self.class_names = detector.class_names
        self.input_size = crop_input_size(region, w, h, detector.input_size, detector.stride)

    def canvas(self) -> tuple[int, int]:
        """(w, h) px of the network input each crop is letterboxed onto."""
        return self.inner.canvas_for(self.region.width, self.region.height, self.input_size)

    def detect(self, frames: Sequence[np.ndarray]) -> list[Detections]:
        """Detect inside the region of each frame (one inner call for the whole batch)."""
        r = self.region
        crops = []
        for i, frame in enumerate(frames):
            check_frame(i, frame)
            if frame.shape[1] != self.frame_size[0] or frame.shape[0] != self.frame_size[1]:
                raise ValueError(
                    f"frames[{i}]: expected {self.frame_size[0]}x{self.frame_size[1]} px (the "
                    f"region's frame), got {frame.shape[1]}x{frame.shape[0]}"
                )
            crops.append(frame[r.y1 : r.y2, r.x1 : r.x2])
        out = []
        offset = np.array([r.x1, r.y1, r.x1, r.y1], dtype=np.float32)
        for d in self.inner.detect(crops, input_size=self.input_size):
            out.append(Detections(d.xyxy + offset, d.confidence, d.class_id, d.class_names))
        return out

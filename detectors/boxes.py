"""Pure box geometry: IoU, non-maximum suppression and the letterbox transform.

Everything here takes and returns numpy arrays; no I/O, no cv2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise intersection over union.

    Args:
        a: (N, 4) boxes xyxy px.
        b: (M, 4) boxes xyxy px.

    Returns:
        (N, M) float IoU in [0, 1]; 0 where a box has no area.
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    area_a = (a[:, 2] - a[:, 0]).clip(0) * (a[:, 3] - a[:, 1]).clip(0)
    area_b = (b[:, 2] - b[:, 0]).clip(0) * (b[:, 3] - b[:, 1]).clip(0)
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (bottom_right - top_left).clip(0).prod(axis=2)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def nms(
    xyxy: np.ndarray,
    scores: np.ndarray,
    class_id: np.ndarray | None = None,
    iou_threshold: float = 0.5,
    max_detections: int = 300,
) -> np.ndarray:
    """Greedy non-maximum suppression, per class when ``class_id`` is given.

    A box is dropped when it overlaps a higher-scoring kept box of the same class by IoU >
    ``iou_threshold``. Classes are kept apart by shifting each class's boxes to its own region
    of the plane (the torchvision ``batched_nms`` trick), so one pass handles all classes.

    Args:
        xyxy: (N, 4) boxes px.
        scores: (N,) scores.
        class_id: (N,) integer classes, or None for class-agnostic suppression.
        iou_threshold: overlap above which the lower-scoring box is suppressed.
        max_detections: keep at most this many boxes.

    Returns:
        (K,) int64 indices into the inputs, highest score first.
    """
    xyxy = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if scores.shape[0] != xyxy.shape[0]:
        raise ValueError(f"scores: expected ({xyxy.shape[0]},) to match xyxy, got {scores.shape}")
    if xyxy.shape[0] == 0:
        return np.zeros((0,), dtype=np.int64)
    if class_id is not None:
        class_id = np.asarray(class_id).reshape(-1)
        if class_id.shape[0] != xyxy.shape[0]:
            raise ValueError(
                f"class_id: expected ({xyxy.shape[0]},) to match xyxy, got {class_id.shape}"
            )
        span = float(np.abs(xyxy).max()) * 2.0 + 1.0
        xyxy = xyxy + (class_id.astype(np.float64) * span)[:, None]
    areas = (xyxy[:, 2] - xyxy[:, 0]).clip(0) * (xyxy[:, 3] - xyxy[:, 1]).clip(0)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size and len(keep) < max_detections:
        best, rest = order[0], order[1:]
        keep.append(int(best))
        top_left = np.maximum(xyxy[best, :2], xyxy[rest, :2])
        bottom_right = np.minimum(xyxy[best, 2:], xyxy[rest, 2:])
        inter = (bottom_right - top_left).clip(0).prod(axis=1)
        union = areas[best] + areas[rest] - inter
        iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def stride_canvas(resized_w: int, resized_h: int, stride: int) -> tuple[int, int]:
    """The smallest canvas (w, h) px with both sides multiples of ``stride`` that holds a
    ``resized_w`` x ``resized_h`` image (YOLOv5 ``letterbox(auto=True)``: 640x360 -> 640x384)."""
    if stride <= 0:
        raise ValueError(f"stride: expected a positive number of px, got {stride}")
    return -(-resized_w // stride) * stride, -(-resized_h // stride) * stride


@dataclass(frozen=True)
class Letterbox:
    """How a frame was fitted into a network input (YOLOv5 ``letterbox``).

    The frame is scaled by ``scale`` (aspect kept, longest side to ``size``) to ``resized_w`` x
    ``resized_h`` px and pasted, centred, at (``pad_left``, ``pad_top``) on a ``canvas_w`` x
    ``canvas_h`` canvas filled with grey 114. The canvas is the ``size`` square unless another
    rectangle was asked for (models with dynamic input height/width).
    """

    frame_w: int
    frame_h: int
    size: int
    scale: float
    resized_w: int
    resized_h: int
    pad_left: int
    pad_top: int
    canvas_w: int = -1
    canvas_h: int = -1

    def __post_init__(self) -> None:
        # -1: the square canvas of the original (square-only) contract.
        if self.canvas_w == -1:
            object.__setattr__(self, "canvas_w", self.size)
        if self.canvas_h == -1:
            object.__setattr__(self, "canvas_h", self.size)

    @classmethod
    def fit(
        cls, frame_w: int, frame_h: int, size: int, canvas: tuple[int, int] | None = None
    ) -> Letterbox:
        """The letterbox for a ``frame_w`` x ``frame_h`` px frame scaled to fit ``size`` px.

        Args:
            frame_w: frame width px.
            frame_h: frame height px.
            size: the longest side of the scaled frame px (network input size).
            canvas: (w, h) px of the input canvas, each >= the scaled frame; None for the
                ``size`` x ``size`` square.
        """
        if frame_w <= 0 or frame_h <= 0 or size <= 0:
            raise ValueError(
                f"expected positive frame and input sizes, got frame {frame_w}x{frame_h} "
                f"input {size}"
            )
        scale = min(size / frame_w, size / frame_h)
        resized_w = min(size, max(1, int(round(frame_w * scale))))
        resized_h = min(size, max(1, int(round(frame_h * scale))))
        canvas_w, canvas_h = canvas if canvas is not None else (size, size)
        if not (resized_w <= canvas_w and resized_h <= canvas_h):
            raise ValueError(
                f"canvas: expected at least the scaled frame {resized_w}x{resized_h} px, "
                f"got {canvas_w}x{canvas_h}"
            )
        # Same rounding as YOLOv5: the odd pixel of padding goes right/bottom.
        pad_left = int(round((canvas_w - resized_w) / 2 - 0.1))
        pad_top = int(round((canvas_h - resized_h) / 2 - 0.1))
        return cls(
            frame_w,
            frame_h,
            size,
            scale,
            resized_w,
            resized_h,
            pad_left,
            pad_top,
            canvas_w,
            canvas_h,
        )

    @classmethod
    def fit_rect(
        cls, frame_w: int, frame_h: int, size: int, stride: int = 32, border: int = 0
    ) -> Letterbox:
        """The letterbox onto the smallest ``stride``-aligned canvas holding the scaled frame
        plus ``border`` px of grey on every side, for models with dynamic input height/width.

        With ``border`` 0, 1920x1080 at ``size`` 640 goes onto a 640x384 canvas (12 px of grey
        above and below); with ``border`` 32, onto 704x448. The scale is the square letterbox's
        either way, so objects keep their size in px.
        """
        if border < 0:
            raise ValueError(f"border: expected >= 0 px, got {border}")
        probe = cls.fit(frame_w, frame_h, size)
        canvas = stride_canvas(probe.resized_w + 2 * border, probe.resized_h + 2 * border, stride)
        return cls.fit(frame_w, frame_h, size, canvas)

    def to_input(self, xyxy: np.ndarray) -> np.ndarray:
        """Frame px (N, 4) -> network input px (N, 4)."""
        xyxy = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4)
        sx = self.resized_w / self.frame_w
        sy = self.resized_h / self.frame_h
        out = xyxy * np.array([sx, sy, sx, sy], dtype=np.float32)
        return out + np.array([self.pad_left, self.pad_top] * 2, dtype=np.float32)

    def to_frame(self, xyxy: np.ndarray) -> np.ndarray:
        """Network input px (N, 4) -> frame px (N, 4) float32, clipped to the frame."""
        xyxy = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4)
        # Per-axis scale of the actual resize, so rounding of the resized size is undone exactly.
        sx = self.resized_w / self.frame_w
        sy = self.resized_h / self.frame_h
        out = xyxy - np.array([self.pad_left, self.pad_top] * 2, dtype=np.float32)
        out = out / np.array([sx, sy, sx, sy], dtype=np.float32)
        limits = np.array([self.frame_w, self.frame_h] * 2, dtype=np.float32)
        return np.clip(out, 0.0, limits).astype(np.float32)

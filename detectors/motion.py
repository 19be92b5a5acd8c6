"""Model-free moving-object detector: background subtraction, morphology, connected components.

For cameras where no model is available or allowed, and as a cheap first stage. Each frame is
shrunk to a working width (so thresholds mean the same at 720p and 1080p), fed to OpenCV's MOG2
background model, shadows are dropped, the mask is opened (removes noise specks) and closed
(joins the pieces of one vehicle), and each connected blob of enough area becomes a box.

The detector keeps state: the background model of ONE stream. Frames passed to :meth:`detect`,
call after call, must be consecutive frames of one camera; use one instance per camera. Given the
same frames in the same order it returns the same boxes (MOG2, morphology and labelling are
deterministic). A change of frame size starts a new background model.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import cv2
import numpy as np

from detectors.base import Detections, check_frame
from detectors.imageops import shrink

logger = logging.getLogger(__name__)

#: MOG2 marks shadow pixels with this value (foreground is 255).
_SHADOW = 127


class MotionDetector:
    """Boxes around moving blobs of one video stream, all labelled ``class_name``.

    Args:
        class_name: the one class of every box ("car" so the pipeline treats it as a vehicle;
            "vehicle" if the caller wants to keep it apart from model classes).
        work_width_px: frames wider than this are shrunk to it first (speed, and
            resolution-independent thresholds); boxes are scaled back to frame px.
        history_frames: MOG2 background history, frames.
        var_threshold: MOG2 squared Mahalanobis distance for foreground (OpenCV default 16).
        detect_shadows: let MOG2 mark shadows, which are then dropped (cast shadows otherwise
            merge neighbouring vehicles into one blob).
        open_px: opening kernel side at the working width, px (removes specks).
        close_px: closing kernel side at the working width, px (joins a vehicle's pieces).
        min_area_frac: smallest blob kept, as a fraction of the frame area.
        max_area_frac: blobs larger than this fraction of the frame are dropped (a global light
            change or a camera shake, not a vehicle).
        warmup_frames: frames after a (re)start during which no boxes are returned while the
            background is learnt fast (OpenCV's automatic rate, 1/(2n) at frame n; the first
            frame is all "foreground").
        learning_rate: background update rate after the warm-up; None for 1/``history_frames``.
            A fixed slow rate matters: at OpenCV's fast early rates a uniform part of a vehicle
            (a roof) that stays on the same pixels for a few frames joins the background and
            the vehicle breaks into pieces. The price: anything still for ~(0.1 / rate) frames
            (50 frames = 2 s at 25 fps with the defaults), a car waiting at a red light
            included, fades into the background; use a model detector for stopped vehicles.

    Raises:
        ValueError: a bad option.
    """

    def __init__(
        self,
        *,
        class_name: str = "car",
        work_width_px: int = 640,
        history_frames: int = 500,
        var_threshold: float = 16.0,
        detect_shadows: bool = True,
        open_px: int = 3,
        close_px: int = 9,
        min_area_frac: float = 0.0005,
        max_area_frac: float = 0.5,
        warmup_frames: int = 25,
        learning_rate: float | None = None,
    ) -> None:
        if not isinstance(class_name, str) or not class_name:
            raise ValueError(f"class_name: expected a non-empty string, got {class_name!r}")
        if work_width_px < 64:
            raise ValueError(f"work_width_px: expected >= 64, got {work_width_px}")
        if history_frames < 1:
            raise ValueError(f"history_frames: expected >= 1, got {history_frames}")
        if var_threshold <= 0:
            raise ValueError(f"var_threshold: expected > 0, got {var_threshold}")
        if open_px < 1 or close_px < 1:
            raise ValueError(f"open_px, close_px: expected >= 1 px, got {open_px}, {close_px}")
        if not 0.0 <= min_area_frac < max_area_frac <= 1.0:
            raise ValueError(
                "min_area_frac, max_area_frac: expected 0 <= min < max <= 1, "
                f"got {min_area_frac}, {max_area_frac}"
            )
        if warmup_frames < 0:
            raise ValueError(f"warmup_frames: expected >= 0, got {warmup_frames}")
        if learning_rate is not None and not 0.0 < learning_rate <= 1.0:
            raise ValueError(
                f"learning_rate: expected a value in (0, 1] or None, got {learning_rate}"
            )
        self.class_names: tuple[str, ...] = (class_name,)
        # Background subtraction learns from consecutive frames: the pipeline's detection
        # schedule (stride, motion gate) must give it every frame.
        self.needs_every_frame = True
        self.work_width_px = int(work_width_px)
        self.history_frames = int(history_frames)
        self.var_threshold = float(var_threshold)
        self.detect_shadows = bool(detect_shadows)
        self.min_area_frac = float(min_area_frac)
        self.max_area_frac = float(max_area_frac)
        self.warmup_frames = int(warmup_frames)
        self.learning_rate = (
            float(learning_rate) if learning_rate is not None else 1.0 / history_frames
        )
        self._open = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (open_px, open_px))
        self._close = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (close_px, close_px))
        self._subtractor: cv2.BackgroundSubtractorMOG2 | None = None
        self._frame_size: tuple[int, int] | None = None
        self._frames_seen = 0

    def reset(self) -> None:
        """Forget the background: the next frame starts a new model (e.g. another camera)."""
        self._subtractor = None
        self._frame_size = None
        self._frames_seen = 0

    def _start(self, size: tuple[int, int]) -> cv2.BackgroundSubtractorMOG2:
        if self._frame_size is not None:
            logger.warning(
                "frame size changed from=%s to=%s; restarting the background model",
                self._frame_size,
                size,
            )
        self._subtractor = cv2.createBackgroundSubtractorMOG2(
            history=self.history_frames,
            varThreshold=self.var_threshold,
            detectShadows=self.detect_shadows,
        )
        self._frame_size = size
        self._frames_seen = 0
        return self._subtractor

    def foreground_mask(self, frame: np.ndarray) -> tuple[np.ndarray, float]:
        """Update the background with one frame; the cleaned foreground mask and its scale.

        Returns:
            (h, w) uint8 mask (255 = moving) at the working size, and working px per frame px.
        """
        height, width = frame.shape[:2]
        subtractor = self._subtractor
        if subtractor is None or self._frame_size != (width, height):
            subtractor = self._start((width, height))
        scale = min(1.0, self.work_width_px / width)
        small = (
            shrink(frame, (max(1, round(width * scale)), max(1, round(height * scale))))
            if scale < 1.0
            else frame
        )
        rate = -1.0 if self._frames_seen < self.warmup_frames else self.learning_rate
        mask = subtractor.apply(small, learningRate=rate)
        self._frames_seen += 1
        mask[mask == _SHADOW] = 0
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, self._open)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, self._close)
        return mask, scale

    def detect(self, frames: Sequence[np.ndarray]) -> list[Detections]:
        """Boxes of the moving blobs in each frame; frames are consecutive frames of one stream.

        Confidence is the blob's share of its box (a solid vehicle fills most of its box; a
        ragged noise blob does not).

        Returns:
            One :class:`Detections` per frame, boxes in that frame's px.
        """
        results = []
        for i, frame in enumerate(frames):
            check_frame(i, frame)
            mask, scale = self.foreground_mask(frame)
            if self._frames_seen <= self.warmup_frames:
                results.append(Detections.empty(self.class_names))
                continue
            results.append(self._boxes(mask, scale, frame.shape[1], frame.shape[0]))
        return results

    def _boxes(self, mask: np.ndarray, scale: float, width: int, height: int) -> Detections:
        count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        area_px = mask.shape[0] * mask.shape[1]
        blob_area = stats[1:, cv2.CC_STAT_AREA].astype(np.float64)
        keep = (blob_area >= self.min_area_frac * area_px) & (
            blob_area <= self.max_area_frac * area_px
        )
        stats, blob_area = stats[1:][keep], blob_area[keep]
        if len(stats) == 0:
            return Detections.empty(self.class_names)
        x, y = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
        w, h = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
        xyxy = np.stack([x, y, x + w, y + h], axis=1).astype(np.float64) / scale
        xyxy = np.clip(xyxy, 0, [width, height, width, height]).astype(np.float32)
        confidence = np.clip(blob_area / (w * h), 0.0, 1.0).astype(np.float32)
        order = np.lexsort((xyxy[:, 0], -confidence))  # stable order: confidence, then left edge
        return Detections(
            xyxy=xyxy[order],
            confidence=confidence[order],
            class_id=np.zeros(len(order), np.int32),
            class_names=self.class_names,
        )

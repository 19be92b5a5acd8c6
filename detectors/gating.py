"""Motion gating: tell a frame in which nothing moved from the last detected one, cheaply.

The frame (or its region of interest) is shrunk to a small grey image, blurred, and compared
with the same image of the last frame the detector saw. If fewer than ``min_changed_px`` of its
pixels changed by more than ``threshold`` grey levels, nothing in view moved: the detector
would find the same boxes, so the frame can be skipped (the tracker predicts it). Comparing with
the last *detected* frame, not the previous one, means slow motion adds up until it shows: a
vehicle creeping 0.2 px a frame is caught after a few frames, never lost.

Measured 2.0 ms of CPU a 1280x720 frame (whole frame) on the shared 2-core machine at load
average ~30, where the detector took ~65 ms; less on a quiet core.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from detectors.base import check_bgr_image
from detectors.imageops import shrink
from detectors.region import Region


@dataclass(frozen=True)
class GateSettings:
    """Thresholds of :class:`MotionGate`.

    Attributes:
        work_width_px: width the region is shrunk to before comparing (height keeps aspect).
        threshold: grey-level change (0..255) of a small-image pixel that counts as changed;
            above video compression noise (measured 2-4 levels on H.264 scenes), below the
            edge of a moving car (>= 15 levels even at night).
        min_changed_px: changed small-image pixels that mean motion. 3 px at 320 wide is a
            4x4 full-size px patch per pixel at 1280x720: a far motorcycle moving shows more.
        blur_px: Gaussian kernel side on the small image (odd), against pixel noise.
    """

    work_width_px: int = 320
    threshold: int = 12
    min_changed_px: int = 3
    blur_px: int = 3

    def __post_init__(self) -> None:
        if self.work_width_px < 16:
            raise ValueError(f"work_width_px: expected >= 16, got {self.work_width_px}")
        if not 1 <= self.threshold <= 254:
            raise ValueError(f"threshold: expected 1..254 grey levels, got {self.threshold}")
        if self.min_changed_px < 1:
            raise ValueError(f"min_changed_px: expected >= 1, got {self.min_changed_px}")
        if self.blur_px < 1 or self.blur_px % 2 == 0:
            raise ValueError(f"blur_px: expected an odd number >= 1, got {self.blur_px}")


class MotionGate:
    """Compares frames of one camera with the last frame that was detected.

    Args:
        region: the part of the frame that matters (the detector's region); None for all.
        settings: thresholds.

    Stateful: one gate per camera; :meth:`reference` after every detected frame.
    """

    def __init__(self, region: Region | None = None, settings: GateSettings | None = None) -> None:
        self.region = region
        self.settings = settings or GateSettings()
        self._reference: np.ndarray | None = None
        self.frames_compared = 0
        self.frames_static = 0
        #: Optional: a BGR frame -> a grey image of ``region`` (any size from ``work_width_px``
        #: wide), already made for another use (the optical flow's working image,
        #: :meth:`pipeline.flow.BoxFlow.grey`): the gate then only shrinks that further, where
        #: shrinking the colour region itself cost ~3.6 ms CPU a 1080p frame.
        self.grey_view: Callable[[np.ndarray], np.ndarray] | None = None

    def _small(self, image: np.ndarray) -> np.ndarray:
        check_bgr_image(image, "image")
        r = self.region
        if r is not None and (r.x2 > image.shape[1] or r.y2 > image.shape[0]):
            raise ValueError(
                f"image: {image.shape[1]}x{image.shape[0]} px is smaller than the gate's region {r}"
            )
        if self.grey_view is not None:
            grey = self._shrunk(self.grey_view(image))
        else:
            if r is not None:
                image = image[r.y1 : r.y2, r.x1 : r.x2]
            grey = cv2.cvtColor(self._shrunk(image), cv2.COLOR_BGR2GRAY)
        k = self.settings.blur_px
        return cv2.GaussianBlur(grey, (k, k), 0) if k > 1 else grey

    def _shrunk(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        sw = min(w, self.settings.work_width_px)
        return shrink(image, (sw, max(1, int(round(h * sw / w)))))

    def reference(self, image: np.ndarray) -> None:
        """Remember ``image`` as the last frame the detector saw."""
        self._reference = self._small(image)

    def changed_px(self, image: np.ndarray) -> int:
        """Small-image pixels that changed by more than the threshold since the reference."""
        if self._reference is None:
            raise ValueError("no reference frame yet: call reference() with a detected frame first")
        small = self._small(image)
        if small.shape != self._reference.shape:
            raise ValueError(
                f"image: size differs from the reference frame's ({image.shape[1]}x{image.shape[0]} px)"
            )
        diff = cv2.absdiff(small, self._reference)
        return int(np.count_nonzero(diff > self.settings.threshold))

    def moved(self, image: np.ndarray) -> bool:
        """True when something in the region moved since the reference (or there is none)."""
        if self._reference is None:
            return True
        self.frames_compared += 1
        moved = self.changed_px(image) >= self.settings.min_changed_px
        if not moved:
            self.frames_static += 1
        return moved

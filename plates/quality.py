"""How good a view of a plate is: size and sharpness, to pick a track's best frames and weight votes."""

from __future__ import annotations

import cv2
import numpy as np

#: Plate height px at which the size factor saturates (characters ~20 px tall read well).
FULL_HEIGHT_PX = 32.0
#: Laplacian variance (on the 32 px-high grey plate) at which sharpness reaches 1/2.
SHARPNESS_HALF = 150.0


def sharpness(image: np.ndarray, height_px: int = 32) -> float:
    """Variance of the Laplacian of ``image`` scaled to ``height_px`` rows (grey levels^2).

    Scaling first makes a small sharp plate and a large sharp plate score alike, so size and
    focus stay separate factors.
    """
    if image.size == 0:
        return 0.0
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    h, w = grey.shape[:2]
    scale = height_px / max(1, h)
    small = cv2.resize(
        grey, (max(4, round(w * scale)), height_px), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    )
    return float(cv2.Laplacian(small, cv2.CV_32F).var())


def view_quality(height_px: float, sharp: float) -> float:
    """Weight of one view of a plate in (0, 1]: size factor x sharpness factor.

    Args:
        height_px: plate box height in the source image, px.
        sharp: :func:`sharpness` of the plate crop.
    """
    size = float(np.clip(height_px / FULL_HEIGHT_PX, 0.05, 1.0))
    focus = sharp / (sharp + SHARPNESS_HALF) if sharp > 0 else 0.0
    return max(1e-3, size * (0.25 + 0.75 * focus))


def crop_score(image: np.ndarray) -> float:
    """Pre-selection score of a vehicle crop before any plate is found: bigger and sharper first.

    Uses the lower half of the crop (where plates are) for sharpness.
    """
    h = image.shape[0]
    lower = image[h // 2 :]
    return float(image.shape[0] * image.shape[1]) ** 0.5 * (0.25 + 0.75 * min(1.0, sharpness(lower, 64) / 300.0))

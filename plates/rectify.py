"""Plate geometry: cut a plate out with a margin, order its text lines, warp a line upright.

Pure numpy apart from the cv2 warps; no models here.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from plates.types import PlateBox


def crop_plate(image: np.ndarray, box: PlateBox, margin: float = 0.12) -> np.ndarray:
    """The plate box of ``image`` grown by ``margin`` x its height on every side, clipped.

    A margin keeps the edge characters whole when the detector's box is tight; it is relative to
    the height because the detector's error is (px tall plates, few px off).
    """
    h, w = image.shape[:2]
    x1, y1, x2, y2 = box.xyxy
    pad = margin * max(1.0, y2 - y1)
    xa, ya = max(0, int(np.floor(x1 - pad))), max(0, int(np.floor(y1 - pad)))
    xb, yb = min(w, int(np.ceil(x2 + pad))), min(h, int(np.ceil(y2 + pad)))
    if xb - xa < 2 or yb - ya < 2:
        return image[0:0, 0:0]
    return np.ascontiguousarray(image[ya:yb, xa:xb])


def quad_size(quad: np.ndarray) -> tuple[float, float]:
    """(width, height) px of a (4, 2) quadrilateral ordered tl, tr, br, bl."""
    q = np.asarray(quad, dtype=np.float64).reshape(4, 2)
    width = max(np.linalg.norm(q[1] - q[0]), np.linalg.norm(q[2] - q[3]))
    height = max(np.linalg.norm(q[3] - q[0]), np.linalg.norm(q[2] - q[1]))
    return float(width), float(height)


def order_lines(quads: Sequence[np.ndarray], min_height_ratio: float = 0.45) -> list[np.ndarray]:
    """Text boxes of a plate in reading order, small print dropped.

    Args:
        quads: (4, 2) quadrilaterals px, each ordered tl, tr, br, bl.
        min_height_ratio: boxes lower than this share of the tallest are dropped (the "KG"
            caption under the flag is ~0.26 of the main characters; the region code ~0.63).

    Returns:
        The kept quads: rows top to bottom (boxes whose vertical spans overlap by more than 40 %
        of the lower one share a row), left to right within a row.
    """
    if not quads:
        return []
    heights = [quad_size(q)[1] for q in quads]
    tallest = max(heights)
    kept = [
        np.asarray(q, np.float32).reshape(4, 2)
        for q, h in zip(quads, heights, strict=True)
        if h >= min_height_ratio * tallest
    ]
    kept.sort(key=lambda q: float(q[:, 1].mean()))
    rows: list[list[np.ndarray]] = []
    for quad in kept:
        top, bottom = float(quad[:, 1].min()), float(quad[:, 1].max())
        if rows:
            last = rows[-1]
            row_top = min(float(q[:, 1].min()) for q in last)
            row_bottom = max(float(q[:, 1].max()) for q in last)
            overlap = min(bottom, row_bottom) - max(top, row_top)
            if overlap > 0.4 * min(bottom - top, row_bottom - row_top):
                last.append(quad)
                continue
        rows.append([quad])
    return [q for row in rows for q in sorted(row, key=lambda q: float(q[:, 0].min()))]


def warp_quad(image: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """The quadrilateral's content warped to an upright rectangle (perspective rectification)."""
    q = np.asarray(quad, dtype=np.float32).reshape(4, 2)
    width, height = quad_size(q)
    w, h = max(2, int(round(width))), max(2, int(round(height)))
    target = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    m = cv2.getPerspectiveTransform(q, target)
    return cv2.warpPerspective(image, m, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)

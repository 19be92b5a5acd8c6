"""Small pure 2D helpers: polygon clipping, areas, boxes (image px or road metres)."""

from __future__ import annotations

import numpy as np


def polygon_area(poly: np.ndarray) -> float:
    """Unsigned area of a simple polygon (K, 2) by the shoelace formula, squared units."""
    p = np.asarray(poly, dtype=np.float64).reshape(-1, 2)
    if len(p) < 3:
        return 0.0
    x, y = p[:, 0], p[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _clip_half_plane(poly: list[tuple[float, float]], axis: int, bound: float, keep_less: bool) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    n = len(poly)
    for i in range(n):
        cur, prev = poly[i], poly[i - 1]
        cur_in = cur[axis] <= bound if keep_less else cur[axis] >= bound
        prev_in = prev[axis] <= bound if keep_less else prev[axis] >= bound
        if cur_in != prev_in:
            t = (bound - prev[axis]) / (cur[axis] - prev[axis])
            out.append((prev[0] + t * (cur[0] - prev[0]), prev[1] + t * (cur[1] - prev[1])))
        if cur_in:
            out.append(cur)
    return out


def clip_polygon_to_rect(poly: np.ndarray, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    """Clip a polygon (K, 2) to the axis-aligned rectangle [x0, x1] x [y0, y1] (Sutherland-Hodgman).

    Returns:
        (M, 2) clipped polygon; empty (0, 2) when nothing is inside.
    """
    pts = [tuple(map(float, p)) for p in np.asarray(poly, dtype=np.float64).reshape(-1, 2)]
    for axis, bound, less in ((0, x0, False), (0, x1, True), (1, y0, False), (1, y1, True)):
        if not pts:
            break
        pts = _clip_half_plane(pts, axis, bound, less)
    return np.array(pts, dtype=np.float64).reshape(-1, 2)


def clip_segment_to_rect(a: np.ndarray, b: np.ndarray, x0: float, y0: float, x1: float, y1: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Clip segment a-b to a rectangle (Liang-Barsky); None when it misses the rectangle."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    d = b - a
    t0, t1 = 0.0, 1.0
    for p, q in ((-d[0], a[0] - x0), (d[0], x1 - a[0]), (-d[1], a[1] - y0), (d[1], y1 - a[1])):
        if abs(p) < 1e-12:
            if q < 0:
                return None
            continue
        t = q / p
        if p < 0:
            t0 = max(t0, t)
        else:
            t1 = min(t1, t)
        if t0 > t1:
            return None
    return a + t0 * d, a + t1 * d


def bounding_box(points: np.ndarray) -> tuple[float, float, float, float]:
    """Axis-aligned box (x1, y1, x2, y2) of points (N, 2)."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return float(p[:, 0].min()), float(p[:, 1].min()), float(p[:, 0].max()), float(p[:, 1].max())


def point_in_polygon(point: tuple[float, float], poly: np.ndarray) -> bool:
    """Even-odd test of one point against a polygon (K, 2)."""
    x, y = point
    p = np.asarray(poly, dtype=np.float64).reshape(-1, 2)
    inside = False
    n = len(p)
    for i in range(n):
        xa, ya = p[i]
        xb, yb = p[i - 1]
        if (ya > y) != (yb > y):
            xc = xa + (y - ya) * (xb - xa) / (yb - ya)
            if x < xc:
                inside = not inside
    return inside


def box_iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0



def clip_polygon_halfplane(poly: np.ndarray, coeffs: tuple[float, float, float]) -> np.ndarray:
    """Sutherland-Hodgman clip of an (N, 2) polygon to the half-plane a*x + b*y + c >= 0.

    Used for ground polygons reaching behind the camera, which have no image position.
    """
    a_, b_, c_ = coeffs
    out: list[np.ndarray] = []
    n = len(poly)
    for i in range(n):
        a, b = poly[i], poly[(i + 1) % n]
        da, db = a_ * a[0] + b_ * a[1] + c_, a_ * b[0] + b_ * b[1] + c_
        if da >= 0:
            out.append(a)
        if (da >= 0) != (db >= 0):
            out.append(a + (da / (da - db)) * (b - a))
    return np.array(out, dtype=np.float64).reshape(-1, 2)

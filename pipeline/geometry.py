"""Plane geometry: image px <-> road metres through a homography, segments and polygons.

Pure numpy. The homography maps homogeneous image points (x, y, 1) in px to road points
(X, Y, 1) in metres on the ground plane.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _normaliser(points: np.ndarray) -> np.ndarray:
    """Hartley normalisation: centre at the origin, mean distance sqrt(2)."""
    centre = points.mean(axis=0)
    dist = np.sqrt(((points - centre) ** 2).sum(axis=1)).mean()
    scale = np.sqrt(2) / dist if dist > 0 else 1.0
    return np.array([[scale, 0, -scale * centre[0]], [0, scale, -scale * centre[1]], [0, 0, 1]])


def spread_ratio(points: np.ndarray) -> float:
    """Smallest over largest singular value of the centred (N, 2) point set; ~0 when collinear."""
    centred = points - points.mean(axis=0)
    s = np.linalg.svd(centred, compute_uv=False)
    return float(s[-1] / s[0]) if s[0] > 0 else 0.0


def fit_homography(image_px: np.ndarray, road_m: np.ndarray) -> np.ndarray:
    """Least-squares homography (normalised DLT) from >= 4 point pairs.

    Args:
        image_px: (N, 2) image points, px.
        road_m: (N, 2) matching road points, metres.

    Returns:
        (3, 3) matrix H with road ~ H @ image, scaled so H[2, 2] == 1.

    Raises:
        ValueError: fewer than 4 pairs, mismatched shapes or a degenerate (collinear) set.
    """
    image_px = np.asarray(image_px, dtype=np.float64)
    road_m = np.asarray(road_m, dtype=np.float64)
    if image_px.ndim != 2 or image_px.shape[1] != 2 or image_px.shape != road_m.shape:
        raise ValueError(f"expected two (N, 2) arrays of equal shape, got {image_px.shape} and {road_m.shape}")
    if len(image_px) < 4:
        raise ValueError(f"need at least 4 point pairs, got {len(image_px)}")
    for name, pts in (("image", image_px), ("road", road_m)):
        if spread_ratio(pts) < 1e-3:
            raise ValueError(f"the {name} points are (nearly) collinear: a homography is undefined")
    t_img, t_road = _normaliser(image_px), _normaliser(road_m)
    a = to_h(image_px) @ t_img.T
    b = to_h(road_m) @ t_road.T
    rows = []
    for (x, y, w), (u, v, s) in zip(a, b):
        rows.append([0, 0, 0, -s * x, -s * y, -s * w, v * x, v * y, v * w])
        rows.append([s * x, s * y, s * w, 0, 0, 0, -u * x, -u * y, -u * w])
    _, sv, vt = np.linalg.svd(np.asarray(rows))
    h_norm = vt[-1].reshape(3, 3)
    h = np.linalg.inv(t_road) @ h_norm @ t_img
    if abs(h[2, 2]) < 1e-12 or not np.all(np.isfinite(h)):
        raise ValueError("the point pairs give a degenerate homography")
    h = h / h[2, 2]
    if abs(np.linalg.det(h)) < 1e-12:
        raise ValueError("the point pairs give a singular homography")
    return h


def to_h(points: np.ndarray) -> np.ndarray:
    """(N, 2) -> (N, 3) homogeneous coordinates."""
    return np.hstack([points, np.ones((len(points), 1))])


def apply_homography(h: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Map (N, 2) points through ``h``; returns (N, 2). Points at or beyond the horizon give inf."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    mapped = to_h(points) @ h.T
    w = mapped[:, 2:3]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = mapped[:, :2] / w
    out[(np.abs(w[:, 0]) < 1e-12)] = np.inf
    return out


def homography_w(h: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The homogeneous scale of each mapped point; its sign flips across the horizon line."""
    return (to_h(np.asarray(points, dtype=np.float64).reshape(-1, 2)) @ h.T)[:, 2]


def reprojection_rms_m(h: np.ndarray, image_px: np.ndarray, road_m: np.ndarray) -> float:
    """RMS distance, metres, between mapped image points and their road points."""
    mapped = apply_homography(h, image_px)
    return float(np.sqrt(((mapped - np.asarray(road_m)) ** 2).sum(axis=1).mean()))


@dataclass(frozen=True)
class Segment:
    """A directed segment on the road plane, metres."""

    a: tuple[float, float]
    b: tuple[float, float]

    def side(self, points: np.ndarray) -> np.ndarray:
        """Signed side of each (N, 2) point: cross product sign times distance, metres."""
        a = np.asarray(self.a)
        d = np.asarray(self.b) - a
        length = float(np.hypot(*d))
        p = np.asarray(points, dtype=np.float64).reshape(-1, 2) - a
        return (d[0] * p[:, 1] - d[1] * p[:, 0]) / length

    def projection(self, points: np.ndarray) -> np.ndarray:
        """Position of each point's foot along the segment, as a fraction of its length."""
        a = np.asarray(self.a)
        d = np.asarray(self.b) - a
        p = np.asarray(points, dtype=np.float64).reshape(-1, 2) - a
        return (p @ d) / float(d @ d)


def point_in_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Even-odd test of (N, 2) points against an (M, 2) polygon; returns (N,) bool."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    poly = np.asarray(polygon, dtype=np.float64)
    x, y = pts[:, 0:1], pts[:, 1:2]
    x1, y1 = poly[:, 0], poly[:, 1]
    x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
    crosses = (y1 > y) != (y2 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_at = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
    return (crosses & (x < x_at)).sum(axis=1) % 2 == 1

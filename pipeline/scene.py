"""A camera's geometry resolved into road metres: homography, lines and zones.

Built once per camera from a validated :class:`~pipeline.config.CameraConfig`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pipeline.config import CameraConfig
from pipeline.geometry import (
    Segment,
    apply_homography,
    fit_homography,
    homography_w,
    reprojection_rms_m,
    spread_ratio,
)


@dataclass(frozen=True)
class SceneGeometry:
    """Homography and the config's lines/zones mapped to road metres.

    Attributes:
        homography: (3, 3) image px -> road m.
        reprojection_rms_m: RMS error of the calibration points, metres.
        lines_m: line id -> (K, 2) polyline in road metres.
        zones_m: zone/lane id -> (K, 2) polygon in road metres.
    """

    homography: np.ndarray
    reprojection_rms_m: float
    lines_m: dict[str, np.ndarray] = field(default_factory=dict)
    zones_m: dict[str, np.ndarray] = field(default_factory=dict)

    def to_road(self, points_px: np.ndarray) -> np.ndarray:
        """(N, 2) image px -> (N, 2) road metres."""
        return apply_homography(self.homography, points_px)

    def metres_per_px(self, points_px: np.ndarray) -> np.ndarray:
        """(N,) road metres spanned by one pixel step (the larger of x and y) at each image point."""
        p = np.asarray(points_px, dtype=np.float64).reshape(-1, 2)
        base = self.to_road(p)
        dx = np.linalg.norm(self.to_road(p + [1.0, 0.0]) - base, axis=1)
        dy = np.linalg.norm(self.to_road(p + [0.0, 1.0]) - base, axis=1)
        return np.maximum(dx, dy)

    def to_image(self, points_m: np.ndarray) -> np.ndarray:
        """(N, 2) road metres -> (N, 2) image px."""
        return apply_homography(np.linalg.inv(self.homography), points_m)

    def stop_segment(self, line_id: str) -> Segment:
        """The stop line as a segment oriented so that side() > 0 is beyond it for approaching traffic.

        Approaching traffic moves towards decreasing Y, so "beyond" is the side nearer the camera.
        """
        pts = self.lines_m[line_id]
        a, b = pts[0], pts[-1]
        seg = Segment(tuple(a), tuple(b))
        probe = np.array([[(a[0] + b[0]) / 2, min(a[1], b[1]) - 5.0]])
        if seg.side(probe)[0] < 0:
            seg = Segment(tuple(b), tuple(a))
        return seg


def _check_inside(name: str, pts: list[tuple[float, float]], size: tuple[int, int]) -> list[tuple[str, str]]:
    w, h = size
    bad = [p for p in pts if not (0 <= p[0] <= w and 0 <= p[1] <= h)]
    if bad:
        return [(name, f"point {bad[0]} lies outside the {w}x{h} frame")]
    return []


def check_scene_geometry(config: CameraConfig) -> list[tuple[str, str]]:
    """Every geometric problem of a config, as (field, message) pairs; empty when usable."""
    problems: list[tuple[str, str]] = []
    size = config.image_size_px
    img = np.array([p.image_px for p in config.calibration.points], dtype=np.float64)
    road = np.array([p.road_m for p in config.calibration.points], dtype=np.float64)
    problems += _check_inside("calibration.points", [tuple(p) for p in img], size)
    for i, lane in enumerate(config.lanes):
        problems += _check_inside(f"lanes.{i}.polygon_px", lane.polygon_px, size)
    for i, line in enumerate(config.lines):
        problems += _check_inside(f"lines.{i}.points_px", line.points_px, size)
    for i, zone in enumerate(config.zones):
        problems += _check_inside(f"zones.{i}.polygon_px", zone.polygon_px, size)
    if config.signal and config.signal.head_px:
        x, y, w, h = config.signal.head_px
        problems += _check_inside("signal.head_px", [(x, y), (x + w, y + h)], size)
    try:
        hom = fit_homography(img, road)
    except ValueError as exc:
        return problems + [("calibration.points", f"degenerate homography: {exc}")]
    w_cal = homography_w(hom, img)
    if not (np.all(w_cal > 0) or np.all(w_cal < 0)):
        problems.append(("calibration.points", "degenerate homography: points lie on both sides of the horizon"))
        return problems
    rms = reprojection_rms_m(hom, img, road)
    limit = config.calibration.max_reprojection_error_m
    if rms > limit:
        problems.append(
            ("calibration.points", f"reprojection error {rms:.3f} m exceeds max_reprojection_error_m {limit} m")
        )
    sign = np.sign(w_cal[0])
    for i, line in enumerate(config.lines):
        if np.any(homography_w(hom, np.array(line.points_px)) * sign <= 0):
            problems.append((f"lines.{i}.points_px", "a point lies at or above the horizon; it has no road position"))
    if spread_ratio(img) < 0.02:
        problems.append(("calibration.points", "points are nearly collinear; spread them over the road"))
    return problems


def build_scene_geometry(config: CameraConfig) -> SceneGeometry:
    """Resolve a (validated) config into road metres."""
    img = np.array([p.image_px for p in config.calibration.points], dtype=np.float64)
    road = np.array([p.road_m for p in config.calibration.points], dtype=np.float64)
    hom = fit_homography(img, road)
    lines = {ln.id: apply_homography(hom, np.array(ln.points_px)) for ln in config.lines}
    zones = {z.id: apply_homography(hom, np.array(z.polygon_px)) for z in config.zones}
    zones.update({ln.id: apply_homography(hom, np.array(ln.polygon_px)) for ln in config.lanes})
    return SceneGeometry(hom, reprojection_rms_m(hom, img, road), lines, zones)

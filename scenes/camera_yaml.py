"""Write the scene's ``camera.yaml`` (schema of pipeline/config.py; see docs/camera-config.md).

All geometry comes from projecting the road-metre layout through the synthetic camera, then
clipping to the frame, so the file is exactly what a surveyor would have drawn for this view.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from scenes.camera import PinholeCamera
from scenes.geom2d import clip_polygon_to_rect, clip_segment_to_rect
from scenes.layout import RoadLayout
from scenes.signal import SignalPlan
from scenes.world import SignalHeadPx

#: Ground points used for calibration (marking corners a surveyor would pick), road metres.
CALIBRATION_POINTS_M = (
    (-10.5, 10.0), (-7.0, 12.0), (-3.5, 12.0), (3.5, 16.0), (-10.5, 29.0), (7.0, 29.0), (-7.0, 35.0),
    (0.0, 45.0), (-10.5, 55.0), (3.5, 60.0), (-3.5, 82.0), (-7.0, 100.0),
)
_MIN_LINE_PX = 15.0
_LANE_Y_M = (1.0, 150.0)


def _r(v: float, nd: int) -> float:
    return float(round(float(v), nd))


def _px(points: np.ndarray) -> list[list[float]]:
    return [[_r(x, 1), _r(y, 1)] for x, y in points]


def _near_y_m(camera: PinholeCamera) -> float:
    """Ground points nearer than this (road Y, m) are at or behind the camera: never projected."""
    return float(camera.position_m[1]) + 1.0


def _clip_ground_poly(poly_m: np.ndarray, near_y: float) -> np.ndarray:
    """Sutherland-Hodgman clip of a ground polygon to the half-plane Y >= near_y."""
    out: list[np.ndarray] = []
    n = len(poly_m)
    for i in range(n):
        a, b = poly_m[i], poly_m[(i + 1) % n]
        a_in, b_in = a[1] >= near_y, b[1] >= near_y
        if a_in:
            out.append(a)
        if a_in != b_in:
            t = (near_y - a[1]) / (b[1] - a[1])
            out.append(a + t * (b - a))
    return np.array(out, dtype=np.float64).reshape(-1, 2)


def _clip_poly(camera: PinholeCamera, poly_m: np.ndarray) -> np.ndarray:
    ground = _clip_ground_poly(np.asarray(poly_m, dtype=np.float64), _near_y_m(camera))
    if len(ground) < 3:
        return ground
    uv = camera.ground_to_image(ground)
    return clip_polygon_to_rect(uv, 0.0, 0.0, camera.width_px - 1.0, camera.height_px - 1.0)


def camera_config(camera: PinholeCamera, layout: RoadLayout, head: SignalHeadPx, plan: SignalPlan, *,
                  scenario: str, seed: int, start_time_utc: str, speed_limit_kmh: float) -> dict:
    """The camera.yaml content as plain data.

    Raises:
        ValueError: if a calibration point falls outside the frame (the layout and camera disagree).
    """
    w, h = camera.width_px, camera.height_px
    points = []
    for xy in CALIBRATION_POINTS_M:
        uv = camera.ground_to_image(np.array([xy]))[0]
        if not (2 <= uv[0] <= w - 3 and 2 <= uv[1] <= h - 3):
            raise ValueError(f"calibration point {xy} projects outside the frame at {uv}")
        points.append({"image_px": [_r(uv[0], 1), _r(uv[1], 1)], "road_m": [_r(xy[0], 3), _r(xy[1], 3)]})
    lanes = []
    for lane in layout.lanes:
        quad = np.array([[lane.x_min_m, _LANE_Y_M[0]], [lane.x_max_m, _LANE_Y_M[0]],
                         [lane.x_max_m, _LANE_Y_M[1]], [lane.x_min_m, _LANE_Y_M[1]]])
        poly = _clip_poly(camera, quad)
        if len(poly) >= 3:
            lanes.append({"id": lane.id, "kind": lane.kind, "direction": lane.direction, "polygon_px": _px(poly)})
    lines = []
    for line in layout.lines:
        if not line.publish:
            continue
        a, b = (np.array(p, dtype=np.float64) for p in (line.points_m[0], line.points_m[-1]))
        near = _near_y_m(camera)
        if a[1] < near and b[1] < near:
            continue
        if a[1] < near or b[1] < near:  # cut the segment where it passes the camera's near limit
            t = (near - a[1]) / (b[1] - a[1])
            cut = a + t * (b - a)
            a, b = (cut, b) if a[1] < near else (a, cut)
        uv = camera.ground_to_image(np.array([a, b]))
        seg = clip_segment_to_rect(uv[0], uv[-1], 0.0, 0.0, w - 1.0, h - 1.0)
        if seg is None or np.linalg.norm(seg[1] - seg[0]) < _MIN_LINE_PX:
            continue
        lines.append({"id": line.id, "kind": line.kind, "points_px": _px(np.array(seg))})
    zones = []
    for zone in layout.zones:
        poly = _clip_poly(camera, np.array(zone.polygon_m))
        if len(poly) >= 3:
            zones.append({"id": zone.id, "kind": zone.kind, "polygon_px": _px(poly)})
    stop_line = next(ln.id for ln in layout.lines if ln.kind == "stop_line")
    bx, by, bw, bh = head.box_px
    return {
        "camera_id": f"demo-{scenario}-s{seed}",
        "name": "Chui Ave approach (synthetic)",
        "location": {"lat": 42.8765, "lon": 74.604, "description": f"synthetic scene, scenario {scenario} seed {seed}"},
        "start_time_utc": start_time_utc,
        "image_size_px": [w, h],
        "speed_limit_kmh": speed_limit_kmh,
        "calibration": {"version": f"synthetic-{scenario}-{seed}", "max_reprojection_error_m": 0.3, "points": points},
        "lanes": lanes,
        "lines": lines,
        "zones": zones,
        "signal": {
            "source": "plan",
            "stop_line": stop_line,
            "head_px": [_r(bx, 1), _r(by, 1), _r(bw, 1), _r(bh, 1)],
            "plan": {"offset_s": _r(plan.offset_s, 3),
                     "phases": [{"state": p.state, "duration_s": _r(p.duration_s, 3)} for p in plan.phases]},
        },
    }


def write_camera_yaml(path: Path, config: dict) -> None:
    """Write the config as YAML (block mappings, flow-style coordinate pairs)."""
    text = yaml.safe_dump(config, sort_keys=False, default_flow_style=None, width=120, allow_unicode=True)
    path.write_text(text, encoding="utf-8")

"""Write the scene's ``camera.yaml`` (schema of pipeline/config.py; see docs/camera-config.md).

All geometry comes from projecting the road-metre layout through the synthetic camera, then
clipping to the frame, so the file is exactly what a surveyor would have drawn for this view.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from scenes.camera import PinholeCamera, view_suffix
from scenes.geom2d import clip_polygon_halfplane, clip_polygon_to_rect, clip_segment_to_rect
from scenes.layout import RoadLayout
from scenes.signal import SignalPlan
from scenes.world import SignalHeadPx

#: Candidate ground points for calibration (marking corners a surveyor would pick), road metres;
#: those the camera sees (with a margin) are used.
CALIBRATION_POINTS_M = (
    (-10.5, 10.0), (-7.0, 12.0), (-3.5, 12.0), (3.5, 16.0), (-10.5, 26.0), (-3.5, 26.0), (3.5, 27.0),
    (-10.5, 29.0), (7.0, 29.0), (-7.0, 35.0), (3.5, 35.0), (0.0, 45.0), (-10.5, 55.0), (3.5, 60.0),
    (-3.5, 82.0), (-7.0, 100.0), (3.5, 120.0),
)
_MIN_CALIBRATION_POINTS = 6
_MIN_LINE_PX = 15.0
_LANE_Y_M = (1.0, 150.0)


def _r(v: float, nd: int) -> float:
    return float(round(float(v), nd))


def _px(points: np.ndarray) -> list[list[float]]:
    return [[_r(x, 1), _r(y, 1)] for x, y in points]


def _in_front(camera: PinholeCamera, xy) -> float:
    """Signed margin of a ground point in front of the camera's near limit (>= 0: projectable)."""
    a, b, c = camera.ground_depth_halfplane()
    return a * xy[0] + b * xy[1] + c


def _clip_poly(camera: PinholeCamera, poly_m: np.ndarray) -> np.ndarray:
    ground = clip_polygon_halfplane(np.asarray(poly_m, dtype=np.float64), camera.ground_depth_halfplane())
    if len(ground) < 3:
        return ground
    uv = camera.ground_to_image(ground)
    return clip_polygon_to_rect(uv, 0.0, 0.0, camera.width_px - 1.0, camera.height_px - 1.0)


def camera_config(camera: PinholeCamera, layout: RoadLayout, head: SignalHeadPx, plan: SignalPlan, *,
                  scenario: str, seed: int, start_time_utc: str, speed_limit_kmh: float,
                  rules: dict | None = None, turn_areas: list | tuple = (), view: str = "kerb") -> dict:
    """The camera.yaml content as plain data.

    ``view`` names the site geometry; a view other than the default ``kerb`` is part of the
    camera id and the calibration version, so two views of one scene never share them.

    ``rules`` is the site's rules section (omitted when empty); ``turn_areas`` are (id, road
    polygon) pairs written as ``turn_area`` zones.

    Raises:
        ValueError: if fewer than 6 calibration points are in view (the layout and camera disagree).
    """
    w, h = camera.width_px, camera.height_px
    points = []
    for xy in CALIBRATION_POINTS_M:
        if _in_front(camera, xy) < 0:
            continue
        uv = camera.ground_to_image(np.array([xy]))[0]
        if 8 <= uv[0] <= w - 9 and 8 <= uv[1] <= h - 9:
            points.append({"image_px": [_r(uv[0], 1), _r(uv[1], 1)], "road_m": [_r(xy[0], 3), _r(xy[1], 3)]})
    if len(points) < _MIN_CALIBRATION_POINTS:
        raise ValueError(f"only {len(points)} calibration points are in view; need {_MIN_CALIBRATION_POINTS}")
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
        da, db = _in_front(camera, a), _in_front(camera, b)
        if da < 0 and db < 0:
            continue
        if da < 0 or db < 0:  # cut the segment where it passes the camera's near limit
            cut = a + (da / (da - db)) * (b - a)
            a, b = (cut, b) if da < 0 else (a, cut)
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
    for area_id, poly_m in turn_areas:
        poly = _clip_poly(camera, np.array(poly_m))
        if len(poly) < 3:
            raise ValueError(f"turn area {area_id} is not in view")
        zones.append({"id": area_id, "kind": "turn_area", "polygon_px": _px(poly)})
    stop_line = next(ln.id for ln in layout.lines if ln.kind == "stop_line")
    bx, by, bw, bh = head.box_px
    suffix = view_suffix(view)
    doc = {
        "camera_id": f"demo-{scenario}-s{seed}{suffix}",
        "name": "Chui Ave approach (synthetic)",
        "location": {"lat": 42.8765, "lon": 74.604, "description": f"synthetic scene, scenario {scenario} seed {seed}{f', {view} camera' if suffix else ''}"},
        "start_time_utc": start_time_utc,
        "image_size_px": [w, h],
        "speed_limit_kmh": speed_limit_kmh,
        "calibration": {"version": f"synthetic-{scenario}-{seed}{suffix}", "max_reprojection_error_m": 0.3, "points": points},
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
    if rules:
        doc["rules"] = rules
    return doc


def write_camera_yaml(path: Path, config: dict) -> None:
    """Write the config as YAML (block mappings, flow-style coordinate pairs)."""
    text = yaml.safe_dump(config, sort_keys=False, default_flow_style=None, width=120, allow_unicode=True)
    path.write_text(text, encoding="utf-8")

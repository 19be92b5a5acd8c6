"""Builders shared by the tests: an exact pinhole camera, camera configs, tracks and signals."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import yaml

from pipeline.config import CameraConfig, PhasePlan
from pipeline.types import Track, TrackPoint

F_PX, CX, CY, HEIGHT_M, PITCH_DEG = 1100.0, 640.0, 360.0, 8.0, 12.0
STOP_Y_M = 35.0


def project(points_m: np.ndarray) -> np.ndarray:
    """Road (X, Y) metres -> image px for a camera 8 m up at X=0, Y=0, pitched 12 deg down."""
    th = math.radians(PITCH_DEG)
    pts = np.asarray(points_m, dtype=np.float64).reshape(-1, 2)
    x_c = pts[:, 0]
    y_c = -pts[:, 1] * math.sin(th) + HEIGHT_M * math.cos(th)
    z_c = pts[:, 1] * math.cos(th) + HEIGHT_M * math.sin(th)
    return np.column_stack([CX + F_PX * x_c / z_c, CY + F_PX * y_c / z_c])


def _px(points_m: list[tuple[float, float]]) -> list[list[float]]:
    return [[round(float(x), 2), round(float(y), 2)] for x, y in project(np.array(points_m))]


def camera_dict() -> dict:
    """A valid camera.yaml document for the test camera."""
    cal = [(-6, 18), (6, 18), (-6, 30), (6, 30), (-6, 60), (6, 60), (0, 24), (3, 45)]
    return {
        "camera_id": "test-cam",
        "name": "test approach",
        "start_time_utc": "2026-11-20T08:00:00Z",
        "image_size_px": [1280, 720],
        "speed_limit_kmh": 60,
        "calibration": {
            "version": "test-1",
            "max_reprojection_error_m": 0.3,
            "points": [{"image_px": px, "road_m": list(m)} for px, m in zip(_px(cal), cal)],
        },
        "lanes": [{"id": "L1", "kind": "general", "direction": "toward", "polygon_px": _px([(0, 16), (3.5, 16), (3.5, 80), (0, 80)])}],
        "lines": [{"id": "stop-1", "kind": "stop_line", "points_px": _px([(0, STOP_Y_M), (7, STOP_Y_M)])}],
        "zones": [],
        "signal": {
            "source": "plan",
            "stop_line": "stop-1",
            "plan": {"offset_s": 0.0, "phases": [
                {"state": "green", "duration_s": 10.0},
                {"state": "amber", "duration_s": 3.0},
                {"state": "red", "duration_s": 12.0},
                {"state": "red_amber", "duration_s": 2.0},
            ]},
        },
    }


def write_camera(tmp_path: Path, doc: dict | None = None, name: str = "camera.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc if doc is not None else camera_dict(), sort_keys=False))
    return path


def camera_config(**changes) -> CameraConfig:
    doc = copy.deepcopy(camera_dict())
    doc.update(changes)
    return CameraConfig.model_validate(doc)


def plan(green: float = 10, amber: float = 3, red: float = 12, red_amber: float = 2, offset: float = 0) -> PhasePlan:
    return PhasePlan.model_validate({"offset_s": offset, "phases": [
        {"state": "green", "duration_s": green}, {"state": "amber", "duration_s": amber},
        {"state": "red", "duration_s": red}, {"state": "red_amber", "duration_s": red_amber}]})


def track_from_positions(t_s: np.ndarray, y_m: np.ndarray, x_m: float = 1.75, track_id: int = 1, fps: float = 25.0) -> Track:
    """A track whose front moves along Y at lateral position ``x_m``; boxes are nominal."""
    pts = tuple(
        TrackPoint(frame=int(round(t * fps)), t_s=float(t), box_px=(600.0, 400.0, 700.0, 480.0), road_m=(x_m, float(y)), confidence=0.9)
        for t, y in zip(t_s, y_m)
    )
    return Track(track_id, "car", pts)


def approach(t0: float, t1: float, y0: float, speed_kmh: float, fps: float = 25.0, stop_at_y: float | None = None,
             decel: float = 3.0, wait_until: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Front Y over time for a vehicle approaching the camera (decreasing Y).

    With ``stop_at_y`` it brakes at ``decel`` m/s^2 to stop there, waits until ``wait_until``
    (or forever), then accelerates away at 2 m/s^2.
    """
    t = np.arange(t0, t1, 1 / fps)
    v0 = speed_kmh / 3.6
    ys = []
    for ti in t:
        dt_ = ti - t0
        if stop_at_y is None:
            ys.append(y0 - v0 * dt_)
            continue
        decel = max(decel, v0 * v0 / (2 * (y0 - stop_at_y)))
        brake_dist = v0 * v0 / (2 * decel)
        t_brake = max(0.0, (y0 - stop_at_y - brake_dist) / v0)
        t_stop = t_brake + v0 / decel
        if dt_ <= t_brake:
            ys.append(y0 - v0 * dt_)
        elif dt_ <= t_stop:
            tb = dt_ - t_brake
            ys.append(y0 - v0 * t_brake - (v0 * tb - 0.5 * decel * tb * tb))
        elif wait_until is None or ti <= wait_until:
            ys.append(stop_at_y)
        else:
            tg = ti - wait_until
            ys.append(stop_at_y - 0.5 * 2.0 * tg * tg)
    return t, np.array(ys)


def first_frames(video: Path, dest: Path, frames: int) -> Path:
    """The first ``frames`` frames of ``video`` re-encoded (mp4v) at ``dest``: a short clip of a sample."""
    import cv2

    cap = cv2.VideoCapture(str(video))
    size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    writer = cv2.VideoWriter(str(dest), cv2.VideoWriter_fourcc(*"mp4v"), cap.get(cv2.CAP_PROP_FPS), size)
    try:
        for k in range(frames):
            ok, img = cap.read()
            if not ok:
                raise ValueError(f"{video}: ends at frame {k}, before {frames}")
            writer.write(img)
    finally:
        writer.release()
        cap.release()
    return dest

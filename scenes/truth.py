"""Per-frame truth geometry (boxes, visibility, plate boxes) and the ``truth.json`` document.

Schema and definitions: docs/truth-schema.md.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from scenes.camera import PinholeCamera
from scenes.geom2d import clip_polygon_to_rect, polygon_area
from scenes.layout import RoadLayout
from scenes.mesh import Mesh, local_to_world_normal, pose_vertices
from scenes.painter import Pose, VehicleView
from scenes.rules import Violation
from scenes.signal import SignalPlan

SCHEMA_VERSION = 1
#: A vehicle gets a truth box in a frame only if at least this share of its silhouette is in the image.
MIN_VISIBLE_FRACTION = 0.3
#: A plate box is reported only when at most this share of the plate is hidden by nearer vehicles.
MAX_PLATE_OCCLUSION = 0.2


@dataclass(frozen=True)
class FrameTruth:
    """One vehicle in one frame.

    Attributes:
        box_px: (x1, y1, x2, y2) of the silhouette clipped to the image, px.
        visible_fraction: clipped / unclipped silhouette area.
        occluded_fraction: share of the in-image silhouette hidden by nearer vehicles.
        plate_box_px: box of the camera-facing plate, px, or None (facing away, cut by the image
            border, or more than MAX_PLATE_OCCLUSION hidden).
    """

    box_px: tuple[float, float, float, float]
    visible_fraction: float
    occluded_fraction: float
    plate_box_px: tuple[float, float, float, float] | None


def _mask_fraction(target: np.ndarray, occluders: list[np.ndarray], size: tuple[int, int]) -> float:
    """Share of the convex polygon ``target`` (px) covered by ``occluders``, within the image."""
    w, h = size
    x0, y0 = np.maximum(np.floor(target.min(axis=0)).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(target.max(axis=0)).astype(int) + 1, [w, h])
    if x1 <= x0 or y1 <= y0:
        return 0.0
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillConvexPoly(mask, np.round((target - [x0, y0]) * 4).astype(np.int32), 255, cv2.LINE_8, 2)
    total = cv2.countNonZero(mask)
    if total == 0:
        return 0.0
    for occ in occluders:
        ox0, oy0 = occ.min(axis=0)
        ox1, oy1 = occ.max(axis=0)
        if ox1 < x0 or ox0 > x1 or oy1 < y0 or oy0 > y1:
            continue
        cv2.fillConvexPoly(mask, np.round((occ - [x0, y0]) * 4).astype(np.int32), 0, cv2.LINE_8, 2)
    return 1.0 - cv2.countNonZero(mask) / total


def plate_quad(mesh: Mesh, view: VehicleView, pose: Pose, camera: PinholeCamera) -> np.ndarray | None:
    """Image quad (4, 2) of the plate that faces the camera, or None."""
    for f in mesh.plate_faces:
        c = pose_vertices(mesh.centroids[f][None, :], pose.x_m, pose.y_m, pose.hx, pose.hy)[0]
        n = local_to_world_normal(mesh.normals[f], (pose.hx, pose.hy))
        if float(np.dot(camera.centre - c, n)) > 0:
            return view.uv[mesh.faces[f]]
    return None


def frame_truth(views: list[tuple[int, Mesh, Pose, VehicleView]], camera: PinholeCamera) -> dict[int, FrameTruth]:
    """Truth geometry of every vehicle in one frame (vehicle index -> FrameTruth), in-view ones only."""
    w, h = camera.width_px, camera.height_px
    by_depth = sorted(views, key=lambda t: t[3].depth_m)
    out: dict[int, FrameTruth] = {}
    for rank, (idx, mesh, pose, view) in enumerate(by_depth):
        full = polygon_area(view.hull)
        clipped = clip_polygon_to_rect(view.hull, 0.0, 0.0, float(w), float(h))
        vis = polygon_area(clipped) / full if full > 0 else 0.0
        if vis < MIN_VISIBLE_FRACTION or len(clipped) < 3:
            continue
        nearer = [t[3].hull for t in by_depth[:rank]]
        occluded = _mask_fraction(clipped, nearer, (w, h)) if nearer else 0.0
        x1, y1 = clipped.min(axis=0)
        x2, y2 = clipped.max(axis=0)
        pbox = None
        quad = plate_quad(mesh, view, pose, camera)
        if quad is not None and np.all(quad >= 0) and np.all(quad[:, 0] <= w) and np.all(quad[:, 1] <= h):
            if not nearer or _mask_fraction(quad, nearer, (w, h)) <= MAX_PLATE_OCCLUSION:
                px1, py1 = quad.min(axis=0)
                px2, py2 = quad.max(axis=0)
                pbox = _r1(px1, py1, px2, py2)
        out[idx] = FrameTruth(_r1(x1, y1, x2, y2), round(min(vis, 1.0), 4), round(occluded, 4), pbox)
    return out


def _r1(*v: float) -> tuple[float, ...]:
    return tuple(round(float(x), 1) for x in v)


@dataclass(frozen=True)
class TruthHeader:
    """Scene-level fields of truth.json."""

    scenario: str
    seed: int
    lighting: str
    fps: float
    frame_count: int
    image_size_px: tuple[int, int]
    start_time_utc: str
    speed_limit_kmh: float
    speed_tolerance_kmh: float


def truth_document(header: TruthHeader, plan: SignalPlan, duration_s: float, vehicles: list[dict], violations: list[Violation]) -> dict:
    """The truth.json content (plain JSON types)."""
    fps = header.fps
    last = header.frame_count - 1

    def frame_of(t: float, first: bool) -> int:
        f = int(np.ceil(t * fps - 1e-6)) if first else int(np.floor(t * fps + 1e-6))
        return int(min(max(f, 0), last))

    return {
        "schema_version": SCHEMA_VERSION,
        "scenario": header.scenario,
        "seed": header.seed,
        "lighting": header.lighting,
        "video": "scene.mp4",
        "fps": fps,
        "frame_count": header.frame_count,
        "image_size_px": list(header.image_size_px),
        "start_time_utc": header.start_time_utc,
        "speed_limit_kmh": header.speed_limit_kmh,
        "speed_tolerance_kmh": header.speed_tolerance_kmh,
        "signal_phases": [{"state": p.state, "start_s": p.start_s, "end_s": p.end_s} for p in plan.timeline(duration_s)],
        "vehicles": vehicles,
        "violations": [
            {"type": v.type, "vehicle_id": v.vehicle_id, "start_s": round(v.start_s, 3), "end_s": round(v.end_s, 3),
             "start_frame": frame_of(v.start_s, True), "end_frame": frame_of(v.end_s, False), "details": v.details}
            for v in violations
        ],
    }


def frame_record(frame: int, fps: float, truth: FrameTruth, x_m: float, y_m: float, speed_mps: float,
                 lane: str | None) -> dict:
    """One entry of a vehicle's ``frames`` list."""
    return {
        "frame": frame,
        "t_s": round(frame / fps, 4),
        "box_px": list(truth.box_px),
        "visible_fraction": truth.visible_fraction,
        "occluded_fraction": truth.occluded_fraction,
        "road_m": [round(x_m, 3), round(y_m, 3)],
        "speed_kmh": round(speed_mps * 3.6, 2),
        "lane": lane,
        "plate_box_px": list(truth.plate_box_px) if truth.plate_box_px else None,
    }


def lane_of(layout: RoadLayout, x_centre_m: float) -> str | None:
    """Lane id under the body centre, None off the carriageway."""
    lane = layout.lane_at(x_centre_m)
    return lane.id if lane else None


#: Objects without nested objects (one frame record, one phase) go on one line each.
_FLAT_OBJECT = re.compile(r"\{\n((?:[^{}\n]*\n)*?)\s*\}")
_NUMBER_ARRAY = re.compile(r"\[\s+((?:-?[\d.eE+-]+|null)(?:,\s+(?:-?[\d.eE+-]+|null))*)\s+\]")


def write_json(path: Path, doc: dict) -> None:
    """Write ``doc`` as stable, diff-friendly JSON: indented, number arrays on one line, no NaN."""
    text = json.dumps(doc, indent=1, allow_nan=False)
    text = _NUMBER_ARRAY.sub(lambda m: "[" + ", ".join(v.strip() for v in m.group(1).split(",")) + "]", text)
    text = _FLAT_OBJECT.sub(lambda m: "{" + " ".join(line.strip() for line in m.group(1).splitlines()) + "}", text)
    path.write_text(text + "\n", encoding="utf-8")

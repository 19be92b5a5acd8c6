"""Draw posed vehicle meshes into a frame: painter's algorithm, plates, shadows, motion blur.

Each vehicle is projected through the camera; faces turned away are culled and the rest drawn
far to near (under-body first, attachments last), each face followed by its decals. Vehicles
themselves are drawn far to near by the caller.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from scenes.camera import NEAR_PLANE_M, PinholeCamera
from scenes.geom2d import polygon_area
from scenes.mesh import Lighting, Mesh, local_to_world_normal, pose_vertices
from scenes.plates import PlateRaster, warp_plate

_SHIFT = 4
_SCALE = float(1 << _SHIFT)
_DETAIL_MIN_PX = 14.0
_EXPOSURE_S = {"day": 1 / 250, "dusk": 1 / 150, "night": 1 / 100}


@dataclass(frozen=True)
class Pose:
    """Front-bumper ground point (x_m, y_m) and unit heading (hx, hy) in road coordinates."""

    x_m: float
    y_m: float
    hx: float
    hy: float


@dataclass(frozen=True)
class VehicleView:
    """A mesh projected for one frame.

    Attributes:
        world: (N, 3) posed vertices, road metres.
        uv: (N, 2) image points, px.
        hull: (K, 2) convex hull of the silhouette, px (unclipped).
        bbox: (x1, y1, x2, y2) of the hull, px (unclipped).
        depth_m: distance from the camera to the body's nearest ground corner, m (sort key).
    """

    world: np.ndarray
    uv: np.ndarray
    hull: np.ndarray
    bbox: tuple[float, float, float, float]
    depth_m: float

    @property
    def area_px(self) -> float:
        """Unclipped silhouette area, px^2."""
        return polygon_area(self.hull)


def project_vehicle(mesh: Mesh, pose: Pose, length_m: float, width_m: float, camera: PinholeCamera) -> VehicleView | None:
    """Project ``mesh`` at ``pose``; None when part of it is behind the camera's near plane."""
    world = pose_vertices(mesh.verts, pose.x_m, pose.y_m, pose.hx, pose.hy)
    uv, depth = camera.project(world)
    hidx = mesh.hull_idx
    if np.any(depth[hidx] < NEAR_PLANE_M) or np.any(~np.isfinite(uv[hidx])):
        return None
    pts = uv[hidx].astype(np.float32)
    if mesh.spheres:
        extra = []
        for centre, r, _ in mesh.spheres:
            c = pose_vertices(centre[None, :], pose.x_m, pose.y_m, pose.hx, pose.hy)
            cuv, cd = camera.project(c)
            rad = camera.focal_px * r / max(float(cd[0]), NEAR_PLANE_M)
            ang = np.linspace(0, 2 * np.pi, 8, endpoint=False)
            extra.append(cuv[0] + rad * np.column_stack([np.cos(ang), np.sin(ang)]))
        pts = np.vstack([pts, np.vstack(extra).astype(np.float32)])
    hull = cv2.convexHull(pts).reshape(-1, 2).astype(np.float64)
    x1, y1 = hull.min(axis=0)
    x2, y2 = hull.max(axis=0)
    corners = pose_vertices(np.array([[-width_m / 2, 0, 0], [width_m / 2, 0, 0], [-width_m / 2, length_m, 0],
                                      [width_m / 2, length_m, 0]]), pose.x_m, pose.y_m, pose.hx, pose.hy)
    dist = float(np.min(np.linalg.norm(corners - camera.centre, axis=1)))
    return VehicleView(world, uv, hull, (float(x1), float(y1), float(x2), float(y2)), dist)


def plate_gain(lighting: Lighting, distance_m: float, rear: bool) -> float:
    """Brightness of a plate face (0-1.1).

    Day: retro-reflective white in daylight. Dusk/night: street-light ambient plus the
    enforcement camera's illuminator (falls off with distance squared, so near plates stay
    readable); rear plates also have their own plate lamp.
    """
    if lighting.name == "day":
        return 0.92 if not rear else 0.80
    ambient = 0.45 if lighting.name == "dusk" else 0.16
    gain = ambient + 110.0 / max(distance_m, 1.0) ** 2
    if rear:
        gain = max(gain, 0.65)
    return float(min(gain, 1.05))


def draw_vehicle(frame: np.ndarray, mesh: Mesh, view: VehicleView, pose: Pose, camera: PinholeCamera,
                 plate: PlateRaster | None, lighting: Lighting) -> np.ndarray | None:
    """Draw one vehicle (no shadow, no blur) into ``frame`` in place.

    Returns:
        (4, 2) image quad of the plate that faces the camera, or None.
    """
    cam = camera.centre
    cw = pose_vertices(mesh.centroids, pose.x_m, pose.y_m, pose.hx, pose.hy)
    nw = local_to_world_normal(mesh.normals, (pose.hx, pose.hy))
    facing = np.einsum("ij,ij->i", cam - cw, nw) > 0
    facing |= ~np.any(mesh.normals, axis=1)
    dist = np.linalg.norm(cw - cam, axis=1)
    small = (view.bbox[3] - view.bbox[1]) < _DETAIL_MIN_PX
    top = [i for i in range(len(mesh.faces)) if mesh.parents[i] < 0 and facing[i]]
    top.sort(key=lambda i: (mesh.layers[i], -dist[i]))
    uv = view.uv
    plate_quad = None
    for f in top:
        _fill(frame, uv[mesh.faces[f]], mesh.colors[f], len(mesh.faces[f]) > 4 and mesh.kinds[f] == "body")
        for c in mesh.children[f]:
            kind = mesh.kinds[c]
            if kind == "plate":
                quad = uv[mesh.faces[c]]
                if plate is not None and not small:
                    rear = mesh.centroids[c][1] > 0.5
                    warp_plate(frame, plate, quad, plate_gain(lighting, float(dist[c]), rear))
                    plate_quad = quad
                continue
            if small and kind not in ("glass", "lamp_head", "lamp_tail", "tyre"):
                continue
            _fill(frame, uv[mesh.faces[c]], mesh.colors[c], False)
    for centre, r, color in mesh.spheres:
        c = pose_vertices(centre[None, :], pose.x_m, pose.y_m, pose.hx, pose.hy)
        cuv, cd = camera.project(c)
        rad = camera.focal_px * r / max(float(cd[0]), NEAR_PLANE_M)
        ctr = (int(round(cuv[0, 0] * _SCALE)), int(round(cuv[0, 1] * _SCALE)))
        cv2.circle(frame, ctr, int(round(rad * _SCALE)), color, -1, cv2.LINE_AA, _SHIFT)
        hl = tuple(min(255.0, v * 1.5 + 40) for v in color)
        ctr2 = (int(round((cuv[0, 0] - rad * 0.3) * _SCALE)), int(round((cuv[0, 1] - rad * 0.35) * _SCALE)))
        cv2.circle(frame, ctr2, int(round(rad * 0.35 * _SCALE)), hl, -1, cv2.LINE_AA, _SHIFT)
    return plate_quad


def _fill(frame: np.ndarray, pts: np.ndarray, color: np.ndarray, concave: bool) -> None:
    ipts = np.round(pts * _SCALE).astype(np.int32)
    col = (float(color[0]), float(color[1]), float(color[2]))
    if concave:
        cv2.fillPoly(frame, [ipts], col, cv2.LINE_AA, _SHIFT)
    else:
        cv2.fillConvexPoly(frame, ipts, col, cv2.LINE_AA, _SHIFT)


def draw_shadow(frame: np.ndarray, pose: Pose, length_m: float, width_m: float, height_m: float,
                camera: PinholeCamera, lighting: Lighting) -> None:
    """Darken the road under the vehicle: a soft contact shadow plus (by day) the cast shadow."""
    # A motorcycle's footprint is its tyres, not its handlebar width.
    w = (min(width_m, 0.45) if height_m > 1.0 and width_m < 1.0 else width_m) / 2 + 0.12
    foot = np.array([[-w, -0.12, 0], [w, -0.12, 0], [w, length_m + 0.12, 0], [-w, length_m + 0.12, 0]])
    layers = [(foot, 0.62 if lighting.name != "night" else 0.45)]
    sun = np.asarray(lighting.sun_dir)
    if lighting.diffuse > 0.2:
        roof = foot.copy()
        roof[:, 2] = height_m * 0.9
        world_roof = pose_vertices(roof, pose.x_m, pose.y_m, pose.hx, pose.hy)
        ground_roof = world_roof - world_roof[:, 2:3] / sun[2] * sun
        world_foot = pose_vertices(foot, pose.x_m, pose.y_m, pose.hx, pose.hy)
        cast = np.vstack([world_foot, ground_roof])
        cast[:, 2] = 0.0
        layers.insert(0, (cast, 0.40))
    polys = []
    for pts, strength in layers:
        world = pts if pts.shape[0] > 4 else pose_vertices(pts, pose.x_m, pose.y_m, pose.hx, pose.hy)
        uv, depth = camera.project(world)
        if np.any(depth < NEAR_PLANE_M):
            return
        polys.append((cv2.convexHull(uv.astype(np.float32)).reshape(-1, 2), strength))
    allpts = np.vstack([p for p, _ in polys])
    h, wid = frame.shape[:2]
    pad = 4
    x0, y0 = np.maximum(np.floor(allpts.min(axis=0)).astype(int) - pad, 0)
    x1, y1 = np.minimum(np.ceil(allpts.max(axis=0)).astype(int) + pad, [wid, h])
    if x1 - x0 < 2 or y1 - y0 < 2:
        return
    mask = np.zeros((y1 - y0, x1 - x0), np.float32)
    for pts, strength in polys:
        ipts = np.round((pts - [x0, y0]) * _SCALE).astype(np.int32)
        layer = np.zeros_like(mask)
        cv2.fillConvexPoly(layer, ipts, strength, cv2.LINE_AA, _SHIFT)
        np.maximum(mask, layer, out=mask)
    size = max(1.0, 0.012 * (y1 - y0))
    mask = cv2.GaussianBlur(mask, (0, 0), size)
    roi = frame[y0:y1, x0:x1]
    roi[:] = (roi.astype(np.float32) * (1.0 - mask[..., None])).astype(np.uint8)


def motion_blur(frame: np.ndarray, view: VehicleView, motion_px: tuple[float, float]) -> None:
    """Smear the vehicle's box region along its image motion during the exposure (in place)."""
    dx, dy = motion_px
    length = math.hypot(dx, dy)
    if length < 1.2:
        return
    k = int(math.ceil(length)) | 1
    kernel = np.zeros((k, k), np.float32)
    c = k // 2
    ux, uy = dx / length, dy / length
    half = (k - 1) / 2
    p0 = (int(round(c - ux * half)), int(round(c - uy * half)))
    p1 = (int(round(c + ux * half)), int(round(c + uy * half)))
    cv2.line(kernel, p0, p1, 1.0, 1, cv2.LINE_AA)
    kernel /= kernel.sum()
    h, w = frame.shape[:2]
    x1, y1, x2, y2 = view.bbox
    x0, y0 = max(int(x1) - k, 0), max(int(y1) - k, 0)
    xe, ye = min(int(x2) + k + 1, w), min(int(y2) + k + 1, h)
    if xe - x0 < k or ye - y0 < k:
        return
    roi = frame[y0:ye, x0:xe]
    roi[:] = cv2.filter2D(roi, -1, kernel, borderType=cv2.BORDER_REPLICATE)


def surface_pass(frame: np.ndarray, view: VehicleView, texture: np.ndarray, strength: float = 0.04,
                 gain: float = 1.0) -> None:
    """Break the flat fills inside the silhouette: light falls off towards the ground (ambient
    occlusion) and a fixed per-vehicle low-frequency texture adds grime and paint variation.

    Args:
        frame: (H, W, 3) uint8, modified in place.
        view: the vehicle's projection (its hull is the mask).
        texture: small (h, w) float32 zero-mean noise, stretched over the vehicle's box.
        strength: texture amplitude as a fraction of brightness.
        gain: overall brightness factor (local lighting, e.g. under a street lamp at night).
    """
    h, w = frame.shape[:2]
    bx1, by1, bx2, by2 = view.bbox
    bw, bh = int(math.ceil(bx2 - bx1)) + 1, int(math.ceil(by2 - by1)) + 1
    if bw < 4 or bh < 4:
        return
    ox, oy = int(math.floor(bx1)), int(math.floor(by1))
    x0, y0, x1, y1 = max(ox, 0), max(oy, 0), min(ox + bw, w), min(oy + bh, h)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillConvexPoly(mask, np.round((view.hull - [x0, y0]) * _SCALE).astype(np.int32), 255, cv2.LINE_AA, _SHIFT)
    ramp = np.linspace(1.06, 0.84, bh, dtype=np.float32)[y0 - oy:y1 - oy, None]
    tex = cv2.resize(texture, (bw, bh), interpolation=cv2.INTER_LINEAR)[y0 - oy:y1 - oy, x0 - ox:x1 - ox]
    local = gain * ramp * (1.0 + strength * tex)
    a = mask.astype(np.float32) / 255.0
    k = (1.0 + (local - 1.0) * a)[..., None]
    roi = frame[y0:y1, x0:x1]
    roi[:] = np.clip(roi.astype(np.float32) * k, 0, 255).astype(np.uint8)


def exposure_s(lighting: Lighting) -> float:
    """Shutter time used for motion blur, s (longer in the dark, as CCTV auto-exposure does)."""
    return _EXPOSURE_S.get(lighting.name, 1 / 250)

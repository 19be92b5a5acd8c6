"""Pedestrians: straight walks across the road and a simple articulated 3D figure.

A pedestrian's reference point is the ground point between the feet (road metres). The figure
(legs, torso, arms, head; about 1.6-1.85 m tall) swings its legs and arms with the walking
phase, so a detector sees the silhouette of a walking person, not a static block.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from scenes.camera import NEAR_PLANE_M, PinholeCamera
from scenes.props import fill_quad3d, strip3d

#: Stride length per step, m (one leg swing).
STRIDE_M = 0.7


@dataclass(frozen=True)
class Walker:
    """One pedestrian's concrete plan.

    Attributes:
        id: 1-based id among the scene's pedestrians.
        x0_m, x1_m: start and end X of the walk (across the road), m.
        y_m: the walk's Y (on the crosswalk or elsewhere), m.
        speed_mps: walking speed, m/s.
        t0_s: time the walk starts at x0 (the person stands there before), s.
        height_m: body height, m.
        colours: (jacket, trousers) BGR.
    """

    id: int
    x0_m: float
    x1_m: float
    y_m: float
    speed_mps: float
    t0_s: float
    height_m: float
    colours: tuple[tuple[int, int, int], tuple[int, int, int]]

    def position(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) of the feet at times ``t_s``; standing at the ends before and after the walk."""
        t_s = np.asarray(t_s, dtype=np.float64)
        span = abs(self.x1_m - self.x0_m)
        d = np.clip((t_s - self.t0_s) * self.speed_mps, 0.0, span)
        return self.x0_m + np.sign(self.x1_m - self.x0_m) * d, np.full(t_s.shape, self.y_m)

    def walking(self, t_s: float) -> bool:
        return self.t0_s <= t_s <= self.t0_s + abs(self.x1_m - self.x0_m) / self.speed_mps


def figure_box(camera: PinholeCamera, x: float, y: float, height_m: float) -> tuple[float, float, float, float] | None:
    """Image box (x1, y1, x2, y2) px of a standing figure at (x, y), or None behind the camera."""
    pts = np.array([[x - 0.28, y, 0.0], [x + 0.28, y, 0.0], [x - 0.28, y, height_m], [x + 0.28, y, height_m],
                    [x, y - 0.2, 0.0], [x, y + 0.2, 0.0]])
    uv, depth = camera.project(pts)
    if np.any(depth < NEAR_PLANE_M) or not np.all(np.isfinite(uv)):
        return None
    return float(uv[:, 0].min()), float(uv[:, 1].min()), float(uv[:, 0].max()), float(uv[:, 1].max())


def draw_person(frame: np.ndarray, camera: PinholeCamera, w: Walker, t_s: float, light: float) -> None:
    """Draw the figure of ``w`` at time ``t_s`` in place; ``light`` scales its colours (night < 1)."""
    xs, ys = w.position(np.array([t_s]))
    x, y = float(xs[0]), float(ys[0])
    h = w.height_m
    heading = np.array([1.0 if w.x1_m >= w.x0_m else -1.0, 0.0])
    side = np.array([-heading[1], heading[0]])
    phase = (t_s - w.t0_s) * w.speed_mps / STRIDE_M * math.pi if w.walking(t_s) else 0.0
    swing = 0.32 * math.sin(phase)
    jacket = tuple(float(c) * light for c in w.colours[0])
    trousers = tuple(float(c) * light for c in w.colours[1])
    skin = tuple(c * light for c in (120.0, 150.0, 200.0))
    hip, shoulder = 0.52 * h, 0.82 * h

    def p(forward: float, lateral: float, z: float) -> np.ndarray:
        return np.array([x + heading[0] * forward + side[0] * lateral, y + heading[1] * forward + side[1] * lateral, z])

    # Far leg, far arm, torso, near leg, near arm, head: roughly back to front for a side view.
    for sign in (1.0, -1.0):
        foot = p(sign * swing * h * 0.45, 0.1 * sign, 0.05)
        strip3d(frame, camera, p(0.0, 0.1 * sign, hip), foot, 0.15, trousers)
        strip3d(frame, camera, foot, foot + np.array([heading[0] * 0.2, heading[1] * 0.2, -0.05]), 0.1,
                tuple(c * 0.4 for c in trousers))
    for sign in (1.0, -1.0):
        hand = p(-sign * swing * h * 0.3, 0.24 * sign, hip - 0.02 * h)
        strip3d(frame, camera, p(0.0, 0.22 * sign, shoulder), hand, 0.1, jacket)
    fill_quad3d(frame, camera, [p(0, -0.2, hip), p(0, 0.2, hip), p(0, 0.22, shoulder), p(0, -0.22, shoulder)], jacket)
    strip3d(frame, camera, p(0, 0, hip), p(0, 0, shoulder), 0.3, jacket)
    uv, depth = camera.project(p(0.0, 0.0, 0.93 * h)[None, :])
    if depth[0] >= NEAR_PLANE_M and np.all(np.isfinite(uv)):
        r = camera.focal_px * 0.11 / float(depth[0])
        cv2.circle(frame, (int(round(uv[0, 0] * 16)), int(round(uv[0, 1] * 16))), max(16, int(round(r * 16))),
                   skin, -1, cv2.LINE_AA, 4)

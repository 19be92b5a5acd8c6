"""Compose one video frame: backdrop copy, signal lamps, vehicles far to near, lights, artefacts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from scenes.camera import PinholeCamera
from scenes.mesh import Lighting, Mesh, pose_vertices
from scenes.painter import Pose, VehicleView, draw_shadow, draw_vehicle, exposure_s, motion_blur, surface_pass
from scenes.plates import PlateRaster
from scenes.postfx import SensorNoise
from scenes.world import Backdrop, add_glow, draw_signal, lamp_light_at


@dataclass(frozen=True)
class VehicleRender:
    """What the renderer needs of one vehicle in one frame."""

    index: int
    mesh: Mesh
    plate: PlateRaster | None
    pose: Pose
    view: VehicleView
    velocity_mps: tuple[float, float]
    length_m: float
    width_m: float
    height_m: float
    toward: bool


class FrameRenderer:
    """Renders frames of one scene (holds the backdrop and the noise bank)."""

    def __init__(self, camera: PinholeCamera, backdrop: Backdrop, lighting: Lighting, noise: SensorNoise, osd_label: str,
                 seed: int = 0, lamps: list[tuple[float, float, float]] | None = None) -> None:
        self.camera = camera
        self.lamps = lamps or []
        self.seed = seed
        self._textures: dict[int, np.ndarray] = {}
        self.backdrop = backdrop
        self.lighting = lighting
        self.noise = noise
        self.osd_label = osd_label

    def render(self, frame_index: int, signal_state: str, vehicles: list[VehicleRender], clock_text: str,
               others: Sequence[tuple[float, Callable[[np.ndarray], None]]] = ()) -> np.ndarray:
        """The finished (noisy, JPEG-compressed) BGR uint8 frame.

        Args:
            others: (distance from the camera m, draw function) of further figures (pedestrians),
                painted in depth order among the vehicles.
        """
        frame = self.backdrop.image.copy()
        draw_signal(frame, self.backdrop.signal, signal_state, self.lighting.name)
        ordered = sorted(vehicles, key=lambda v: -v.view.depth_m)
        if self.lighting.name == "night":
            self._headlight_beams(frame, ordered)
        exposure = exposure_s(self.lighting)
        pending = sorted(others, key=lambda o: -o[0])
        for v in ordered:
            while pending and pending[0][0] > v.view.depth_m:
                pending.pop(0)[1](frame)
            draw_shadow(frame, v.pose, v.length_m, v.width_m, v.height_m, self.camera, self.lighting)
            draw_vehicle(frame, v.mesh, v.view, v.pose, self.camera, v.plate, self.lighting)
            surface_pass(frame, v.view, self._texture(v.index), gain=self._local_gain(v))
            motion_blur(frame, v.view, self._motion_px(v, exposure))
        for _, draw in pending:
            draw(frame)
        if self.lighting.lamps_on:
            self._lamp_glows(frame, ordered)
        _osd(frame, f"{clock_text}  {self.osd_label}")
        return self.noise.apply(frame, frame_index)

    def _local_gain(self, v: VehicleRender) -> float:
        """Street lamps light vehicles passing under them (dusk and night)."""
        if self.lighting.name == "day" or not self.lamps:
            return 1.0
        k = 1.6 if self.lighting.name == "night" else 0.4
        cx = v.pose.x_m - 0.5 * v.length_m * v.pose.hx
        cy = v.pose.y_m - 0.5 * v.length_m * v.pose.hy
        return 1.0 + k * min(lamp_light_at(self.lamps, cx, cy), 1.5)

    def _texture(self, index: int) -> np.ndarray:
        tex = self._textures.get(index)
        if tex is None:
            rng = np.random.default_rng([self.seed, 5, index])
            tex = cv2.GaussianBlur(rng.normal(0.0, 1.0, (10, 10)).astype(np.float32), (0, 0), 0.8)
            tex /= max(float(tex.std()), 1e-6)
            self._textures[index] = tex
        return tex

    def _motion_px(self, v: VehicleRender, exposure: float) -> tuple[float, float]:
        c = pose_vertices(np.array([[0.0, v.length_m / 2, 0.7]]), v.pose.x_m, v.pose.y_m, v.pose.hx, v.pose.hy)
        c2 = c + np.array([[v.velocity_mps[0] * exposure, v.velocity_mps[1] * exposure, 0.0]])
        uv, _ = self.camera.project(np.vstack([c, c2]))
        d = uv[1] - uv[0]
        return (float(d[0]), float(d[1])) if np.all(np.isfinite(d)) else (0.0, 0.0)

    def _headlight_beams(self, frame: np.ndarray, vehicles: list[VehicleRender]) -> None:
        """Light the road ahead of every vehicle (drawn before the vehicles, low resolution)."""
        h, w = frame.shape[:2]
        s = 4
        layer = np.zeros((h // s, w // s), np.float32)
        for v in vehicles:
            hw = v.width_m / 2
            for length, gain in ((7.0, 0.5), (14.0, 0.3), (24.0, 0.2)):
                spread = hw + 0.16 * length
                quad = np.array([[-hw + 0.1, -0.3, 0], [hw - 0.1, -0.3, 0], [spread, -length, 0], [-spread, -length, 0]])
                world = pose_vertices(quad, v.pose.x_m, v.pose.y_m, v.pose.hx, v.pose.hy)
                world[:, 1] = np.maximum(world[:, 1], 1.0)
                uv, depth = self.camera.project(world)
                if np.any(~np.isfinite(uv)):
                    continue
                pts = np.round(uv / s * 16).astype(np.int32)
                tmp = np.zeros_like(layer)
                cv2.fillConvexPoly(tmp, pts, gain, cv2.LINE_8, 4)
                layer += tmp
        layer = cv2.GaussianBlur(layer, (0, 0), 3.0)
        rows = np.nonzero(layer.max(axis=1) > 0.01)[0]
        if len(rows) == 0:
            return
        l0, l1 = int(rows[0]), int(rows[-1]) + 1
        r0, r1 = l0 * s, min(h, l1 * s)
        big = cv2.resize(layer[l0:l1], (w, (l1 - l0) * s), interpolation=cv2.INTER_LINEAR)[: r1 - r0]
        # Light multiplies the surface's own brightness (it is lit, not glowing), in 1/64 fixed
        # point on uint8, plus a little scattered light.
        gain = cv2.cvtColor(np.clip((1.0 + 1.6 * big) * 64.0, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
        roi = frame[r0:r1]
        cv2.multiply(roi, gain, dst=roi, scale=1.0 / 64.0)
        glow = cv2.cvtColor(np.clip(big * 45.0, 0, 54).astype(np.uint8), cv2.COLOR_GRAY2BGR)
        cv2.add(roi, glow, dst=roi)

    def _lamp_glows(self, frame: np.ndarray, vehicles: list[VehicleRender]) -> None:
        gain = 1.0 if self.lighting.name == "night" else 0.45
        for v in vehicles:
            for pos, kind in v.mesh.lights:
                facing = (kind == "head") == v.toward
                if not facing:
                    continue
                world = pose_vertices(pos[None, :], v.pose.x_m, v.pose.y_m, v.pose.hx, v.pose.hy)
                uv, depth = self.camera.project(world)
                if not np.all(np.isfinite(uv)):
                    continue
                r = max(1.2, self.camera.focal_px * (0.16 if kind == "head" else 0.09) / float(depth[0]))
                colour = (235, 245, 255) if kind == "head" else (40, 40, 255)
                add_glow(frame, (float(uv[0, 0]), float(uv[0, 1])), r * (1.5 if kind == "head" else 1.4), colour,
                         gain * (0.75 if kind == "head" else 0.7))
                cv2.circle(frame, (int(round(uv[0, 0])), int(round(uv[0, 1]))), max(1, int(r * 0.6)),
                           (250, 252, 255) if kind == "head" else (90, 90, 255), -1, cv2.LINE_AA)


def _osd(frame: np.ndarray, text: str) -> None:
    """CCTV-style on-screen clock and camera label (white with a dark outline), top left."""
    org = (14, 26)
    cv2.putText(frame, text, org, cv2.FONT_HERSHEY_SIMPLEX, 0.55, (20, 20, 20), 3, cv2.LINE_AA)
    cv2.putText(frame, text, org, cv2.FONT_HERSHEY_SIMPLEX, 0.55, (235, 235, 235), 1, cv2.LINE_AA)

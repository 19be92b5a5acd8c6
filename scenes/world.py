"""The static backdrop (sky, mountains, ground, buildings, trees, lamp posts, signal) and the
per-frame signal lamps.

The backdrop is rendered once per scene; each frame starts from a copy of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from scenes.camera import PinholeCamera
from scenes.ground import ground_coordinates, periodic_noise, render_ground
from scenes.layout import RoadLayout
from scenes.props import draw_buildings, draw_pole, draw_sprite, fill_quad3d, strip3d, tree_sprite

_LAMP_ON = {"red": (40, 36, 255), "amber": (20, 186, 255), "green": (170, 255, 40)}
_LAMP_OFF = {"red": (30, 28, 58), "amber": (24, 52, 64), "green": (46, 58, 34)}


@dataclass(frozen=True)
class SignalHeadPx:
    """The signal head as seen in the image.

    Attributes:
        box_px: (x, y, w, h) head box, px.
        lamps_px: centres of the red, amber and green lamps, px.
        radius_px: lamp radius, px.
    """

    box_px: tuple[float, float, float, float]
    lamps_px: tuple[tuple[float, float], ...]
    radius_px: float


@dataclass(frozen=True)
class Backdrop:
    """Static background image (H, W, 3) uint8 BGR with the signal head's image geometry."""

    image: np.ndarray
    signal: SignalHeadPx
    horizon_row: int


def street_lamps(layout: RoadLayout) -> list[tuple[float, float, float]]:
    """Lamp heads (X, Y, arm end X) in road metres along both sidewalks."""
    out = []
    for y in (42.0, 72.0, 102.0, 132.0, 162.0):
        out.append((layout.kerb_left_x_m - 0.6, y, layout.kerb_left_x_m + 1.4))
    for y in (20.0, 57.0, 87.0, 117.0, 147.0):
        out.append((layout.kerb_right_x_m + 0.6, y, layout.kerb_right_x_m - 1.4))
    return out


def lamp_light_at(lamps: list[tuple[float, float, float]], x_m: float, y_m: float) -> float:
    """Relative street-lamp illuminance at road point (x_m, y_m): 0 far from lamps, ~1 under one."""
    total = 0.0
    for _, y, x_head in lamps:
        total += float(np.exp(-((x_m - x_head) ** 2 + (y_m - y) ** 2) / (2 * 7.0 ** 2)))
    return total


def _sky(w: int, rows: int, horizon: int, lighting: str, rng: np.random.Generator) -> np.ndarray:
    top, bottom = {
        "day": ((212, 178, 150), (214, 210, 204)),
        "dusk": ((104, 62, 52), (96, 150, 224)),
        "night": ((26, 16, 12), (52, 48, 54)),
    }[lighting]
    t = np.clip(np.arange(rows, dtype=np.float32) / max(horizon, 1), 0, 1)[:, None, None] ** 0.8
    sky = np.array(top, np.float32) * (1 - t) + np.array(bottom, np.float32) * t
    sky = np.repeat(sky, w, axis=1)
    if lighting != "night":
        clouds = cv2.resize(periodic_noise(rng, 128, 2.2), (w, rows))
        c = np.clip(clouds - 0.3, 0, 1.5)[..., None] * (0.3 if lighting == "day" else 0.2)
        tint = np.array((235, 235, 232) if lighting == "day" else (120, 130, 190), np.float32)
        sky = sky * (1 - c) + tint * c
    # Mountains (the Ala-Too range stands south of Bishkek) along the horizon.
    x = np.arange(w, dtype=np.float32)
    ridge = np.zeros(w, np.float32)
    for k, amp in ((3, 20.0), (9, 8.0), (23, 3.5)):
        phase = rng.uniform(0, 2 * np.pi)
        ridge += amp * (0.5 + 0.5 * np.sin(x / w * 2 * np.pi * k / 2 + phase))
    ridge = horizon - 8 - ridge
    rows_idx = np.arange(rows, dtype=np.float32)[:, None]
    inside = rows_idx >= ridge[None, :]
    mcol = {"day": (172, 156, 146), "dusk": (110, 84, 96), "night": (34, 26, 24)}[lighting]
    snow = {"day": (226, 226, 230), "dusk": (150, 140, 170), "night": (44, 38, 36)}[lighting]
    is_snow = rows_idx < (ridge[None, :] + 9 + 5 * np.sin(x / 17)[None, :])
    mountain = np.where(is_snow[..., None], np.array(snow, np.float32), np.array(mcol, np.float32))
    blend = 0.55 if lighting == "day" else 0.7
    sky = np.where(inside[..., None], sky * (1 - blend) + mountain * blend, sky)
    return sky


def _light_pools(img: np.ndarray, camera: PinholeCamera, first: int, lamps, strength: float, ambient: float) -> np.ndarray:
    """Scale the ground by ambient light plus warm pools under the street lamps."""
    X, Y, _ = ground_coordinates(camera, first)
    light = np.full(X.shape, ambient, np.float32)
    for _, y, x_head in lamps:
        d2 = (X - x_head) ** 2 + (Y - y) ** 2
        light += strength * np.exp(-d2 / (2 * 7.0 ** 2))
    warm = np.array([0.80, 0.95, 1.12], np.float32)
    img[first:] *= light[..., None] * warm
    return img


def build_backdrop(camera: PinholeCamera, layout: RoadLayout, lighting: str, rng: np.random.Generator) -> Backdrop:
    """Render the static background for one scene (deterministic given ``rng``)."""
    h, w = camera.height_px, camera.width_px
    img, first = render_ground(camera, layout, lighting, rng)
    lamps = street_lamps(layout)
    if lighting == "night":
        _light_pools(img, camera, first, lamps, 1.5, 0.16)
    elif lighting == "dusk":
        _light_pools(img, camera, first, lamps, 0.25, 0.55)
    if first > 0:  # a camera pitched below the horizon sees no sky
        img[:first] = _sky(w, first, int(camera.horizon_y_px()), lighting, rng)
    draw_buildings(img, camera, rng, lighting)
    haze = np.array({"day": (196, 192, 186), "dusk": (120, 110, 130), "night": (34, 30, 28)}[lighting], np.float32)
    trees = []
    for side_x, ys in ((-16.8, np.arange(38.0, 200.0, 9.5)), (13.2, np.arange(37.0, 200.0, 10.5))):
        for y in ys:
            trees.append((side_x + rng.uniform(-0.4, 0.4), float(y + rng.uniform(-1.5, 1.5))))
    trees.sort(key=lambda p: -np.hypot(p[0] - camera.centre[0], p[1]))
    for tx, ty in trees:
        kind = "spruce" if rng.random() < 0.35 else "deciduous"
        height = rng.uniform(7.0, 11.0)
        seed = int(rng.integers(1 << 30))
        draw_sprite(img, camera, (tx, ty), height,
                    lambda hp, k=kind, s=seed: tree_sprite(np.random.default_rng(s), k, lighting, hp), haze)
    pole = {"day": (92, 96, 98), "dusk": (60, 60, 64), "night": (26, 26, 28)}[lighting]
    for x, y, x_head in sorted(lamps, key=lambda p: -p[1]):
        draw_pole(img, camera, (x, y), 9.0, x_head, 9.0, pole)
        fill_quad3d(img, camera, [[x_head - 0.35, y - 0.15, 8.9], [x_head + 0.35, y - 0.15, 8.9],
                                  [x_head + 0.35, y + 0.15, 8.75], [x_head - 0.35, y + 0.15, 8.75]], pole)
    sx, sy = layout.no_stopping_sign_m
    draw_pole(img, camera, (sx, sy), 2.9, None, 0.0, pole, 0.08)
    ring = [[sx + 0.3 * np.cos(a), sy + 0.02, 2.6 + 0.3 * np.sin(a)] for a in np.linspace(0, 2 * np.pi, 16, endpoint=False)]
    fill_quad3d(img, camera, ring, tuple(c * 1.1 for c in pole))
    signal = _draw_signal_assembly(img, camera, layout, pole)
    if lighting != "day":
        _lamp_glows(img, camera, lamps, 1.0 if lighting == "night" else 0.5)
    # Lens vignetting (about 15 % darker in the corners).
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r2 = ((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2
    img *= (1.0 - 0.08 * r2)[..., None]
    img = cv2.GaussianBlur(img, (0, 0), 0.6)
    # Distant facades and trees are soft on a real 720p CCTV image (and sharp detail there only
    # inflates every key frame of the video): blend in a softer copy above the stop line.
    cut = int(camera.ground_to_image(np.array([[0.0, layout.stop_line_y_m]]))[0, 1])
    soft = cv2.GaussianBlur(img, (0, 0), 1.1)
    ramp = np.clip((cut - np.arange(h, dtype=np.float32)) / 30.0, 0, 1)[:, None, None]
    img = img * (1 - ramp) + soft * ramp
    return Backdrop(np.clip(img, 0, 255).astype(np.uint8), signal, first)


def _lamp_glows(img: np.ndarray, camera: PinholeCamera, lamps, strength: float) -> None:
    for _, y, x_head in lamps:
        uv, d = camera.project(np.array([[x_head, y, 8.75]]))
        if d[0] < 1 or not np.all(np.isfinite(uv)):
            continue
        r = max(2.0, camera.focal_px * 0.5 / d[0])
        add_glow(img, (float(uv[0, 0]), float(uv[0, 1])), r * 1.8, (150, 215, 255), 0.75 * strength)
        cv2.circle(img, (int(uv[0, 0]), int(uv[0, 1])), max(1, int(r * 0.5)), (225, 245, 255), -1)


def add_glow(img: np.ndarray, centre: tuple[float, float], radius_px: float, colour, gain: float) -> None:
    """Add a Gaussian halo (float or uint8 image, in place; uint8 saturates)."""
    r = int(max(2, radius_px * 3.5))  # 3.5 sigma: no visible step at the window edge
    cx, cy = int(round(centre[0])), int(round(centre[1]))
    h, w = img.shape[:2]
    x0, y0, x1, y1 = max(cx - r, 0), max(cy - r, 0), min(cx + r + 1, w), min(cy + r + 1, h)
    if x1 <= x0 or y1 <= y0:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    g = np.exp(-((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2) / (2 * radius_px ** 2)) * gain
    add = g[..., None] * np.array(colour, np.float32)
    roi = img[y0:y1, x0:x1]
    if roi.dtype == np.uint8:
        roi[:] = np.clip(roi.astype(np.float32) + add, 0, 255).astype(np.uint8)
    else:
        roi += add


def _head_box(img: np.ndarray, camera: PinholeCamera, x0: float, x1: float, yf: float, z0: float, z1: float,
              plate: bool) -> np.ndarray | None:
    """A signal housing (0.3 m deep) whose camera-facing side is the plane Y = ``yf``; returns that face's px."""
    if plate:
        fill_quad3d(img, camera, [[x0 - 0.16, yf + 0.05, z0 - 0.16], [x1 + 0.16, yf + 0.05, z0 - 0.16],
                                  [x1 + 0.16, yf + 0.05, z1 + 0.16], [x0 - 0.16, yf + 0.05, z1 + 0.16]], (200, 200, 200))
        fill_quad3d(img, camera, [[x0 - 0.12, yf + 0.04, z0 - 0.12], [x1 + 0.12, yf + 0.04, z0 - 0.12],
                                  [x1 + 0.12, yf + 0.04, z1 + 0.12], [x0 - 0.12, yf + 0.04, z1 + 0.12]], (22, 22, 22))
    fill_quad3d(img, camera, [[x0, yf, z1], [x1, yf, z1], [x1, yf + 0.3, z1], [x0, yf + 0.3, z1]], (60, 62, 60))
    side = x1 if camera.centre[0] > x1 else x0
    fill_quad3d(img, camera, [[side, yf, z0], [side, yf + 0.3, z0], [side, yf + 0.3, z1], [side, yf, z1]], (44, 46, 44))
    return fill_quad3d(img, camera, [[x0, yf, z0], [x1, yf, z0], [x1, yf, z1], [x0, yf, z1]], (34, 36, 34))


def _draw_signal_assembly(img: np.ndarray, camera: PinholeCamera, layout: RoadLayout, pole) -> SignalHeadPx:
    """Mast with an arm over the approach lanes. The overhead head faces the approaching drivers,
    so the camera sees only its back; a camera-facing repeater carries the lamps the video shows
    (drawn per frame). Returns the repeater's image geometry."""
    xc, yf, zb, hw, hh = layout.signal_head_m
    px, py = layout.signal_pole_m
    arm_z = 6.3
    draw_pole(img, camera, (px, py), arm_z + 0.3, xc + 0.6, arm_z, tuple(c * 0.9 for c in pole), 0.22)
    x0, x1 = xc - hw / 2, xc + hw / 2
    z0, z1 = arm_z - 0.2 - hh, arm_z - 0.2
    strip3d(img, camera, np.array([xc, yf + 0.15, z1]), np.array([xc, yf + 0.15, arm_z]), 0.06, (30, 30, 30))
    _head_box(img, camera, x0, x1, yf, z0, z1, plate=False)
    # Repeater on its own pole across the road (the drivers' left), where the camera sees it over
    # the sidewalk rather than in front of far traffic.
    qx, qy = layout.signal_repeater_pole_m
    draw_pole(img, camera, (qx, qy), zb + hh + 0.2, None, 0.0, tuple(c * 0.9 for c in pole), 0.16)
    rx0 = qx - 0.14 - hw
    face = _head_box(img, camera, rx0, rx0 + hw, qy - 0.3, zb, zb + hh, plate=True)
    if face is None:
        raise ValueError("the signal repeater is not in front of the camera")
    centres = []
    for frac in (0.82, 0.5, 0.18):
        uv, _ = camera.project(np.array([[rx0 + hw / 2, qy - 0.31, zb + frac * hh]]))
        centres.append((float(uv[0, 0]), float(uv[0, 1])))
    _, d = camera.project(np.array([[rx0 + hw / 2, qy - 0.3, zb + hh / 2]]))
    radius = camera.focal_px * 0.15 / float(d[0])
    bx0, by0 = face.min(axis=0)
    bx1, by1 = face.max(axis=0)
    return SignalHeadPx((float(bx0), float(by0), float(bx1 - bx0), float(by1 - by0)), tuple(centres), radius)


def draw_signal(frame: np.ndarray, head: SignalHeadPx, state: str, lighting: str) -> None:
    """Light the head's lamps for ``state`` (green | amber | red | red_amber) in place."""
    on = {"green": {"green"}, "amber": {"amber"}, "red": {"red"}, "red_amber": {"red", "amber"}}.get(state, set())
    glow = {"day": 0.35, "dusk": 0.7, "night": 1.0}[lighting]
    for name, (x, y) in zip(("red", "amber", "green"), head.lamps_px):
        lit = name in on
        colour = _LAMP_ON[name] if lit else _LAMP_OFF[name]
        r = head.radius_px
        cv2.circle(frame, (int(round(x * 16)), int(round(y * 16))), int(round(r * 16)), colour, -1, cv2.LINE_AA, 4)
        if lit:
            cv2.circle(frame, (int(round(x * 16)), int(round(y * 16))), int(round(r * 0.5 * 16)),
                       tuple(min(255, c + 90) for c in colour), -1, cv2.LINE_AA, 4)
            add_glow(frame, (x, y), r * 1.6, colour, glow)

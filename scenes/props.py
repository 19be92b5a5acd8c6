"""Static 3D props of the site: building blocks with textured facades, trees, lamp posts, signs.

Everything here is drawn once per scene into the static background. Props stand on the
sidewalks and verges, outside every line of sight from the camera (over the approach lanes) to
a vehicle on the carriageway, so drawing vehicles over the background never gets occlusion wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from scenes.camera import NEAR_PLANE_M, PinholeCamera

_SHIFT = 4
_SIGNS = ("MARKET", "APTEKA", "KAFE", "BANK", "OPTIKA", "SALON", "DONER", "OBMEN")


@dataclass(frozen=True)
class Facade:
    """A vertical wall quad: corners (4, 3) road metres, bottom-left, bottom-right, top-right,
    top-left as seen from outside; ``width_m`` x ``height_m``; ``style`` picks the texture."""

    corners: np.ndarray
    width_m: float
    height_m: float
    style: str
    shade: float


def _haze(lighting: str) -> np.ndarray:
    return np.array({"day": (196, 192, 186), "dusk": (120, 110, 130), "night": (34, 30, 28)}[lighting], np.float32)


def building_facades(rng: np.random.Generator, lighting: str) -> list[Facade]:
    """Blocks along both sides: a road facade each, plus end walls facing the camera."""
    sun = np.array([-0.45, -0.55, 0.70])
    out: list[Facade] = []
    for side, x_face in ((-1, -19.0), (1, 15.0)):
        y = 32.5
        first = True
        while y < 330.0:
            length = float(rng.uniform(18, 34)) if not first else float(rng.uniform(26, 34))
            height = float(rng.choice([9.0, 12.0, 15.0, 15.0, 18.0, 27.0]))
            depth = 40.0 if first else 14.0
            style = str(rng.choice(["panel", "plaster", "brick", "plaster"]))
            xo = x_face + side * depth
            # Seen from the road, the left-hand blocks run near -> far left to right, the right-hand ones the other way.
            road = np.array([[x_face, y, 0], [x_face, y + length, 0], [x_face, y + length, height], [x_face, y, height]]) \
                if side < 0 else np.array([[x_face, y + length, 0], [x_face, y, 0], [x_face, y, height], [x_face, y + length, height]])
            n_road = np.array([-side, 0.0, 0.0])
            out.append(Facade(road, length, height, style, _lambert(n_road, sun, lighting)))
            end = np.array([[xo, y, 0], [x_face, y, 0], [x_face, y, height], [xo, y, height]]) if side < 0 \
                else np.array([[x_face, y, 0], [xo, y, 0], [xo, y, height], [x_face, y, height]])
            out.append(Facade(end, depth, height, style, _lambert(np.array([0.0, -1.0, 0.0]), sun, lighting)))
            gap = float(rng.choice([0.0, 0.0, 4.0, 8.0]))
            y += length + gap
            first = False
    return out


def _lambert(n: np.ndarray, sun: np.ndarray, lighting: str) -> float:
    if lighting != "day":
        return 0.75
    return 0.72 + 0.38 * max(0.0, float(n @ sun))


def facade_texture(f: Facade, ppm: float, lighting: str, rng: np.random.Generator) -> np.ndarray:
    """Procedural facade raster (BGR uint8) at ``ppm`` px per metre: storeys, windows, shops."""
    w, h = max(4, int(f.width_m * ppm)), max(4, int(f.height_m * ppm))
    base = {"panel": (176, 180, 182), "plaster": (150, 190, 214), "brick": (70, 92, 150)}[f.style]
    if f.style == "plaster":
        base = tuple(int(c) for c in rng.choice([(150, 190, 214), (196, 206, 210), (170, 200, 190), (200, 190, 170)]))
    img = np.empty((h, w, 3), np.float32)
    img[:] = base
    streak = cv2.resize(rng.normal(0, 1, (4, max(2, w // 6))).astype(np.float32), (w, h))
    img += 6.0 * streak[..., None]
    night = lighting == "night"
    lit_mask = np.zeros((h, w), np.uint8)
    floor_h, ground_h = 3.0, 4.2
    n_floors = max(1, int((f.height_m - ground_h) / floor_h))
    win_w, win_h = 1.4, 1.6
    cols = max(1, int(f.width_m / 3.0))
    pitch = f.width_m / cols
    for k in range(n_floors):
        z0 = ground_h + k * floor_h + 0.9
        for c in range(cols):
            x0 = c * pitch + (pitch - win_w) / 2
            lit = night and rng.random() < 0.35
            glass = (120, 190, 240) if lit else tuple(float(v) for v in rng.normal((64, 62, 58), 8))
            if not night and rng.random() < 0.3:
                glass = (150, 160, 165)
            _rect(img, ppm, h, x0 - 0.08, z0 - 0.08, x0 + win_w + 0.08, z0 + win_h + 0.08, (205, 205, 200))
            _rect(img, ppm, h, x0, z0, x0 + win_w, z0 + win_h, glass)
            if lit:
                _rect(lit_mask, ppm, h, x0, z0, x0 + win_w, z0 + win_h, (255,))
            _rect(img, ppm, h, x0 + win_w / 2 - 0.03, z0, x0 + win_w / 2 + 0.03, z0 + win_h, (190, 190, 186))
            if f.style == "panel" and c % 2 == 1:
                _rect(img, ppm, h, x0 - 0.3, z0 - 0.9, x0 + win_w + 0.3, z0 - 0.75, (150, 152, 150))
    # Shops on the ground floor: big windows and a sign board.
    shop_w = 5.0
    for s in range(max(1, int(f.width_m / shop_w))):
        x0 = s * shop_w + 0.6
        lit = night and rng.random() < 0.7
        _rect(img, ppm, h, x0, 0.4, x0 + shop_w - 1.2, 2.8, (110, 180, 230) if lit else (72, 70, 66))
        if lit:
            _rect(lit_mask, ppm, h, x0, 0.4, x0 + shop_w - 1.2, 2.8, (255,))
        if rng.random() < 0.6:
            colour = tuple(int(v) for v in rng.choice([(40, 40, 170), (150, 80, 30), (40, 140, 40), (30, 150, 220), (220, 220, 220)]))
            _rect(img, ppm, h, x0, 3.0, x0 + shop_w - 1.2, 3.8, colour)
            _rect(lit_mask, ppm, h, x0, 3.0, x0 + shop_w - 1.2, 3.8, (255,))
            text = str(rng.choice(_SIGNS))
            px0, py1 = int(x0 * ppm), h - int(3.1 * ppm)
            scale = max(0.2, 0.6 * ppm / 30.0)
            tc = (255, 255, 255) if colour != (220, 220, 220) else (30, 30, 30)
            cv2.putText(img, text, (px0 + 2, py1), cv2.FONT_HERSHEY_SIMPLEX, scale, tc, max(1, int(scale * 2)), cv2.LINE_AA)
    _rect(img, ppm, h, 0, f.height_m - 0.5, f.width_m, f.height_m, tuple(c * 0.7 for c in base))
    if not night:
        img *= f.shade * (0.6 if lighting == "dusk" else 1.0)
    else:  # only lit windows, shop fronts and signs keep their brightness
        img = np.where(lit_mask[..., None] > 0, img, img * 0.2)
    return np.clip(img, 0, 255).astype(np.uint8)


def _rect(img: np.ndarray, ppm: float, h: int, x0: float, z0: float, x1: float, z1: float, colour) -> None:
    """Fill a facade rectangle given in metres (x from the left, z up from the ground)."""
    cv2.rectangle(img, (int(x0 * ppm), h - int(z1 * ppm)), (int(x1 * ppm) - 1, h - int(z0 * ppm) - 1),
                  tuple(float(c) for c in colour), -1)


def draw_textured_quad(frame: np.ndarray, camera: PinholeCamera, corners: np.ndarray, texture: np.ndarray,
                       haze: np.ndarray, haze_k: float) -> None:
    """Warp ``texture`` onto the projected 3D quad (BL, BR, TR, TL), blending toward ``haze``."""
    uv, depth = camera.project(corners)
    if np.any(depth < NEAR_PLANE_M):
        return
    th, tw = texture.shape[:2]
    src = np.array([[0, th], [tw, th], [tw, 0], [0, 0]], np.float32)
    hgt, wid = frame.shape[:2]
    x0, y0 = np.maximum(np.floor(uv.min(axis=0)).astype(int) - 1, 0)
    x1, y1 = np.minimum(np.ceil(uv.max(axis=0)).astype(int) + 2, [wid, hgt])
    if x1 - x0 < 2 or y1 - y0 < 2:
        return
    m = cv2.getPerspectiveTransform(src, (uv - [x0, y0]).astype(np.float32))
    size = (int(x1 - x0), int(y1 - y0))
    warped = cv2.warpPerspective(texture, m, size, flags=cv2.INTER_LINEAR).astype(np.float32)
    mask = cv2.warpPerspective(np.full((th, tw), 255, np.uint8), m, size, flags=cv2.INTER_LINEAR)
    a = mask.astype(np.float32)[..., None] / 255.0
    warped = warped * (1 - haze_k) + haze * haze_k
    roi = frame[y0:y1, x0:x1]
    roi[:] = roi * (1 - a) + warped * a


def draw_buildings(frame: np.ndarray, camera: PinholeCamera, rng: np.random.Generator, lighting: str) -> None:
    """All building facades, far to near, into a float32 frame (in place)."""
    facades = building_facades(rng, lighting)
    dist = [float(np.min(np.linalg.norm(f.corners - camera.centre, axis=1))) for f in facades]
    haze = _haze(lighting)
    for d, f in sorted(zip(dist, facades), key=lambda t: -t[0]):
        ppm = float(np.clip(camera.focal_px / max(d, 1.0) * 1.3, 2.0, 40.0))
        tex = facade_texture(f, ppm, lighting, rng)
        k = 0.85 * (1.0 - float(np.exp(-d / 420.0)))
        draw_textured_quad(frame, camera, f.corners, tex, haze, k)


def tree_sprite(rng: np.random.Generator, kind: str, lighting: str, height_px: int) -> np.ndarray:
    """BGRA float32 sprite of a tree (spruce or late-autumn deciduous), base at bottom centre."""
    h = max(8, height_px)
    w = max(6, int(h * (0.55 if kind == "spruce" else 0.75)))
    img = np.zeros((h, w, 4), np.float32)
    dim = {"day": 1.0, "dusk": 0.55, "night": 0.22}[lighting]
    trunk = (50 * dim, 62 * dim, 74 * dim, 255)
    cx = w // 2
    cv2.rectangle(img, (cx - max(1, w // 30), int(h * 0.55)), (cx + max(1, w // 30), h - 1), trunk, -1)
    if kind == "spruce":
        layers = 7
        for i in range(layers):
            t = i / (layers - 1)
            y_top = int(h * (0.02 + 0.72 * t))
            y_bot = int(h * (0.22 + 0.70 * t))
            half = int(w * (0.12 + 0.38 * t))
            g = rng.normal(1.0, 0.08)
            col = (40 * g * dim, 70 * g * dim, 38 * g * dim, 255)
            pts = np.array([[cx, y_top], [cx + half, y_bot], [cx - half, y_bot]], np.int32)
            cv2.fillConvexPoly(img, pts, col, cv2.LINE_AA)
    else:
        for _ in range(7):
            ang = rng.uniform(-1.1, 1.1)
            x1 = int(cx + np.sin(ang) * w * 0.42)
            y1 = int(h * 0.55 - np.cos(ang) * h * rng.uniform(0.25, 0.5))
            cv2.line(img, (cx, int(h * 0.6)), (x1, y1), trunk, max(1, w // 60), cv2.LINE_AA)
        palette = [(40, 120, 150), (30, 90, 120), (50, 140, 170), (40, 80, 90), (60, 110, 110)]
        for _ in range(int(60 + 0.3 * h)):
            x = int(rng.normal(cx, w * 0.2))
            y = int(rng.normal(h * 0.35, h * 0.14))
            r = max(1, int(rng.uniform(0.03, 0.08) * w))
            c = palette[int(rng.integers(len(palette)))]
            cv2.circle(img, (x, y), r, (c[0] * dim, c[1] * dim, c[2] * dim, 235), -1, cv2.LINE_AA)
    return img


def draw_sprite(frame: np.ndarray, camera: PinholeCamera, base_m: tuple[float, float], height_m: float,
                sprite_fn, haze: np.ndarray) -> None:
    """Project a billboard of ``height_m`` standing at ground point ``base_m`` and composite it."""
    bottom, d0 = camera.project(np.array([[base_m[0], base_m[1], 0.0]]))
    top, d1 = camera.project(np.array([[base_m[0], base_m[1], height_m]]))
    if d0[0] < 1.0 or d1[0] < 1.0:
        return
    hpx = int(round(bottom[0, 1] - top[0, 1]))
    if hpx < 4:
        return
    spr = sprite_fn(hpx)
    sh, sw = spr.shape[:2]
    x0 = int(round(bottom[0, 0] - sw / 2))
    y0 = int(round(bottom[0, 1] - sh))
    hgt, wid = frame.shape[:2]
    fx0, fy0, fx1, fy1 = max(x0, 0), max(y0, 0), min(x0 + sw, wid), min(y0 + sh, hgt)
    if fx1 <= fx0 or fy1 <= fy0:
        return
    part = spr[fy0 - y0:fy1 - y0, fx0 - x0:fx1 - x0]
    a = part[..., 3:4] / 255.0
    k = 0.85 * (1.0 - float(np.exp(-float(d0[0]) / 420.0)))
    col = part[..., :3] * (1 - k) + haze * k
    roi = frame[fy0:fy1, fx0:fx1]
    roi[:] = roi * (1 - a) + col * a


def draw_pole(frame: np.ndarray, camera: PinholeCamera, base: tuple[float, float], height_m: float,
              arm_to_x: float | None, arm_z: float, colour: tuple[float, float, float], width_m: float = 0.18) -> None:
    """A vertical pole (and optional horizontal arm along X) as projected strips."""
    x, y = base
    strip3d(frame, camera, np.array([x, y, 0.0]), np.array([x, y, height_m]), width_m, colour)
    if arm_to_x is not None:
        strip3d(frame, camera, np.array([x, y, arm_z]), np.array([arm_to_x, y, arm_z]), width_m * 0.6, colour)


def strip3d(frame: np.ndarray, camera: PinholeCamera, a: np.ndarray, b: np.ndarray, width_m: float,
           colour: tuple[float, float, float]) -> None:
    uv, depth = camera.project(np.array([a, b]))
    if np.any(depth < NEAR_PLANE_M):
        return
    wpx = [max(1.0, camera.focal_px * width_m / d) for d in depth]
    d = uv[1] - uv[0]
    n = np.array([-d[1], d[0]]) / max(np.linalg.norm(d), 1e-6)
    quad = np.array([uv[0] + n * wpx[0] / 2, uv[1] + n * wpx[1] / 2, uv[1] - n * wpx[1] / 2, uv[0] - n * wpx[0] / 2])
    cv2.fillConvexPoly(frame, np.round(quad * (1 << _SHIFT)).astype(np.int32), colour, cv2.LINE_8, _SHIFT)


def fill_quad3d(frame: np.ndarray, camera: PinholeCamera, pts: np.ndarray, colour: tuple[float, float, float]) -> np.ndarray | None:
    """Fill a projected 3D polygon; returns its image points (or None when behind the camera)."""
    uv, depth = camera.project(np.asarray(pts, float))
    if np.any(depth < NEAR_PLANE_M):
        return None
    cv2.fillConvexPoly(frame, np.round(uv * (1 << _SHIFT)).astype(np.int32), colour, cv2.LINE_8, _SHIFT)
    return uv

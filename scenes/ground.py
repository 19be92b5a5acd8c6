"""The ground as the camera sees it: asphalt, sidewalks, verges and painted markings.

Rendered once per scene in image space: every pixel below the horizon is mapped back to road
metres through the ground homography and its texture evaluated there, with each noise octave
faded out where one pixel covers more ground than the octave's wavelength (cheap anti-aliasing,
so the far road does not shimmer). Markings are polygons in road metres, projected and filled
with anti-aliasing, then worn with noise.
"""

from __future__ import annotations

import cv2
import numpy as np

from scenes.camera import PinholeCamera
from scenes.geom2d import clip_polygon_halfplane
from scenes.layout import RoadLayout

_SHIFT = 4
_WHITE = np.array([214.0, 216.0, 214.0])
_YELLOW = np.array([40.0, 178.0, 222.0])


def periodic_noise(rng: np.random.Generator, size: int = 256, falloff: float = 1.6) -> np.ndarray:
    """A tileable (size, size) float32 noise with a 1/f^falloff spectrum, zero mean, unit std."""
    white = rng.normal(0.0, 1.0, (size, size))
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.fftfreq(size)[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    f[0, 0] = 1.0
    spec = np.fft.fft2(white) / f ** falloff
    spec[0, 0] = 0.0
    out = np.real(np.fft.ifft2(spec))
    return ((out - out.mean()) / out.std()).astype(np.float32)


def _sample(tile: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Sample a periodic tile at fractional tile pixel coords (wrapping)."""
    return cv2.remap(tile, u, v, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)


def _octaves(tiles: list[np.ndarray], x: np.ndarray, y: np.ndarray, fp: np.ndarray,
             scales: list[tuple[float, float]]) -> np.ndarray:
    """Sum of noise octaves; ``scales`` = (metres per tile pixel, amplitude)."""
    out = np.zeros_like(x)
    for k, (s, amp) in enumerate(scales):
        tile = tiles[k % len(tiles)]
        fade = np.exp(-((fp / (3.0 * s)) ** 2))
        out += amp * fade * _sample(tile, (x / s).astype(np.float32), (y / s + 37.0 * k).astype(np.float32))
    return out


def _smooth_band(d: np.ndarray, half: float, fp: np.ndarray) -> np.ndarray:
    """Coverage (0-1) of a band |d| < half under a pixel footprint ``fp`` (all in metres)."""
    w = np.maximum(fp, 1e-3)
    return np.clip((half - np.abs(d)) / w + 0.5, 0.0, 1.0)


def ground_coordinates(camera: PinholeCamera, first_row: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Road X, Y (m) and pixel footprint (m) for every pixel of rows first_row..height-1."""
    h, w = camera.height_px, camera.width_px
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float64) + 0.5, np.arange(first_row, h, dtype=np.float64) + 0.5)
    inv = np.linalg.inv(camera.ground_homography)
    den = inv[2, 0] * xs + inv[2, 1] * ys + inv[2, 2]
    X = (inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2]) / den
    Y = (inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2]) / den
    gx = np.abs(np.gradient(Y, axis=0)) + np.abs(np.gradient(X, axis=1))
    return X.astype(np.float32), Y.astype(np.float32), gx.astype(np.float32)


def render_ground(camera: PinholeCamera, layout: RoadLayout, lighting: str, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Ground image (H, W, 3) float32 BGR 0-255 and the first ground row (just under the horizon)."""
    h, w = camera.height_px, camera.width_px
    first = max(0, int(np.ceil(camera.horizon_y_px())) + 2)
    X, Y, fp = ground_coordinates(camera, first)
    tiles = [periodic_noise(rng, 256, 1.2), periodic_noise(rng, 256, 1.8)]
    fine = _octaves(tiles, X, Y, fp, [(0.004, 3.5), (0.012, 4.0), (0.05, 4.0)])
    coarse = _octaves(tiles, X, Y, fp, [(0.35, 3.5), (2.0, 4.0), (9.0, 3.0)])
    kl, kr = layout.kerb_left_x_m, layout.kerb_right_x_m
    iy0, iy1 = layout.intersection_y_m
    cross = (Y > iy0 - 0.5) & (Y < iy1 + 0.5)
    road = ((X > kl) & (X < kr)) | cross
    walk_l = (X <= kl) & (X > kl - layout.sidewalk_width_m)
    walk_r = (X >= kr) & (X < kr + layout.sidewalk_width_m)
    cross_walk = ((Y > iy0 - 4.5) & (Y <= iy0 - 0.5)) | ((Y >= iy1 + 0.5) & (Y < iy1 + 4.5))
    sidewalk = ((walk_l | walk_r) & ~cross) | (cross_walk & ~((X > kl) & (X < kr)))
    img = np.empty((Y.shape[0], w, 3), np.float32)
    # Asphalt: grey with grain, blotches, darker tyre tracks and a darker waiting area.
    base = 92.0 + fine + coarse
    tracks = np.zeros_like(X)
    for lane in layout.lanes:
        for off in (-0.85, 0.85):
            d = X - (lane.centre_x_m + off)
            sigma = np.sqrt(0.3 ** 2 + fp ** 2)
            tracks += 0.3 / sigma * np.exp(-0.5 * (d / sigma) ** 2)
    base -= 9.0 * np.clip(tracks, 0, 1.2) * ((X > kl) & (X < kr))
    stop = layout.stop_line_y_m
    wait = np.exp(-0.5 * ((Y - (stop + 6.0)) / 5.0) ** 2)
    for lane in layout.lanes[:3]:
        base -= 10.0 * wait * np.exp(-0.5 * ((X - lane.centre_x_m) / np.sqrt(0.35 ** 2 + fp ** 2)) ** 2)
    for _ in range(9):  # repaired patches
        px, py = rng.uniform(kl + 0.5, kr - 2.5), rng.uniform(12.0, 110.0)
        pw, ph = rng.uniform(0.8, 2.2), rng.uniform(1.0, 4.0)
        inside = _smooth_band(X - (px + pw / 2), pw / 2, fp) * _smooth_band(Y - (py + ph / 2), ph / 2, fp)
        base += inside * rng.choice([-7.0, -4.0, 4.0])
    for _ in range(3):  # manhole covers
        mx, my = rng.uniform(kl + 1.0, kr - 1.0), rng.uniform(9.0, 40.0)
        r = np.hypot(X - mx, Y - my)
        base -= 22.0 * _smooth_band(r, 0.36, fp) - 12.0 * _smooth_band(r - 0.36, 0.04, fp)
    gutter = _smooth_band(X - (kl + 0.25), 0.25, fp) + _smooth_band(X - (kr - 0.25), 0.25, fp)
    base -= 12.0 * gutter * ~cross
    tone = np.array([1.0, 1.0, 1.02], np.float32)
    img[:] = (base[..., None] * tone).astype(np.float32)
    # Sidewalk: concrete pavers 0.5 m with joints.
    joints = np.maximum(_smooth_band(((X + 0.25) % 0.5) - 0.25, 0.012, fp), _smooth_band(((Y + 0.25) % 0.5) - 0.25, 0.012, fp))
    fade = np.exp(-((fp / 0.15) ** 2))
    paver = 148.0 + 0.8 * fine + 0.9 * coarse - 26.0 * joints * fade
    walk_col = paver[..., None] * np.array([0.96, 1.0, 1.03], np.float32)
    img = np.where(sidewalk[..., None], walk_col, img)
    # Kerb stones: a light band along the road edge.
    kerb = np.maximum(_smooth_band(X - (kl - 0.1), 0.12, fp), _smooth_band(X - (kr + 0.1), 0.12, fp)) * ~cross
    img = img * (1 - kerb[..., None]) + (170.0 + coarse[..., None]) * kerb[..., None]
    # Verges beyond the sidewalks: faded November grass and soil.
    verge = ~road & ~sidewalk & (kerb < 0.5)
    grass = np.stack([52 + 0.8 * coarse + fine, 92 + coarse + fine, 96 + 1.2 * coarse + fine], axis=-1)
    img = np.where(verge[..., None], grass, img)
    _paint_markings(img, camera, layout, first, X, Y, fp, tiles)
    # Aerial perspective: distant ground fades to the haze colour.
    haze = {"day": (196, 192, 186), "dusk": (120, 110, 130), "night": (34, 30, 28)}[lighting]
    k = (1.0 - np.exp(-np.maximum(Y, 0) / 420.0))[..., None] * 0.85
    img = img * (1 - k) + np.array(haze, np.float32) * k
    full = np.zeros((h, w, 3), np.float32)
    full[first:] = img
    return full, first


def marking_polygons(layout: RoadLayout) -> list[tuple[np.ndarray, str]]:
    """Painted markings as (polygon (K, 2) road metres, colour 'white'|'yellow')."""
    polys: list[tuple[np.ndarray, str]] = []

    def strip(x0: float, x1: float, y0: float, y1: float, colour: str = "white") -> None:
        polys.append((np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]), colour))

    for line in layout.lines:
        (xa, ya), (xb, yb) = line.points_m[0], line.points_m[-1]
        if line.kind == "stop_line":
            half = layout.stop_line_width_m / 2
            strip(min(xa, xb), max(xa, xb), ya - half, ya + half)
        elif line.double:
            for off in (-0.1, 0.1):
                strip(xa + off - 0.05, xa + off + 0.05, ya, yb)
        elif line.kind == "solid":
            strip(xa - 0.07, xa + 0.07, ya, yb)
        else:
            y = ya
            while y < yb - 0.5:
                strip(xa - 0.07, xa + 0.07, y, min(y + 3.0, yb))
                y += 9.0
    iy0, iy1 = layout.intersection_y_m
    ym = 0.5 * (iy0 + iy1)
    kl, kr = layout.kerb_left_x_m, layout.kerb_right_x_m
    for xa, xb in ((-80.0, kl - 5.0), (kr + 5.0, 80.0)):
        for off in (-0.1, 0.1):  # the cross street's double centre line
            strip(xa, xb, ym + off - 0.05, ym + off + 0.05)
        for yl in (ym - 4.5, ym + 4.5):
            x = xa
            while x < xb - 0.5:
                strip(x, min(x + 3.0, xb), yl - 0.07, yl + 0.07)
                x += 9.0
    for xa, xb in ((kl - 4.5, kl - 0.5), (kr + 0.5, kr + 4.5)):  # zebras across the cross street
        y = iy0 + 0.5
        while y < iy1 - 0.5:
            strip(xa, xb, y, y + 0.5)
            y += 1.0
    # Cross-street stop lines, on the right-hand half of each approach (right-hand traffic).
    strip(kl - 5.4, kl - 5.0, iy0 + 0.3, ym - 0.2)
    strip(kr + 5.0, kr + 5.4, ym + 0.2, iy1 - 0.3)
    c0, c1 = layout.crosswalk_y_m
    x = layout.kerb_left_x_m + 0.5
    while x < layout.kerb_right_x_m - 0.5:
        strip(x, x + 0.5, c0, c1)
        x += 1.0
    for lane, kinds in zip(layout.lanes[:3], ("straight_right", "straight", "straight_left")):
        polys.extend((p, "white") for p in _arrow(lane.centre_x_m, layout.stop_line_y_m + 8.0, kinds))
    zone = next(z for z in layout.zones if z.kind == "no_stopping")
    zx = [p[0] for p in zone.polygon_m]
    zy = [p[1] for p in zone.polygon_m]
    kerb_x = min(zx)
    pts = [(kerb_x + (0.25 if i % 2 == 0 else 1.05), y) for i, y in enumerate(np.arange(min(zy), max(zy) + 0.01, 2.5))]
    for (xa, ya), (xb, yb) in zip(pts[:-1], pts[1:]):
        d = np.array([xb - xa, yb - ya])
        n = np.array([-d[1], d[0]]) / np.linalg.norm(d) * 0.06
        polys.append((np.array([[xa, ya] + n, [xb, yb] + n, [xb, yb] - n, [xa, ya] - n]), "yellow"))
    return polys


def _arrow(xc: float, y_tail: float, kind: str) -> list[np.ndarray]:
    """A lane arrow painted for drivers approaching (pointing to decreasing Y), 5 m long."""
    shaft = np.array([[xc - 0.08, y_tail], [xc + 0.08, y_tail], [xc + 0.08, y_tail - 3.6], [xc - 0.08, y_tail - 3.6]])
    head = np.array([[xc - 0.35, y_tail - 3.6], [xc + 0.35, y_tail - 3.6], [xc, y_tail - 5.0]])
    out = [shaft, head]
    for side, name in ((-1.0, "straight_right"), (1.0, "straight_left")):
        if kind == name:
            # Drivers face -Y, so their right is -X.
            stem = np.array([[xc, y_tail - 1.6], [xc, y_tail - 1.9], [xc + side * 0.9, y_tail - 2.5], [xc + side * 0.9, y_tail - 2.2]])
            tip = np.array([[xc + side * 0.75, y_tail - 1.8], [xc + side * 0.75, y_tail - 2.9], [xc + side * 1.3, y_tail - 2.55]])
            out += [stem, tip]
    return out


def _paint_markings(img: np.ndarray, camera: PinholeCamera, layout: RoadLayout, first: int, X: np.ndarray,
                    Y: np.ndarray, fp: np.ndarray, tiles: list[np.ndarray]) -> None:
    h, w = img.shape[:2]
    # Anti-aliased filling needs 8-bit canvases.
    cover = {"white": np.zeros((h, w), np.uint8), "yellow": np.zeros((h, w), np.uint8)}
    visible = camera.ground_depth_halfplane()
    for poly, colour in marking_polygons(layout):
        poly = clip_polygon_halfplane(np.asarray(poly, dtype=np.float64), visible)  # drop what is behind the camera
        if len(poly) < 3:
            continue
        uv = camera.ground_to_image(poly)
        uv[:, 1] -= first
        ipts = np.round(uv * (1 << _SHIFT)).astype(np.int32)
        cv2.fillPoly(cover[colour], [ipts], 255, cv2.LINE_AA, _SHIFT)
    wear = 0.72 + 0.28 * np.clip(_octaves(tiles, X, Y, fp, [(0.02, 0.6), (0.15, 0.6), (1.0, 0.5)]) + 0.4, 0, 1)
    for colour, paint in (("white", _WHITE), ("yellow", _YELLOW)):
        a = cover[colour].astype(np.float32) / 255.0 * wear
        img[:] = img * (1 - a[..., None]) + paint * a[..., None]

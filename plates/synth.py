"""Generated Kyrgyz plates as an enforcement camera sees them, with exact truth.

There is no real Kyrgyz plate photo in ../shared/data, so the KG reading figures come from
plates drawn by the scene renderer (:func:`scenes.plates.render_plate`; a simpler drawing here
when that module is absent), then put through what a camera does to them: perspective from a
pole camera (yaw, pitch, roll), scaling to the plate's size in px, optical blur, sensor noise,
exposure and JPEG compression. Each sample can be a plate crop (for the OCR alone) or a vehicle
crop (a plate on a car front, for detection + OCR), and a *track* is a few such frames of one
vehicle approaching (plate growing, blur varying), for multi-frame voting.

"Enforcement-camera resolution": an ANPR lane camera frames a 520 mm plate at about 100-250 px
wide (characters 14-35 px tall). The overview camera of the generated scenes gives 40-48 px,
which is below what any reader can do; :func:`sample_plate` takes the width range so the
evaluation can report both.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

logger = logging.getLogger(__name__)

KG_LETTERS = "ABCEHKMOPTXY"
#: (width, height) mm of the one-line car plate and the two-line motorcycle plate.
PLATE_MM = {"car": (520, 110), "motorcycle": (190, 145)}
#: Motorcycle plates in the generated sets are drawn this much larger than the car plates' px per
#: mm (the sets have always done so; no measured reason is recorded).
MOTORCYCLE_PLATE_ENLARGE = 1.4


def plate_widths_px(car_widths_px: tuple[float, float], vclass: str) -> tuple[float, float]:
    """The (min, max) plate width px to draw for ``vclass``, given the car plates' range.

    A motorcycle plate is 190 mm wide against a car plate's 520: proportionally narrower, times
    :data:`MOTORCYCLE_PLATE_ENLARGE`. Used by every generated plate set (evaluation, training).
    """
    if vclass == "car":
        return car_widths_px
    mm, car_mm = PLATE_MM[vclass][0], PLATE_MM["car"][0]
    return tuple(w * mm / car_mm * MOTORCYCLE_PLATE_ENLARGE for w in car_widths_px)  # type: ignore[return-value]


def random_kg_plate(rng: np.random.Generator, vclass: str = "car") -> str:
    """A KG 2016 plate number as printed: ``"01 123 ABC"`` (car) or ``"01 123 AB"`` (motorcycle)."""
    n_letters = 2 if vclass == "motorcycle" else 3
    region = int(rng.integers(1, 10))
    digits = int(rng.integers(0, 1000))
    letters = "".join(KG_LETTERS[int(i)] for i in rng.integers(0, len(KG_LETTERS), n_letters))
    return f"{region:02d} {digits:03d} {letters}"


def _fallback_render(text: str, vclass: str) -> np.ndarray:
    """A plain KG plate at 2 px/mm when the scene renderer is not there."""
    w_mm, h_mm = PLATE_MM[vclass]
    img = np.full((h_mm * 2, w_mm * 2, 3), 242, np.uint8)
    cv2.rectangle(img, (4, 4), (w_mm * 2 - 5, h_mm * 2 - 5), (24, 24, 24), 6)
    region, digits, letters = text.split(" ")
    font = cv2.FONT_HERSHEY_SIMPLEX
    if vclass == "motorcycle":
        cv2.putText(img, f"{region} {digits}", (24, 120), font, 3.2, (24, 24, 24), 10, cv2.LINE_AA)
        cv2.putText(img, letters, (110, 260), font, 3.6, (24, 24, 24), 11, cv2.LINE_AA)
    else:
        cv2.line(img, (208, 10), (208, h_mm * 2 - 10), (24, 24, 24), 4)
        cv2.putText(img, region, (40, 115), font, 3.0, (24, 24, 24), 9, cv2.LINE_AA)
        cv2.putText(img, "KG", (90, 175), font, 1.3, (24, 24, 24), 3, cv2.LINE_AA)
        cv2.putText(img, f"{digits} {letters}", (236, 180), font, 5.0, (24, 24, 24), 15, cv2.LINE_AA)
    return img


def render_kg_plate(text: str, vclass: str = "car") -> np.ndarray:
    """The plate raster at 2 px/mm (BGR uint8): the scene renderer's when available."""
    try:
        from scenes.plates import render_plate

        return render_plate(text, vclass)
    except (ImportError, AttributeError, TypeError, ValueError) as exc:  # renderer absent or changed
        logger.debug("scene plate renderer unusable (%s); drawing a plain plate", type(exc).__name__)
        return _fallback_render(text, vclass)


@dataclass(frozen=True)
class CameraLook:
    """How one frame sees the plate.

    Attributes:
        width_px: plate width in the image, px.
        yaw_deg, pitch_deg, roll_deg: plate orientation relative to the camera, degrees.
        blur_sigma_px: Gaussian blur, px (defocus + motion).
        noise_std: sensor noise, grey levels.
        gain: exposure multiplier.
        jpeg_quality: 1-100.
    """

    width_px: float
    yaw_deg: float = 0.0
    pitch_deg: float = 15.0
    roll_deg: float = 0.0
    blur_sigma_px: float = 0.5
    noise_std: float = 3.0
    gain: float = 1.0
    jpeg_quality: int = 85


def sample_look(rng: np.random.Generator, width_px: tuple[float, float]) -> CameraLook:
    """A random camera look with the plate ``width_px`` (min, max) wide."""
    return CameraLook(
        width_px=float(rng.uniform(*width_px)),
        yaw_deg=float(rng.uniform(-20, 20)),
        pitch_deg=float(rng.uniform(5, 25)),
        roll_deg=float(rng.uniform(-4, 4)),
        blur_sigma_px=float(rng.uniform(0.2, 1.0)),
        noise_std=float(rng.uniform(1, 6)),
        gain=float(rng.uniform(0.6, 1.15)),
        jpeg_quality=int(rng.integers(55, 95)),
    )


def _plate_quad(raster_wh: tuple[int, int], look: CameraLook, centre: tuple[float, float]) -> np.ndarray:
    """Image corners (tl, tr, br, bl) of the plate seen under ``look``, centred at ``centre``."""
    w, h = raster_wh
    corners = np.array([[-w / 2, -h / 2, 0], [w / 2, -h / 2, 0], [w / 2, h / 2, 0], [-w / 2, h / 2, 0]], float)
    yaw, pitch, roll = np.radians([look.yaw_deg, look.pitch_deg, look.roll_deg])
    ry = np.array([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]])
    rx = np.array([[1, 0, 0], [0, np.cos(pitch), -np.sin(pitch)], [0, np.sin(pitch), np.cos(pitch)]])
    rz = np.array([[np.cos(roll), -np.sin(roll), 0], [np.sin(roll), np.cos(roll), 0], [0, 0, 1]])
    pts = corners @ (rz @ rx @ ry).T
    distance = 4.0 * w  # a mild perspective: the camera is ~4 plate widths away in raster units
    proj = pts[:, :2] * distance / (distance + pts[:, 2:3])
    scale = look.width_px / w
    return (proj * scale + np.array(centre)).astype(np.float32)


def _degrade(image: np.ndarray, look: CameraLook, rng: np.random.Generator) -> np.ndarray:
    img = image.astype(np.float32) * look.gain
    if look.blur_sigma_px > 0.05:
        img = cv2.GaussianBlur(img, (0, 0), look.blur_sigma_px)
    img += rng.normal(0.0, look.noise_std, img.shape).astype(np.float32)
    img = np.clip(img, 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, look.jpeg_quality])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else img


def paint_plate(canvas: np.ndarray, raster: np.ndarray, quad: np.ndarray) -> None:
    """Warp ``raster`` into ``quad`` of ``canvas`` (in place), area-filtered to avoid aliasing."""
    h, w = raster.shape[:2]
    target_w = float(np.linalg.norm(quad[1] - quad[0]))
    src = raster
    while src.shape[1] > 2 * target_w and src.shape[1] > 32:  # pre-shrink: warpPerspective aliases
        src = cv2.pyrDown(src)
    sh, sw = src.shape[:2]
    m = cv2.getPerspectiveTransform(np.array([[0, 0], [sw, 0], [sw, sh], [0, sh]], np.float32), quad)
    size = (canvas.shape[1], canvas.shape[0])
    warped = cv2.warpPerspective(src, m, size, flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.full((sh, sw), 255, np.uint8), m, size, flags=cv2.INTER_LINEAR)
    alpha = mask.astype(np.float32)[..., None] / 255.0
    canvas[:] = np.clip(canvas * (1 - alpha) + warped * alpha, 0, 255).astype(np.uint8)
    del h, w


@dataclass(frozen=True)
class PlateSample:
    """One generated image with its truth.

    Attributes:
        image: BGR uint8: the plate with a margin (``kind="plate"``) or a vehicle front.
        text: the plate number as printed, e.g. ``"01 123 ABC"``.
        vclass: ``"car"`` or ``"motorcycle"``.
        plate_quad: (4, 2) plate corners in ``image`` px.
        look: how the camera saw it.
    """

    image: np.ndarray
    text: str
    vclass: str
    plate_quad: np.ndarray
    look: CameraLook


def sample_plate(
    rng: np.random.Generator,
    text: str,
    vclass: str,
    look: CameraLook,
    vehicle: bool = False,
) -> PlateSample:
    """Draw ``text`` as seen under ``look``: a plate crop, or a vehicle front when ``vehicle``."""
    raster = render_kg_plate(text, vclass)
    rh, rw = raster.shape[:2]
    plate_h = look.width_px * rh / rw
    if vehicle:
        body_w = look.width_px * (1750 if vclass == "car" else 800) / PLATE_MM[vclass][0]
        width, height = int(body_w * 1.15), int(body_w * 0.85)
        canvas = _vehicle_front(rng, width, height, body_w)
        centre = (width / 2 + rng.uniform(-0.05, 0.05) * width, height * 0.72)
    else:
        margin = max(6.0, 0.25 * plate_h)
        width, height = int(look.width_px * 1.3 + 2 * margin), int(plate_h * 1.6 + 2 * margin)
        shade = int(rng.integers(30, 200))
        canvas = np.full((height, width, 3), shade, np.uint8)
        centre = (width / 2, height / 2)
    quad = _plate_quad((rw, rh), look, centre)
    paint_plate(canvas, raster, quad)
    return PlateSample(_degrade(canvas, look, rng), text, vclass, quad, look)


def _vehicle_front(rng: np.random.Generator, width: int, height: int, body_w: float) -> np.ndarray:
    """A crude car front: road-grey background, coloured body, dark grille, two lamps."""
    img = np.full((height, width, 3), int(rng.integers(70, 140)), np.uint8)
    colour = tuple(int(c) for c in rng.integers(20, 230, 3))
    x0, x1 = int((width - body_w) / 2), int((width + body_w) / 2)
    cv2.rectangle(img, (x0, int(height * 0.15)), (x1, int(height * 0.95)), colour, -1)
    cv2.rectangle(
        img, (x0 + int(body_w * 0.1), int(height * 0.05)), (x1 - int(body_w * 0.1), int(height * 0.3)), (60, 60, 60), -1
    )
    cv2.rectangle(
        img,
        (x0 + int(body_w * 0.3), int(height * 0.42)),
        (x1 - int(body_w * 0.3), int(height * 0.55)),
        (30, 30, 30),
        -1,
    )
    lamp_r = max(2, int(body_w * 0.06))
    for x in (x0 + int(body_w * 0.15), x1 - int(body_w * 0.15)):
        cv2.circle(img, (x, int(height * 0.48)), lamp_r, (230, 230, 230), -1)
    return img


def sample_track(
    rng: np.random.Generator,
    text: str,
    vclass: str,
    n_frames: int,
    width_px: tuple[float, float],
    vehicle: bool = True,
) -> list[PlateSample]:
    """``n_frames`` views of one vehicle approaching: the plate grows from min to max width."""
    base = sample_look(rng, width_px)
    widths = np.linspace(width_px[0], width_px[1], n_frames) * rng.uniform(0.9, 1.1)
    frames = []
    for w in widths:
        look = CameraLook(
            width_px=float(w),
            yaw_deg=base.yaw_deg + float(rng.normal(0, 2)),
            pitch_deg=base.pitch_deg,
            roll_deg=base.roll_deg,
            blur_sigma_px=float(np.clip(base.blur_sigma_px + rng.normal(0, 0.3), 0.1, 2.0)),
            noise_std=base.noise_std,
            gain=base.gain,
            jpeg_quality=base.jpeg_quality,
        )
        frames.append(sample_plate(rng, text, vclass, look, vehicle=vehicle))
    return frames

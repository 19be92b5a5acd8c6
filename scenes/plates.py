"""Kyrgyz registration plates: grammar, random unique numbers, and the plate raster.

Format (DOMAIN.md): KG since 1 Jun 2016, ``NN NNN LLL`` (e.g. ``01 123 ABC``), region code
01-09, 520 x 110 mm, white plate, black FE-Schrift-like characters, left field with the region
code above a small flag and "KG". Letters are the twelve Latin letters that have a Cyrillic
look-alike. Motorcycles: ``NN NNN LL`` on a two-line rear plate, region + digits on the top
line, letters below; the motorcycle format and its 190 x 145 mm size are uncertain (DOMAIN.md
marks the motorcycle grammar as unconfirmed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import cv2
import numpy as np

KG_LETTERS = "ABCEHKMOPTXY"
KG_PLATE_RE = re.compile(r"^0[1-9] [0-9]{3} [ABCEHKMOPTXY]{3}$")
KG_MOTO_PLATE_RE = re.compile(r"^0[1-9] [0-9]{3} [ABCEHKMOPTXY]{2}$")
#: Plate size (width, height) in metres per layout.
PLATE_SIZE_M = {"one_line": (0.520, 0.110), "two_line": (0.190, 0.145)}
_PX_PER_MM = 2.0
_INK = (24, 24, 24)
_PAPER = (242, 243, 241)


def plate_layout(vclass: str) -> str:
    """"two_line" for motorcycles, "one_line" for every other class."""
    return "two_line" if vclass == "motorcycle" else "one_line"


def random_plate(vclass: str, rng: np.random.Generator, taken: set[str]) -> str:
    """A plate number of the KG 2016 grammar for ``vclass`` not in ``taken`` (which it extends).

    Raises:
        ValueError: if no unused number was found (``taken`` is absurdly large).
    """
    n_letters = 2 if vclass == "motorcycle" else 3
    for _ in range(1000):
        region = int(rng.integers(1, 10))
        digits = int(rng.integers(1, 1000))
        letters = "".join(KG_LETTERS[int(i)] for i in rng.integers(0, len(KG_LETTERS), n_letters))
        text = f"{region:02d} {digits:03d} {letters}"
        if text not in taken:
            taken.add(text)
            return text
    raise ValueError("could not draw an unused plate number")


def is_valid_plate(text: str, vclass: str) -> bool:
    """Whether ``text`` follows the KG 2016 grammar for this vehicle class."""
    regex = KG_MOTO_PLATE_RE if vclass == "motorcycle" else KG_PLATE_RE
    return bool(regex.match(text))


def _mm(v: float) -> int:
    return int(round(v * _PX_PER_MM))


def _put_text_box(img: np.ndarray, text: str, box_mm: tuple[float, float, float, float], weight: float = 0.13) -> None:
    """Draw ``text`` in black, stretched to fill ``box_mm`` (x0, y0, x1, y1) — condensed FE-like glyphs."""
    x0, y0, x1, y1 = (_mm(v) for v in box_mm)
    w, h = x1 - x0, y1 - y0
    font = cv2.FONT_HERSHEY_SIMPLEX
    scale = 4.0
    thick = max(1, int(round(weight * 22 * scale)))
    (tw, th), base = cv2.getTextSize(text, font, scale, thick)
    canvas = np.zeros((th + base + 2 * thick, tw + 2 * thick), np.uint8)
    cv2.putText(canvas, text, (thick, th + thick), font, scale, 255, thick, cv2.LINE_AA)
    ys, xs = np.nonzero(canvas > 40)
    crop = canvas[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    glyphs = cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    roi = img[y0:y1, x0:x1].astype(np.float32)
    roi = roi * (1.0 - glyphs[..., None]) + np.array(_INK, np.float32) * glyphs[..., None]
    img[y0:y1, x0:x1] = roi.astype(np.uint8)


def _flag(img: np.ndarray, box_mm: tuple[float, float, float, float]) -> None:
    """Kyrgyz flag: red field with a yellow sun."""
    x0, y0, x1, y1 = (_mm(v) for v in box_mm)
    cv2.rectangle(img, (x0, y0), (x1, y1), (32, 16, 200), -1)
    r = max(2, (y1 - y0) * 3 // 10)
    cv2.circle(img, ((x0 + x1) // 2, (y0 + y1) // 2), r, (0, 215, 250), -1, cv2.LINE_AA)


def render_plate(text: str, vclass: str) -> np.ndarray:
    """Raster of the plate at 2 px/mm, BGR uint8 (1040 x 220 px for a car plate)."""
    layout = plate_layout(vclass)
    wm, hm = (v * 1000 for v in PLATE_SIZE_M[layout])
    img = np.full((_mm(hm), _mm(wm), 3), _PAPER, np.uint8)
    border = _mm(3)
    cv2.rectangle(img, (_mm(2), _mm(2)), (_mm(wm - 2), _mm(hm - 2)), _INK, border, cv2.LINE_AA)
    region, digits, letters = text.split(" ")
    if layout == "one_line":
        cv2.line(img, (_mm(104), _mm(5)), (_mm(104), _mm(hm - 5)), _INK, _mm(2))
        _put_text_box(img, region, (20, 12, 86, 60))
        _flag(img, (12, 70, 38, 88))
        _put_text_box(img, "KG", (44, 69, 92, 89), weight=0.11)
        _put_text_box(img, digits, (118, 17, 276, 93))
        _put_text_box(img, letters, (300, 17, 506, 93))
    else:
        _put_text_box(img, f"{region} {digits}", (14, 12, 176, 64))
        _flag(img, (12, 88, 34, 102))
        _put_text_box(img, "KG", (14, 108, 36, 128), weight=0.11)
        _put_text_box(img, letters, (56, 78, 170, 133))
    return img


@dataclass(frozen=True)
class PlateRaster:
    """A plate image pyramid (level 0 = 2 px/mm, each next level half the size)."""

    text: str
    levels: tuple[np.ndarray, ...]

    @classmethod
    def build(cls, text: str, vclass: str, rng: np.random.Generator) -> PlateRaster:
        """Render, add a little seeded dirt, and build the pyramid down to ~24 px wide."""
        img = render_plate(text, vclass).astype(np.float32)
        h, w = img.shape[:2]
        dirt = cv2.resize(rng.normal(0.0, 1.0, (max(2, h // 40), max(2, w // 40))).astype(np.float32), (w, h))
        img *= (1.0 - 0.06 * np.clip(dirt, 0, None))[..., None]
        img = np.clip(img, 0, 255).astype(np.uint8)
        levels = [img]
        while levels[-1].shape[1] > 48:
            levels.append(cv2.pyrDown(levels[-1]))
        return cls(text, tuple(levels))

    def level_for(self, width_px: float) -> np.ndarray:
        """Smallest pyramid level at least ``width_px`` wide (so warping only shrinks by < 2x)."""
        for img in reversed(self.levels):
            if img.shape[1] >= width_px:
                return img
        return self.levels[0]


def warp_plate(frame: np.ndarray, raster: PlateRaster, quad_px: np.ndarray, gain: float) -> None:
    """Paint the plate into its projected quad in ``frame`` (in place).

    Args:
        frame: (H, W, 3) uint8 image.
        raster: the plate pyramid.
        quad_px: (4, 2) image corners: top-left, top-right, bottom-right, bottom-left of the plate
            as seen from the front of the plate.
        gain: brightness multiplier (lighting of the plate face), ~0.2-1.2.
    """
    quad = np.asarray(quad_px, dtype=np.float32)
    h_img, w_img = frame.shape[:2]
    x0, y0 = np.floor(quad.min(axis=0)).astype(int) - 1
    x1, y1 = np.ceil(quad.max(axis=0)).astype(int) + 2
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w_img), min(y1, h_img)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return
    width = float(max(np.linalg.norm(quad[1] - quad[0]), np.linalg.norm(quad[2] - quad[3])))
    src = raster.level_for(width)
    sh, sw = src.shape[:2]
    src_quad = np.array([[0, 0], [sw, 0], [sw, sh], [0, sh]], np.float32)
    m = cv2.getPerspectiveTransform(src_quad, quad - np.array([x0, y0], np.float32))
    size = (x1 - x0, y1 - y0)
    warped = cv2.warpPerspective(src, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    mask = cv2.warpPerspective(np.full((sh, sw), 255, np.uint8), m, size, flags=cv2.INTER_LINEAR)
    alpha = mask.astype(np.float32)[..., None] / 255.0
    roi = frame[y0:y1, x0:x1].astype(np.float32)
    frame[y0:y1, x0:x1] = np.clip(roi * (1.0 - alpha) + warped.astype(np.float32) * gain * alpha, 0, 255).astype(np.uint8)

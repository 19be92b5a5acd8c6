"""Frozen records that flow between the plate-reading stages (never loose dicts)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from detectors.base import check_bgr_image

UNKNOWN_COUNTRY = "unknown"
PlateStatus = Literal["read", "unreadable", "no_plate"]


@dataclass(frozen=True)
class PlateRead:
    """A plate number fitted to a country grammar (or to none).

    Attributes:
        text: canonical plate number, letters and digits only, upper case Latin (``"01123ABC"``).
        display: as printed, groups separated by spaces (``"01 123 ABC"``); equals ``text`` when
            no grammar fits.
        country: ISO alpha-2 code of the grammar (``"KG"``), or ``"unknown"``.
        grammar: name of the grammar that fits (``"kg_2016"``), or None.
        region: the region code of the plate (``"01"``), or None.
        region_name: the region's name when known (``"Bishkek"``), else None.
        substitutions: characters changed within a confusable group to fit the grammar.
    """

    text: str
    display: str
    country: str
    grammar: str | None
    region: str | None = None
    region_name: str | None = None
    substitutions: int = 0

    def __post_init__(self) -> None:
        if not self.text or not self.text.isalnum() or self.text != self.text.upper():
            raise ValueError(f"text: expected upper-case letters and digits, got {self.text!r}")
        if self.substitutions < 0:
            raise ValueError(f"substitutions: expected >= 0, got {self.substitutions}")


@dataclass(frozen=True)
class VehicleCrop:
    """One frame's view of a tracked vehicle, as the pipeline cuts it.

    Attributes:
        image: (H, W, 3) uint8 BGR pixels of the vehicle box (a margin is welcome).
        frame_index: frame of the source video, 0-based.
        t_s: seconds since frame 0.
        box_px: (x1, y1, x2, y2) of the crop in the frame's px (kept for evidence only).
    """

    image: np.ndarray
    frame_index: int = 0
    t_s: float = 0.0
    box_px: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        check_bgr_image(self.image, "image")


@dataclass(frozen=True)
class PlateBox:
    """A plate found in an image.

    Attributes:
        xyxy: (x1, y1, x2, y2) px in the image it was found in.
        confidence: detector score in [0, 1].
        source: ``"yolo"`` (the ONNX plate model), ``"haar"`` (the OpenCV fallback) or
            ``"given"`` (the caller's box, e.g. a plate crop).
    """

    xyxy: tuple[float, float, float, float]
    confidence: float
    source: str

    def __post_init__(self) -> None:
        x1, y1, x2, y2 = self.xyxy
        if not (x1 <= x2 and y1 <= y2):
            raise ValueError(f"xyxy: expected x1 <= x2 and y1 <= y2, got {self.xyxy}")
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence: expected a value in [0, 1], got {self.confidence}")

    @property
    def width(self) -> float:
        return self.xyxy[2] - self.xyxy[0]

    @property
    def height(self) -> float:
        return self.xyxy[3] - self.xyxy[1]


@dataclass(frozen=True)
class CharRead:
    """One character slot of an OCR read.

    Attributes:
        probs: character -> probability (the OCR's softmax averaged over the slot's CTC
            frames, restricted to A-Z0-9 and renormalised); the top few only.
    """

    probs: tuple[tuple[str, float], ...]

    def __post_init__(self) -> None:
        if not self.probs:
            raise ValueError("probs: expected at least one (char, probability) pair")

    @property
    def char(self) -> str:
        return max(self.probs, key=lambda cp: cp[1])[0]

    @property
    def confidence(self) -> float:
        return max(p for _, p in self.probs)

    def prob(self, char: str) -> float:
        """Probability of ``char`` (0 when not among the kept top few)."""
        for c, p in self.probs:
            if c == char:
                return p
        return 0.0


@dataclass(frozen=True)
class LineRead:
    """One text line of a plate as the OCR read it.

    Attributes:
        chars: character slots in reading order.
        height_ratio: the line's height over the tallest line's of the same plate (0, 1].
    """

    chars: tuple[CharRead, ...]
    height_ratio: float = 1.0

    @property
    def text(self) -> str:
        return "".join(c.char for c in self.chars)


@dataclass(frozen=True)
class TextRead:
    """The OCR's read of one plate image: its text lines in reading order (top line first).

    Attributes:
        lines: the lines.
        text_height_px: height of the tallest text line in the source image's px (the text
            detector's box, a little taller than the characters); 0 when not measured. Reads
            of text this small are not trusted (see ``PlateReaderSettings.min_text_height_px``).
    """

    lines: tuple[LineRead, ...]
    text_height_px: float = 0.0

    @property
    def chars(self) -> tuple[CharRead, ...]:
        return tuple(c for line in self.lines for c in line.chars)

    @property
    def text(self) -> str:
        return "".join(line.text for line in self.lines)


@dataclass(frozen=True)
class GrammarFit:
    """A read fitted to a grammar (or to none: ``read.country == "unknown"``).

    Attributes:
        read: the plate number.
        slots: per character of ``read.text``, the probabilities of the characters the grammar
            allows there (OCR probability folded onto allowed confusable twins); the slot's
            top character is the one in ``read.text``.
        score: mean log-probability per character including penalties for characters and
            lines left out (higher is better), for ranking fits.
    """

    read: PlateRead
    slots: tuple[CharRead, ...]
    score: float

    @property
    def char_confidences(self) -> tuple[float, ...]:
        return tuple(slot.prob(ch) for slot, ch in zip(self.slots, self.read.text, strict=True))

    @property
    def confidence(self) -> float:
        """The weakest character's probability: a plate is only as sure as its worst character."""
        return min(self.char_confidences, default=0.0)


@dataclass(frozen=True)
class FrameRead:
    """What one vehicle crop gave.

    Attributes:
        crop_index: index into the crops passed to the reader.
        box: the plate box in the crop's px.
        quality: frame weight for voting (plate height px x sharpness, see :mod:`plates.quality`).
        fits: grammar fits of the read, best first (may be empty).
        text_read: the raw OCR read.
    """

    crop_index: int
    box: PlateBox
    quality: float
    fits: tuple[GrammarFit, ...]
    text_read: TextRead


@dataclass(frozen=True)
class PlateCandidate:
    """One possible plate number with its confidence."""

    text: str
    display: str
    country: str
    confidence: float


@dataclass(frozen=True)
class PlateResult:
    """The plate of one track.

    Attributes:
        status: ``"read"`` (confidence at or above the threshold), ``"unreadable"`` (a plate was
            seen but the read is under the threshold: a person decides, never an automatic
            fine), or ``"no_plate"`` (no plate found in any crop).
        text: best plate number (canonical, ``"01123ABC"``), also for ``"unreadable"`` so the
            reviewer sees the guess; None for ``"no_plate"``.
        display: ``text`` with the grammar's spaces, or None.
        country: ISO alpha-2 code, or ``"unknown"``.
        grammar: the grammar's name, or None.
        confidence: the weakest character's voted confidence, 0..1.
        char_confidences: voted confidence of each character of ``text``.
        alternatives: other plate numbers, best first (for review and fuzzy registry lookup).
        crops_used: indices of the crops whose reads were voted on.
        boxes: the plate box in each used crop (same order as ``crops_used``).
        reason: why the status is not ``"read"``; empty otherwise.
    """

    status: PlateStatus
    text: str | None
    display: str | None
    country: str
    grammar: str | None
    confidence: float
    char_confidences: tuple[float, ...] = ()
    alternatives: tuple[PlateCandidate, ...] = ()
    crops_used: tuple[int, ...] = ()
    boxes: tuple[PlateBox, ...] = ()
    reason: str = ""

    @property
    def is_read(self) -> bool:
        return self.status == "read"

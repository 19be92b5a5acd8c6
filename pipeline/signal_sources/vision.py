"""The vision fallback: the signal head's three lamps classified by colour (HSV).

The head box (``signal.head_px``) holds a vertical red / amber / green head. For each lamp
the disk around its centre is counted: a pixel is *lit* when it is bright (V at least 80 and
at least 0.55 of the head's p99 V, so exposure does not matter), saturated (S) and of the
lamp's own hue. Requiring the lamp's own hue is what keeps night glow from a lit neighbour
(green light spilling over the amber lamp) from lighting the wrong lamp; requiring a lit lamp
to be 1.3x brighter than the dimmest lamp of the head (or clipping) keeps a dark head in
sunlight from reading as red. One frame per ``sample_every_s`` is classified; a state counts
after ``debounce_samples`` equal readings, and anything the head cannot explain (nothing lit,
green with red) is ``unknown``.
"""

from __future__ import annotations

import bisect
import datetime as dt
import logging
from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.config import SignalConfig, VisionSignalConfig
from pipeline.signals import UNKNOWN, PhaseInterval

log = logging.getLogger(__name__)

#: OpenCV hue ranges (0..179) per lamp; red wraps around 0.
HUE_RANGES: dict[str, tuple[tuple[int, int], ...]] = {
    "red": ((0, 10), (165, 179)),
    "amber": ((12, 40),),
    "green": ((40, 100),),
}
MIN_VALUE = 80  # lit pixels are at least this bright (V, 0..255) ...
RELATIVE_VALUE = 0.55  # ... and at least this share of the head's brightest (p99) V: exposure-independent
MIN_SATURATION = 90  # and this saturated (S, 0..255); a washed-out white core is not counted
LAMP_CONTRAST = 1.3  # a lit lamp's p90 V is at least this many times the dimmest lamp's (a dark head in sun is not lit)
CLIPPED_VALUE = 250  # ... unless its p90 V reaches this: it is clipping the sensor, so it is emitting
LAMP_RADIUS_OF_WIDTH = 0.38  # lamp disk radius as a share of the head width
LAMPS = ("red", "amber", "green")
_STATE_OF = {
    frozenset({"red"}): "red",
    frozenset({"amber"}): "amber",
    frozenset({"green"}): "green",
    frozenset({"red", "amber"}): "red_amber",
}


@dataclass(frozen=True)
class HeadReading:
    """One frame's classification: the state and each lamp's lit fraction (0..1)."""

    state: str
    lit_fraction: dict[str, float]


def classify_head(image: np.ndarray, head_px: tuple[float, float, float, float], min_lit_fraction: float = 0.3) -> HeadReading:
    """Classify the signal head in one BGR frame.

    Args:
        image: (H, W, 3) uint8 BGR frame.
        head_px: head box x, y, w, h in px.
        min_lit_fraction: a lamp is lit when this share of its disk's pixels is lit.

    Raises:
        ValueError: not a BGR image, or a head box outside it.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected a (H, W, 3) uint8 BGR image, got shape {image.shape} dtype {image.dtype}")
    x, y, w, h = head_px
    H, W = image.shape[:2]
    x0, y0, x1, y1 = int(np.floor(x)), int(np.floor(y)), int(np.ceil(x + w)), int(np.ceil(y + h))
    if w <= 0 or h <= 0 or x0 < 0 or y0 < 0 or x1 > W or y1 > H:
        raise ValueError(f"head box {head_px} is not inside the {W}x{H} frame")
    hsv = cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_BGR2HSV)
    hue, sat, val = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    bright = (val >= max(MIN_VALUE, RELATIVE_VALUE * float(np.percentile(val, 99)))) & (sat >= MIN_SATURATION)
    yy, xx = np.mgrid[y0:y1, x0:x1]
    radius = LAMP_RADIUS_OF_WIDTH * w
    fractions: dict[str, float] = {}
    level: dict[str, float] = {}
    for k, lamp in enumerate(LAMPS):
        cx, cy = x + w / 2, y + h * (k + 0.5) / 3
        disk = (xx + 0.5 - cx) ** 2 + (yy + 0.5 - cy) ** 2 <= radius**2
        n = int(disk.sum())
        if n == 0:
            fractions[lamp], level[lamp] = 0.0, 0.0
            continue
        in_hue = np.zeros_like(bright)
        for lo, hi in HUE_RANGES[lamp]:
            in_hue |= (hue >= lo) & (hue <= hi)
        fractions[lamp] = float((bright & in_hue & disk).sum()) / n
        level[lamp] = float(np.percentile(val[disk], 90))
    dimmest = max(min(level.values()), 1.0)
    for lamp in LAMPS:  # lit means brighter than an unlit lamp of the same head, whatever the exposure,
        # or clipping the sensor (night overexposure: glow brightens every lamp of the head)
        if level[lamp] < LAMP_CONTRAST * dimmest and level[lamp] < CLIPPED_VALUE:
            fractions[lamp] = 0.0
    lit = frozenset(lamp for lamp in LAMPS if fractions[lamp] >= min_lit_fraction)
    return HeadReading(_STATE_OF.get(lit, UNKNOWN), {k: round(v, 3) for k, v in fractions.items()})


@dataclass(frozen=True)
class VisionSample:
    """One classified frame: ``t_s`` since frame 0, the raw reading."""

    t_s: float
    state: str


class VisionSignalSource:
    """Phases read from the video itself; fed frame by frame with :meth:`observe`.

    Before any frame, after the last sample (plus two sample intervals) and wherever the
    head could not be read, the state is ``unknown``.
    """

    name = "vision"

    def __init__(self, head_px: tuple[float, float, float, float], cfg: VisionSignalConfig | None = None) -> None:
        self.head_px = head_px
        self.cfg = cfg or VisionSignalConfig()
        self.samples: list[VisionSample] = []
        self._segments: list[PhaseInterval] | None = None
        self._starts: list[float] = []
        self._next_t = float("-inf")

    @classmethod
    def from_config(cls, config: SignalConfig, origin_utc: dt.datetime) -> "VisionSignalSource":
        if config.head_px is None:
            raise ValueError("signal.head_px is required for the vision source")
        return cls(config.head_px, config.vision)

    def observe(self, t_s: float, image: np.ndarray) -> None:
        """Classify ``image`` (the frame at ``t_s``) if a sample is due."""
        if t_s + 1e-9 < self._next_t:
            return
        self._next_t = t_s + self.cfg.sample_every_s
        reading = classify_head(image, self.head_px, self.cfg.min_lit_fraction)
        self.samples.append(VisionSample(t_s, reading.state))
        self._segments = None

    def segments(self) -> list[PhaseInterval]:
        """Debounced phases: a state begins at the first of ``debounce_samples`` equal readings."""
        if self._segments is not None:
            return self._segments
        k = self.cfg.debounce_samples
        gap = 2 * self.cfg.sample_every_s
        out: list[PhaseInterval] = []
        current: str | None = None
        start = 0.0
        prev_t = None
        run_state, run_start, run_len = None, 0.0, 0
        for s in self.samples:
            if prev_t is not None and s.t_s - prev_t > gap:  # no frames: close what we had
                if current is not None:
                    out.append(PhaseInterval(current, start, prev_t + self.cfg.sample_every_s, self.name))
                current, run_state, run_len = None, None, 0
            if s.state == run_state:
                run_len += 1
            else:
                run_state, run_start, run_len = s.state, s.t_s, 1
            if run_len >= k and run_state != current:
                if current is not None:
                    out.append(PhaseInterval(current, start, run_start, self.name))
                current, start = run_state, run_start
            prev_t = s.t_s
        if current is not None and prev_t is not None:
            out.append(PhaseInterval(current, start, prev_t + self.cfg.sample_every_s, self.name))
        self._segments = out
        self._starts = [seg.start_s for seg in out]
        return out

    def state_at(self, t_s: float) -> PhaseInterval:
        segs = self.segments()
        i = bisect.bisect_right(self._starts, t_s) - 1 if segs else -1
        if i >= 0 and t_s < segs[i].end_s:
            seg = segs[i]
            if seg.state == UNKNOWN:
                return PhaseInterval(UNKNOWN, seg.start_s, seg.end_s, self.name, "head_unreadable")
            return seg
        return PhaseInterval(UNKNOWN, t_s, t_s, self.name, "no_vision_sample")

    def close(self) -> None:
        """Nothing to release."""

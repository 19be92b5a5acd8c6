"""How well the vision fallback reads a video's signal head, against the controller's phases."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import cv2

from pipeline.signal_sources.vision import classify_head
from pipeline.signals import SignalSource
from safecity.errors import InputError


@dataclass
class VisionCheck:
    """Per-frame agreement of the classifier with the reference phases.

    Attributes:
        frames: frames classified.
        correct: frames whose reading equals the reference.
        near_change: frames within ``boundary_s`` of a reference phase change (excluded
            from ``accuracy_steady``: the rendered head and the plan may be a frame apart).
        correct_steady: correct frames among the others.
        confusion: (reference, reading) -> frames.
    """

    frames: int = 0
    correct: int = 0
    near_change: int = 0
    correct_steady: int = 0
    confusion: Counter = field(default_factory=Counter)

    @property
    def accuracy(self) -> float:
        return self.correct / self.frames if self.frames else 0.0

    @property
    def accuracy_steady(self) -> float:
        steady = self.frames - self.near_change
        return self.correct_steady / steady if steady else 0.0

    def to_dict(self) -> dict:
        return {
            "frames": self.frames, "correct": self.correct, "accuracy": round(self.accuracy, 4),
            "near_change": self.near_change, "accuracy_steady": round(self.accuracy_steady, 4),
            "confusion": [{"reference": r, "vision": v, "frames": n} for (r, v), n in sorted(self.confusion.items())],
        }


def check_vision(
    video: Path, head_px: tuple[float, float, float, float], reference: SignalSource, every: int = 1,
    min_lit_fraction: float = 0.3, boundary_s: float = 0.08,
) -> VisionCheck:
    """Classify every ``every``-th frame of ``video`` and compare with ``reference``.

    Raises:
        InputError: the video cannot be read.
    """
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise InputError(f"{video}: cannot open the video")
    fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
    if not fps > 0:
        cap.release()
        raise InputError(f"{video}: the container states no frame rate")
    out = VisionCheck()
    k = 0
    try:
        while True:
            ok, img = cap.read()
            if not ok:
                break
            if k % every == 0:
                t = k / fps
                ref = reference.state_at(t)
                got = classify_head(img, head_px, min_lit_fraction).state
                out.frames += 1
                out.confusion[(ref.state, got)] += 1
                hit = got == ref.state
                out.correct += hit
                if t - ref.start_s < boundary_s or ref.end_s - t < boundary_s:
                    out.near_change += 1
                else:
                    out.correct_steady += hit
            k += 1
    finally:
        cap.release()
    if out.frames == 0:
        raise InputError(f"{video}: no frame could be decoded")
    return out

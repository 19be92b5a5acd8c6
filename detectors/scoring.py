"""Run a detector over a labelled image set and score it per class (what ``eval-detector`` prints).

The matching and AP are :func:`detectors.evaluate.evaluate`; this module reads the images, runs
the detector in batches and assembles the rows: every ground-truth class the detector knows, all
sizes and small ones, plus "any vehicle" (all vehicle classes merged on both sides, which scores
finding vehicles when a set labels every vehicle ``car``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import cv2

from detectors.base import Detections, Detector
from detectors.evaluate import evaluate
from detectors.labels import LabelledImage
from detectors.measure import VEHICLES, as_vehicle, truth_as_vehicle
from safecity.errors import InputError

ANY_VEHICLE = "any vehicle"


@dataclass(frozen=True)
class ScoreRow:
    """One class and size band over the set (see :class:`detectors.evaluate.ClassScore`)."""

    name: str
    size: str
    n_gt: int
    ap50: float
    recall: float
    precision: float
    n_pred: int


@dataclass(frozen=True)
class ScoreReport:
    """Scores of one detector on one labelled set.

    Attributes:
        images: images scored.
        threshold: operating confidence of ``recall`` and ``precision``.
        small_px: ground truth under this height (px) forms the ``small`` band.
        rows: per class, ``all`` then ``small``; ``any vehicle`` last.
        not_scored: ground-truth classes the detector has no class for.
    """

    images: int
    threshold: float
    small_px: float
    rows: list[ScoreRow] = field(default_factory=list)
    not_scored: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON-ready, NaN (no ground truth / no prediction) as null."""

        def clean(value: object) -> object:
            return None if isinstance(value, float) and math.isnan(value) else value

        return {
            "images": self.images,
            "threshold": self.threshold,
            "small_px": self.small_px,
            "classes": [{k: clean(v) for k, v in asdict(row).items()} for row in self.rows],
            "not_scored": list(self.not_scored),
        }


def predict_images(
    detector: Detector, items: Sequence[LabelledImage], batch_size: int = 4
) -> list[Detections]:
    """The detector's boxes for each image, in order.

    Raises:
        InputError: an image cannot be read (names the file).
    """
    out: list[Detections] = []
    for start in range(0, len(items), batch_size):
        frames = []
        for item in items[start : start + batch_size]:
            frame = cv2.imread(str(item.path), cv2.IMREAD_COLOR)
            if frame is None:
                raise InputError(f"{item.path}: cannot read the image")
            frames.append(frame)
        out.extend(detector.detect(frames))
    return out


def score_labelled_set(
    detector: Detector,
    items: Sequence[LabelledImage],
    *,
    threshold: float = 0.25,
    small_px: float = 32.0,
    batch_size: int = 4,
) -> ScoreReport:
    """Detect on every image and score AP50 / recall / precision per ground-truth class.

    Run the detector at a low confidence (e.g. 0.001) so AP50 sees the whole curve; recall and
    precision are taken at ``threshold``.
    """
    predictions = predict_images(detector, items, batch_size)
    truths = [item.truth for item in items]
    gt_names = list(dict.fromkeys(name for t in truths for name in t.class_names))
    scored = [n for n in gt_names if n in detector.class_names]
    report = ScoreReport(
        images=len(items),
        threshold=threshold,
        small_px=small_px,
        not_scored=[n for n in gt_names if n not in detector.class_names],
    )
    bands = {"all": (0.0, float("inf")), "small": (0.0, small_px)}

    def add(name: str, preds: Sequence[Detections], gts: Sequence, classes: Sequence[str]) -> None:
        for size, band in bands.items():
            for score in evaluate(preds, gts, classes, threshold=threshold, height_range_px=band):
                report.rows.append(
                    ScoreRow(
                        name,
                        size,
                        score.n_gt,
                        score.ap50,
                        score.recall,
                        score.precision,
                        score.n_pred,
                    )
                )

    for name in scored:
        add(name, predictions, truths, (name,))
    if any(n in VEHICLES for n in gt_names) and any(n in VEHICLES for n in detector.class_names):
        add(
            ANY_VEHICLE,
            [as_vehicle(p) for p in predictions],
            [truth_as_vehicle(t) for t in truths],
            ("car",),
        )
    return report

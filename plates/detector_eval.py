"""Score a plate detector alone (boxes, no OCR) on labelled images: found rates and AP50.

A labelled plate is *found* when a box at or above the operating score overlaps it with IoU >
``found_iou`` (0.3: plate boxes are small and labels a few px loose, as in the model card);
"top box" asks the same of the image's best box only. AP50 is
:func:`detectors.evaluate.evaluate` (COCO matching at IoU 0.5) over every box the detector gives
at its own (low) threshold, so run it at e.g. 0.001 for the whole curve.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from detectors.base import Detections
from detectors.boxes import box_iou
from detectors.evaluate import GroundTruth, evaluate
from detectors.train_data import Sample
from plates.detector import PlateDetector
from plates.types import PlateBox

PLATE = ("license_plate",)


@dataclass(frozen=True)
class PlateDetectorScore:
    """Scores of one plate detector on one labelled set.

    Attributes:
        images: images scored.
        plates: labelled plates.
        found_any: share of plates overlapped (IoU > ``found_iou``) by any box >= ``min_score``.
        found_top: share of plates overlapped by their image's best box (when >= ``min_score``).
        ap50: AP at IoU 0.5 over all boxes given.
        recall50, precision50: at ``min_score``, IoU 0.5.
        min_score: the operating score.
        found_iou: the overlap that counts as found.
        ms_per_image: mean detection wall time, ms (shared CPU: an upper bound).
    """

    images: int
    plates: int
    found_any: float
    found_top: float
    ap50: float
    recall50: float
    precision50: float
    min_score: float
    found_iou: float
    ms_per_image: float

    def to_dict(self) -> dict[str, float | int | None]:
        """JSON-ready, rounded; NaN as null."""
        return {
            k: (None if isinstance(v, float) and math.isnan(v) else round(v, 4) if isinstance(v, float) else v)
            for k, v in asdict(self).items()
        }


def _as_detections(boxes: Sequence[PlateBox]) -> Detections:
    if not boxes:
        return Detections.empty(PLATE)
    return Detections(
        xyxy=np.array([b.xyxy for b in boxes], np.float32),
        confidence=np.array([b.confidence for b in boxes], np.float32),
        class_id=np.zeros(len(boxes), np.int32),
        class_names=PLATE,
    )


def found_counts(
    predictions: Sequence[Sequence[PlateBox]],
    truths: Sequence[np.ndarray],
    min_score: float,
    found_iou: float,
) -> tuple[int, int, int]:
    """(plates, found by any box, found by the top box) over the set (pure).

    Args:
        predictions: per image, boxes best first (as :class:`plates.detector.PlateDetector` gives).
        truths: per image, (G, 4) labelled boxes px.
    """
    plates = found_any = found_top = 0
    for boxes, truth in zip(predictions, truths, strict=True):
        kept = [b for b in boxes if b.confidence >= min_score]
        plates += len(truth)
        if not kept or not len(truth):
            continue
        iou = box_iou(np.array([b.xyxy for b in kept], np.float64), np.asarray(truth, np.float64))
        found_any += int((iou.max(axis=0) > found_iou).sum())
        found_top += int((iou[0] > found_iou).sum())
    return plates, found_any, found_top


def score_plate_detector(
    detector: PlateDetector,
    samples: Sequence[Sample],
    *,
    min_score: float = 0.25,
    found_iou: float = 0.3,
) -> PlateDetectorScore:
    """Detect on every sample (pixels or file) and score it against its boxes.

    Raises:
        ValueError: a sample's image cannot be read (names it).
    """
    import cv2

    predictions: list[list[PlateBox]] = []
    truths: list[np.ndarray] = []
    spent = 0.0
    for sample in samples:
        image = sample.image if sample.image is not None else cv2.imread(str(sample.path), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"sample {sample.name}: cannot read {sample.path}")
        started = time.perf_counter()
        (boxes,) = detector.detect([image])
        spent += time.perf_counter() - started
        predictions.append(boxes)
        truths.append(np.array([b[:4] for b in sample.boxes], np.float64).reshape(-1, 4))
    plates, found_any, found_top = found_counts(predictions, truths, min_score, found_iou)
    gts = [GroundTruth(t, np.zeros(len(t), np.int64), PLATE) for t in truths]
    (ap,) = evaluate([_as_detections(p) for p in predictions], gts, PLATE, threshold=min_score)
    return PlateDetectorScore(
        images=len(samples),
        plates=plates,
        found_any=found_any / plates if plates else float("nan"),
        found_top=found_top / plates if plates else float("nan"),
        ap50=ap.ap50,
        recall50=ap.recall,
        precision50=ap.precision,
        min_score=min_score,
        found_iou=found_iou,
        ms_per_image=1000 * spent / max(1, len(samples)),
    )

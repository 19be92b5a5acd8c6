"""AP50 / recall / precision on hand-made predictions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from detectors.base import Detections
from detectors.evaluate import GroundTruth, average_precision, evaluate

NAMES = ("car", "truck")


def dets(rows: list[tuple[float, float, float, float, float, int]]) -> Detections:
    arr = np.array(rows, dtype=np.float64).reshape(-1, 6)
    return Detections(
        xyxy=arr[:, :4].astype(np.float32),
        confidence=arr[:, 4].astype(np.float32),
        class_id=arr[:, 5].astype(np.int32),
        class_names=NAMES,
    )


def truth(rows: list[tuple[float, float, float, float, int]]) -> GroundTruth:
    arr = np.array(rows, dtype=np.float64).reshape(-1, 5)
    return GroundTruth(arr[:, :4], arr[:, 4].astype(np.int64), NAMES)


def test_perfect_predictions_score_one() -> None:
    """Every box found once with the right class gives AP 1, recall 1, precision 1."""
    gt = [truth([(0, 0, 50, 50, 0), (100, 100, 150, 160, 1)])]
    pred = [dets([(1, 1, 50, 50, 0.9, 0), (100, 100, 150, 160, 0.8, 1)])]
    car, lorry = evaluate(pred, gt, NAMES)
    assert (car.ap50, car.recall, car.precision) == (1.0, 1.0, 1.0)
    assert (lorry.ap50, lorry.n_gt, lorry.n_pred) == (1.0, 1, 1)


def test_duplicates_wrong_class_and_low_scores() -> None:
    """A duplicate is a false positive, a wrong class misses, and scores under the threshold
    count for AP but not for recall."""
    gt = [truth([(0, 0, 50, 50, 0), (100, 0, 150, 50, 0), (200, 0, 250, 50, 0)])]
    pred = [
        dets(
            [
                (0, 0, 50, 50, 0.9, 0),  # TP
                (0, 0, 50, 50, 0.8, 0),  # duplicate -> FP
                (100, 0, 150, 50, 0.7, 1),  # right place, wrong class -> car missed
                (200, 0, 250, 50, 0.1, 0),  # TP under the 0.25 operating threshold
            ]
        )
    ]
    (car,) = evaluate(pred, gt, ("car",), threshold=0.25)
    assert car.recall == pytest.approx(1 / 3)
    assert car.precision == pytest.approx(1 / 2)
    # PR points: (1/3, 1), (1/3, 1/2), (2/3, 2/3) -> AP = 1/3 * 1 + 1/3 * 2/3
    assert car.ap50 == pytest.approx(1 / 3 + 2 / 9)


def test_iou_below_half_is_a_miss() -> None:
    """A box overlapping the truth by IoU < 0.5 is a false positive and the truth is missed."""
    gt = [truth([(0, 0, 100, 100, 0)])]
    pred = [dets([(50, 0, 150, 100, 0.9, 0)])]  # IoU 1/3
    (car,) = evaluate(pred, gt, ("car",))
    assert (car.ap50, car.recall, car.precision) == (0.0, 0.0, 0.0)


def test_small_band_ignores_large_boxes() -> None:
    """Scoring < 32 px high boxes ignores large truths and predictions of large things."""
    gt = [truth([(0, 0, 40, 20, 0), (100, 0, 200, 100, 0)])]
    pred = [dets([(0, 0, 40, 20, 0.9, 0), (100, 0, 200, 100, 0.8, 0), (300, 0, 400, 100, 0.7, 0)])]
    (small,) = evaluate(pred, gt, ("car",), height_range_px=(0, 32))
    assert (small.n_gt, small.n_pred, small.recall, small.precision) == (1, 1, 1.0, 1.0)
    (whole,) = evaluate(pred, gt, ("car",))
    assert (whole.n_gt, whole.n_pred, whole.recall) == (2, 3, 1.0)


def test_class_without_truth_is_nan() -> None:
    """A class with no ground truth has NaN AP and recall, not a misleading 0."""
    (lorry,) = evaluate([dets([])], [truth([(0, 0, 10, 10, 0)])], ("truck",))
    assert math.isnan(lorry.ap50) and math.isnan(lorry.recall)


def test_average_precision_edge_cases() -> None:
    """No predictions give 0; mismatched lengths are refused by evaluate."""
    assert average_precision(np.zeros(0), np.zeros(0, bool), 3) == 0.0
    with pytest.raises(ValueError, match="one prediction per image"):
        evaluate([], [truth([])], ("car",))

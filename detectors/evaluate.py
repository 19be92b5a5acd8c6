"""Detection metrics: AP at IoU 0.5 and recall/precision per class (pure numpy).

Matching follows the COCO evaluation: per image and class, predictions are taken in descending
score and each claims the unclaimed ground-truth box it overlaps most (IoU >= threshold). With a
height range (e.g. small objects < 32 px high), ground truth outside the range is "ignored": a
prediction that matches it, or an unmatched prediction itself outside the range, counts neither
as true nor false positive, so a size band is scored on its own without penalising the detector
for finding the other boxes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from detectors.base import Detections
from detectors.boxes import box_iou


@dataclass(frozen=True)
class GroundTruth:
    """Labelled boxes of one image.

    Attributes:
        xyxy: (N, 4) float px (x1, y1, x2, y2).
        class_id: (N,) int index into ``class_names``.
        class_names: vocabulary of ``class_id``; matched to predictions by name.
    """

    xyxy: np.ndarray
    class_id: np.ndarray
    class_names: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.xyxy.ndim != 2 or self.xyxy.shape[1] != 4:
            raise ValueError(f"xyxy: expected (N, 4) array, got shape {self.xyxy.shape}")
        if self.class_id.shape != (self.xyxy.shape[0],):
            raise ValueError(
                f"class_id: expected ({self.xyxy.shape[0]},) to match xyxy, got {self.class_id.shape}"
            )


@dataclass(frozen=True)
class ClassScore:
    """Scores of one class over a data set.

    Attributes:
        name: class name.
        ap50: area under the precision-recall curve (all-point interpolation) at IoU 0.5, over
            the predictions given (so predictions cut at a threshold truncate the curve).
        ap50_at_threshold: the same area for predictions with score >= ``threshold`` only (the
            curve stops at the operating point; what a deployment at that threshold can reach).
        recall: true positives / ground-truth boxes, for predictions with score >= ``threshold``.
        precision: true positives / counted predictions, at ``threshold``.
        threshold: the score threshold of ``recall`` and ``precision``.
        n_gt: ground-truth boxes counted (ignored ones excluded).
        n_pred: predictions counted at ``threshold`` (ignored ones excluded).
    """

    name: str
    ap50: float
    ap50_at_threshold: float
    recall: float
    precision: float
    threshold: float
    n_gt: int
    n_pred: int


def _heights(xyxy: np.ndarray) -> np.ndarray:
    return (xyxy[:, 3] - xyxy[:, 1]) if len(xyxy) else np.zeros((0,))


def match_image(
    pred_xyxy: np.ndarray,
    pred_score: np.ndarray,
    gt_xyxy: np.ndarray,
    gt_ignore: np.ndarray,
    pred_out_of_range: np.ndarray,
    iou_threshold: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """Match one image's predictions of one class to its ground truth.

    Args:
        pred_xyxy: (P, 4) px.
        pred_score: (P,).
        gt_xyxy: (G, 4) px.
        gt_ignore: (G,) bool, ground truth outside the evaluated range.
        pred_out_of_range: (P,) bool, predictions outside the evaluated range.
        iou_threshold: minimum IoU for a match.

    Returns:
        ``true_positive`` (P,) bool and ``ignored`` (P,) bool, in the input order.
    """
    n_pred = len(pred_score)
    true_positive = np.zeros(n_pred, dtype=bool)
    ignored = np.zeros(n_pred, dtype=bool)
    claimed = np.zeros(len(gt_xyxy), dtype=bool)
    iou = box_iou(pred_xyxy, gt_xyxy) if len(gt_xyxy) and n_pred else np.zeros((n_pred, 0))
    for p in np.argsort(-pred_score, kind="stable"):
        candidates = iou[p].copy()
        candidates[claimed] = -1.0
        # Prefer a counted ground-truth box; fall back to an ignored one (COCO order).
        counted = np.where(gt_ignore, -1.0, candidates)
        g = int(np.argmax(counted)) if len(counted) else -1
        if g >= 0 and counted[g] >= iou_threshold:
            claimed[g] = True
            true_positive[p] = True
            continue
        spare = np.where(gt_ignore, candidates, -1.0)
        g = int(np.argmax(spare)) if len(spare) else -1
        if g >= 0 and spare[g] >= iou_threshold:
            claimed[g] = True
            ignored[p] = True
        elif pred_out_of_range[p]:
            ignored[p] = True
    return true_positive, ignored


def average_precision(scores: np.ndarray, true_positive: np.ndarray, n_gt: int) -> float:
    """All-point interpolated AP from pooled predictions (score, is-TP) and the count of GT boxes."""
    if n_gt == 0:
        return float("nan")
    if len(scores) == 0:
        return 0.0
    order = np.argsort(-scores, kind="stable")
    tp = np.cumsum(true_positive[order])
    fp = np.cumsum(~true_positive[order])
    recall = tp / n_gt
    precision = tp / np.maximum(tp + fp, 1)
    # Envelope: precision at recall r is the best precision at any recall >= r.
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    recall = np.concatenate([[0.0], recall])
    return float(np.sum((recall[1:] - recall[:-1]) * precision))


def evaluate(
    predictions: Sequence[Detections],
    ground_truth: Sequence[GroundTruth],
    class_names: Sequence[str],
    *,
    threshold: float = 0.25,
    iou_threshold: float = 0.5,
    height_range_px: tuple[float, float] = (0.0, float("inf")),
) -> list[ClassScore]:
    """AP50, recall and precision per class over a data set.

    Args:
        predictions: one :class:`Detections` per image (run the detector with a low confidence
            threshold, e.g. 0.001, for a full precision-recall curve).
        ground_truth: one :class:`GroundTruth` per image, same order.
        class_names: the classes to score, matched by name in both vocabularies.
        threshold: the operating score threshold for ``recall`` and ``precision``.
        iou_threshold: minimum IoU for a true positive.
        height_range_px: [lo, hi) box height px scored; others are ignored (see module doc).

    Returns:
        One :class:`ClassScore` per name in ``class_names``.
    """
    if len(predictions) != len(ground_truth):
        raise ValueError(
            f"expected one prediction per image: {len(predictions)} predictions, "
            f"{len(ground_truth)} ground truths"
        )
    lo, hi = height_range_px
    results = []
    for name in class_names:
        pooled_scores, pooled_tp, pooled_ignored = [], [], []
        n_gt = 0
        for det, gt in zip(predictions, ground_truth, strict=True):
            p_mask = (
                det.class_id == det.class_names.index(name)
                if name in det.class_names
                else np.zeros(len(det), dtype=bool)
            )
            g_mask = (
                gt.class_id == gt.class_names.index(name)
                if name in gt.class_names
                else np.zeros(len(gt.class_id), dtype=bool)
            )
            p_xyxy, p_score = det.xyxy[p_mask], det.confidence[p_mask]
            g_xyxy = np.asarray(gt.xyxy[g_mask], dtype=np.float64)
            g_h, p_h = _heights(g_xyxy), _heights(p_xyxy)
            g_ignore = (g_h < lo) | (g_h >= hi)
            p_out = (p_h < lo) | (p_h >= hi)
            tp, ignored = match_image(p_xyxy, p_score, g_xyxy, g_ignore, p_out, iou_threshold)
            n_gt += int((~g_ignore).sum())
            pooled_scores.append(p_score)
            pooled_tp.append(tp)
            pooled_ignored.append(ignored)
        scores = np.concatenate(pooled_scores) if pooled_scores else np.zeros(0)
        tp = np.concatenate(pooled_tp) if pooled_tp else np.zeros(0, dtype=bool)
        keep = ~(np.concatenate(pooled_ignored) if pooled_ignored else np.zeros(0, dtype=bool))
        scores, tp = scores[keep], tp[keep]
        at_threshold = scores >= threshold
        n_tp = int(tp[at_threshold].sum())
        n_pred = int(at_threshold.sum())
        results.append(
            ClassScore(
                name=name,
                ap50=average_precision(scores, tp, n_gt),
                ap50_at_threshold=average_precision(scores[at_threshold], tp[at_threshold], n_gt),
                recall=n_tp / n_gt if n_gt else float("nan"),
                precision=n_tp / n_pred if n_pred else float("nan"),
                threshold=threshold,
                n_gt=n_gt,
                n_pred=n_pred,
            )
        )
    return results

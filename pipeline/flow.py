"""Tracked boxes carried from frame to frame by sparse optical flow, between detected frames.

With a detection stride (pipeline/schedule.py) the detector skips frames and ByteTrack only
predicts them on its Kalman motion, so a skipped frame has no observation: a speed window holds
a third of the points, and a fast car crosses the measurement zone in a handful of detected
frames (docs/performance.md: at stride 3 the suites lost a 114 km/h speeder and a wrong-way
case). This module measures the skipped frames instead, at a small fraction of a detector pass:

- on a detected frame, :meth:`BoxFlow.reference` takes every tracked box and picks corner
  points inside it (``cv2.goodFeaturesToTrack`` on a greyscale copy of the detector's view,
  shrunk by an integer factor to about ``work_width_px``);
- on a skipped frame, :meth:`BoxFlow.advance` follows those points with pyramidal Lucas-Kanade
  (``cv2.calcOpticalFlowPyrLK``), keeps a point only if tracking it back lands within
  ``max_fb_error_px`` of where it started (forward-backward check), and moves each box by the
  median displacement of its points and scales it by the median ratio of their pairwise
  distances (a similarity about the points' median): the Median Flow tracker of Kalal,
  Mikolajczyk and Matas (ICPR 2010), here as a measurement between detections rather than a
  tracker of its own.

A box whose points do not agree (too few kept, or their median distance from the fitted motion
over ``max_spread_px`` plus ``max_spread_frac`` of the shift) is not moved: its track is only
predicted on that frame, as without flow, and gets no observation. A moved box updates the track it came from
(:meth:`pipeline.tracking.RoadTracker.flow_update`; no association, so no identity can switch
on a flowed frame) and is recorded with ``TrackPoint.detected = False``: a position measured
from the image, with no class vote.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

import cv2
import numpy as np

from detectors.imageops import shrink


@dataclass(frozen=True)
class FlowSettings:
    """Parameters of :class:`BoxFlow` (pixels are the working image's unless named otherwise)."""

    work_width_px: int = 960  # the view is shrunk by the integer factor that brings it nearest this
    max_points: int = 24  # corner points per box
    min_points: int = 4  # fewer kept points: the box is not moved
    quality_level: float = 0.01  # cv2.goodFeaturesToTrack
    min_distance_px: float = 2.0
    inset_x: float = 0.15  # points are taken from the box shrunk by this share of its width per side
    inset_y: float = 0.10  # and of its height (keeps road and neighbours out)
    # Lucas-Kanade window. 11 instead of 15: ~1.7x cheaper Lucas-Kanade (3.2 against 5.4 ms CPU an
    # advance of ~300 points at 960x540), the four committed suites as good (docs/performance.md).
    win_px: int = 11
    levels: int = 3  # pyramid levels above the base image
    max_fb_error_px: float = 0.7  # forward-backward disagreement allowed per point
    # The kept points' median distance from where the fitted similarity puts them may be at most
    # max_spread_px + max_spread_frac x the shift (a near car is no flat similarity: a departing
    # car 38 px a frame left its points 1-2.6 px off one, measured on the fast-night scene).
    max_spread_px: float = 2.0
    max_spread_frac: float = 0.1
    min_box_px: float = 6.0  # smaller boxes (working px, either side) are not followed

    def __post_init__(self) -> None:
        if self.work_width_px < 64:
            raise ValueError(f"work_width_px: expected >= 64, got {self.work_width_px}")
        if not 3 <= self.min_points <= self.max_points:
            raise ValueError(f"min_points: expected 3..max_points ({self.max_points}), got {self.min_points}")
        for name in ("inset_x", "inset_y"):
            if not 0.0 <= getattr(self, name) < 0.5:
                raise ValueError(f"{name}: expected 0..0.5 of the box, got {getattr(self, name)}")


class BoxFlow:
    """Moves the boxes of the last observed frame onto the next frame by median optical flow.

    Args:
        view_px: (x1, y1, x2, y2) px of the frame the detector looks at (the region of interest,
            or the whole frame); only this part is converted and searched.
        settings: see :class:`FlowSettings`.
    """

    def __init__(self, view_px: tuple[int, int, int, int], settings: FlowSettings | None = None) -> None:
        self.settings = settings or FlowSettings()
        x1, y1, x2, y2 = (int(v) for v in view_px)
        if x2 <= x1 or y2 <= y1:
            raise ValueError(f"view_px: expected x1 < x2 and y1 < y2, got {view_px}")
        self._view = (x1, y1, x2, y2)
        self.factor = max(1, int(round((x2 - x1) / self.settings.work_width_px)))
        self._grey: np.ndarray | None = None
        self._boxes = np.zeros((0, 4), np.float64)  # working px
        self._keys: list[Hashable] = []
        self._points: list[np.ndarray] = []  # per box, (k, 2) float32 working px
        self._last_image: np.ndarray | None = None
        self._last_work: np.ndarray | None = None

    def _work(self, image: np.ndarray) -> np.ndarray:
        if image is self._last_image:  # advance() then reference() on one frame (a local detection)
            return self._last_work
        self._last_image, self._last_work = image, self._shrunk(image)
        return self._last_work

    def grey(self, image: np.ndarray) -> np.ndarray:
        """The view of ``image`` in grey, shrunk to the working size (made once per frame: the
        motion gate compares these too, :attr:`detectors.gating.MotionGate.grey_view`)."""
        return self._work(image)

    def _shrunk(self, image: np.ndarray) -> np.ndarray:
        x1, y1, x2, y2 = self._view
        grey = cv2.cvtColor(image[y1:y2, x1:x2], cv2.COLOR_BGR2GRAY)
        f = self.factor
        # An exact integer box mean (the view's last rows/columns past a multiple of f left out),
        # so working px * f is frame px as _to_frame assumes.
        return shrink(grey, ((x2 - x1) // f, (y2 - y1) // f)) if f > 1 else grey

    def _to_work(self, xyxy: np.ndarray) -> np.ndarray:
        x1, y1 = self._view[:2]
        return (np.asarray(xyxy, np.float64) - [x1, y1, x1, y1]) / self.factor

    def _to_frame(self, xyxy: np.ndarray) -> np.ndarray:
        x1, y1 = self._view[:2]
        return xyxy * self.factor + [x1, y1, x1, y1]

    def reference(self, image: np.ndarray, boxes_px: dict[Hashable, np.ndarray]) -> None:
        """Take ``image`` (BGR, full frame) and its measured boxes (key -> x1 y1 x2 y2 frame px) as the start."""
        s = self.settings
        grey = self._work(image)
        self._grey = grey
        keys = list(boxes_px)
        boxes = self._to_work(np.asarray([boxes_px[k] for k in keys], np.float64).reshape(-1, 4))
        h, w = grey.shape
        keep_boxes, keep_keys, keep_points = [], [], []
        for box, key in zip(boxes, keys):
            bx1, by1, bx2, by2 = box
            bw, bh = bx2 - bx1, by2 - by1
            if bw < s.min_box_px or bh < s.min_box_px:
                continue
            ix1 = int(max(0, np.floor(bx1 + s.inset_x * bw)))
            iy1 = int(max(0, np.floor(by1 + s.inset_y * bh)))
            ix2 = int(min(w, np.ceil(bx2 - s.inset_x * bw)))
            iy2 = int(min(h, np.ceil(by2 - s.inset_y * bh)))
            if ix2 - ix1 < 3 or iy2 - iy1 < 3:
                continue
            corners = cv2.goodFeaturesToTrack(grey[iy1:iy2, ix1:ix2], s.max_points, s.quality_level, s.min_distance_px)
            if corners is None or len(corners) < s.min_points:
                continue
            keep_boxes.append(box)
            keep_keys.append(key)
            keep_points.append(corners.reshape(-1, 2).astype(np.float32) + np.float32([ix1, iy1]))
        self._boxes = np.asarray(keep_boxes, np.float64).reshape(-1, 4)
        self._keys, self._points = keep_keys, keep_points

    def advance(self, image: np.ndarray) -> dict[Hashable, np.ndarray]:
        """Move the boxes onto ``image`` (the next frame): key -> moved box (frame px), for those moved.

        The moved boxes and their points become the start for the frame after this one.
        """
        s = self.settings
        grey = self._work(image)
        if self._grey is None or not self._points:
            self._grey = grey
            return {}
        p0 = np.concatenate(self._points).reshape(-1, 1, 2)
        lk = dict(winSize=(s.win_px, s.win_px), maxLevel=s.levels,
                  criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03))
        p1, st1, _ = cv2.calcOpticalFlowPyrLK(self._grey, grey, p0, None, **lk)
        back, st2, _ = cv2.calcOpticalFlowPyrLK(grey, self._grey, p1, None, **lk)
        p0, p1, back = p0.reshape(-1, 2), p1.reshape(-1, 2), back.reshape(-1, 2)
        ok = (st1.ravel() == 1) & (st2.ravel() == 1) & (np.linalg.norm(back - p0, axis=1) <= s.max_fb_error_px)
        h, w = grey.shape
        # Every box's points in one padded (boxes, slots) array, so each median below is one call
        # for all boxes (per-box numpy calls cost more than Lucas-Kanade itself, ~8 boxes a frame).
        counts = np.array([len(pts) for pts in self._points])
        slots = int(counts.max())
        owner = np.repeat(np.arange(len(counts)), counts)
        slot = np.arange(len(owner)) - np.repeat(np.cumsum(counts) - counts, counts)
        good = np.zeros((len(counts), slots), bool)
        good[owner, slot] = ok
        a = np.zeros((len(counts), slots, 2))
        b = np.zeros((len(counts), slots, 2))
        a[owner, slot], b[owner, slot] = p0, p1
        shift = np.stack([_masked_median(b[..., d] - a[..., d], good) for d in (0, 1)], axis=1)
        scale = _median_scale(a, b, good)
        # A similarity about the points' median: the box's corners keep their offsets from
        # it, scaled (the points sit where the texture is, e.g. low on a car's front, so
        # moving the box centre by the points' shift would overshoot an approaching car).
        anchor = np.stack([_masked_median(a[..., d], good) for d in (0, 1)], axis=1)
        fitted = (anchor + shift)[:, None] + scale[:, None, None] * (a - anchor[:, None])
        residual = _masked_median(np.linalg.norm(b - fitted, axis=2), good)
        moved_all = np.tile(anchor + shift, 2) + scale[:, None] * (self._boxes - np.tile(anchor, 2))
        moved_all[:, [0, 2]] = np.clip(moved_all[:, [0, 2]], 0, w)
        moved_all[:, [1, 3]] = np.clip(moved_all[:, [1, 3]], 0, h)
        inside = good & (b[..., 0] >= 0) & (b[..., 0] < w) & (b[..., 1] >= 0) & (b[..., 1] < h)
        keep = (
            (good.sum(axis=1) >= s.min_points)
            & (residual <= s.max_spread_px + s.max_spread_frac * np.hypot(shift[:, 0], shift[:, 1]))  # one body
            & (moved_all[:, 2] - moved_all[:, 0] >= s.min_box_px)
            & (moved_all[:, 3] - moved_all[:, 1] >= s.min_box_px)
            & (inside.sum(axis=1) >= s.min_points)
        )
        boxes = [moved_all[k] for k in np.nonzero(keep)[0]]
        keys = [self._keys[k] for k in np.nonzero(keep)[0]]
        points = [b[k][inside[k]].astype(np.float32) for k in np.nonzero(keep)[0]]
        self._grey = grey
        self._boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        self._keys, self._points = keys, points
        return dict(zip(keys, self._to_frame(self._boxes)))


def _masked_median(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per row of ``values`` (rows, n), the median of the entries where ``mask`` is True (NaN
    where none is): the same number ``np.median`` gives for each row's kept entries."""
    count = mask.sum(axis=1)
    ordered = np.sort(np.where(mask, values, np.inf), axis=1)
    rows = np.arange(len(values))
    lo, hi = np.maximum(count - 1, 0) // 2, np.minimum(count // 2, values.shape[1] - 1)
    return np.where(count > 0, (ordered[rows, lo] + ordered[rows, hi]) / 2, np.nan) if values.shape[1] else np.full(len(values), np.nan)


def _median_scale(a: np.ndarray, b: np.ndarray, good: np.ndarray) -> np.ndarray:
    """Per box, the median ratio of pairwise distances of its good points after / before, within
    0.8-1.25 (1.0 where it cannot be told: no pair of points more than 2 px apart).

    Args:
        a, b: (boxes, slots, 2) points before and after; good: (boxes, slots) which to use.
    """
    i, j = np.triu_indices(a.shape[1], 1)
    da = np.linalg.norm(a[:, i] - a[:, j], axis=2)
    db = np.linalg.norm(b[:, i] - b[:, j], axis=2)
    use = good[:, i] & good[:, j] & (da > 2.0)
    ratio = _masked_median(np.divide(db, da, out=np.ones_like(da), where=use), use)
    return np.where(use.any(axis=1), np.clip(ratio, 0.8, 1.25), 1.0)

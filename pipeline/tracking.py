"""Multi-object tracking with supervision's ByteTrack, accumulated into road-metre tracks."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np
import supervision as sv

from detectors.base import Detections
from pipeline.scene import SceneGeometry
from pipeline.types import Track, TrackPoint


@dataclass(frozen=True)
class TrackerSettings:
    """ByteTrack parameters (see supervision.ByteTrack)."""

    activation_threshold: float = 0.3
    lost_track_buffer_frames: int = 30
    matching_threshold: float = 0.8
    min_consecutive_frames: int = 3
    border_margin_px: float = 3.0


class RoadTracker:
    """Feeds detections to ByteTrack and keeps every track's observations in road metres.

    The road position of a box is the ground point under the middle of its bottom edge,
    the front of an approaching vehicle.
    """

    def __init__(self, geometry: SceneGeometry, image_size: tuple[int, int], fps: float, settings: TrackerSettings | None = None) -> None:
        self._settings = settings or TrackerSettings()
        self._geometry = geometry
        self._size = image_size
        self._tracker = sv.ByteTrack(
            track_activation_threshold=self._settings.activation_threshold,
            lost_track_buffer=self._settings.lost_track_buffer_frames,
            minimum_matching_threshold=self._settings.matching_threshold,
            frame_rate=max(1, int(round(fps))),
            minimum_consecutive_frames=self._settings.min_consecutive_frames,
        )
        self._points: dict[int, list[TrackPoint]] = defaultdict(list)
        self._classes: dict[int, Counter[str]] = defaultdict(Counter)

    def update(self, frame: int, t_s: float, detections: Detections) -> sv.Detections:
        """Add one frame's detections; returns the tracked boxes with ``tracker_id``."""
        tracked = self._tracker.update_with_detections(detections.to_supervision())
        if len(tracked) == 0:
            return tracked
        xyxy = tracked.xyxy.astype(np.float64)
        feet = np.column_stack([(xyxy[:, 0] + xyxy[:, 2]) / 2, xyxy[:, 3]])
        road = self._geometry.to_road(feet)
        resolution = self._geometry.metres_per_px(feet)
        w, h = self._size
        m = self._settings.border_margin_px
        touches = (xyxy[:, 0] <= m) | (xyxy[:, 1] <= m) | (xyxy[:, 2] >= w - m) | (xyxy[:, 3] >= h - m)
        names = tracked.data.get("class_name", np.array(["vehicle"] * len(tracked)))
        conf = tracked.confidence if tracked.confidence is not None else np.ones(len(tracked))
        for k, tid in enumerate(tracked.tracker_id):
            tid = int(tid)
            self._points[tid].append(
                TrackPoint(
                    frame=frame,
                    t_s=t_s,
                    box_px=tuple(float(v) for v in xyxy[k]),
                    road_m=(float(road[k, 0]), float(road[k, 1])),
                    confidence=float(conf[k]),
                    usable=bool(not touches[k] and np.all(np.isfinite(road[k]))),
                    m_per_px=float(resolution[k]) if np.isfinite(resolution[k]) else float("inf"),
                )
            )
            self._classes[tid][str(names[k])] += float(conf[k])
        return tracked

    def tracks(self, min_points: int = 3) -> list[Track]:
        """All tracks with at least ``min_points`` observations, ordered by id."""
        out = []
        for tid in sorted(self._points):
            pts = self._points[tid]
            if len(pts) >= min_points:
                cls = self._classes[tid].most_common(1)[0][0]
                out.append(Track(tid, cls, tuple(pts)))
        return out

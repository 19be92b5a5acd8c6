"""Multi-object tracking with supervision's ByteTrack, accumulated into road-metre tracks."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import supervision as sv
from supervision.tracker.byte_tracker.single_object_track import STrack

from detectors.base import Detections
from pipeline.scene import SceneGeometry
from pipeline.types import Track, TrackPoint, weighted_class


@dataclass(frozen=True)
class TrackerSettings:
    """ByteTrack parameters (see supervision.ByteTrack)."""

    activation_threshold: float = 0.3
    lost_track_buffer_frames: int = 30
    matching_threshold: float = 0.8
    min_consecutive_frames: int = 3
    border_margin_px: float = 3.0
    redetect_lost_frames: int = 6  # a track lost this recently makes the next frame detected (stride)
    # With a stride: every frame is detected while a confirmed track's ground point lies where one
    # pixel spans at most this much road (the rules' measurement zone); None: no such rule.
    dense_max_m_per_px: float | None = None


class RoadTracker:
    """Feeds detections to ByteTrack and keeps every track's observations in road metres.

    The road position of a box is the ground point under the middle of its bottom edge,
    the front of an approaching vehicle.
    """

    def __init__(
        self,
        geometry: SceneGeometry,
        image_size: tuple[int, int],
        fps: float,
        settings: TrackerSettings | None = None,
        view_px: tuple[int, int, int, int] | None = None,
    ) -> None:
        """Args:
            geometry: the camera's image <-> road mapping.
            image_size: (w, h) px of the frames.
            fps: updates per second the tracker sees (its lost-track buffer is in updates).
            settings: ByteTrack parameters.
            view_px: (x1, y1, x2, y2) px the detector looks at (a region of interest); a box
                touching its edge is cut and not measurable. Default: the whole frame.
        """
        self._settings = settings or TrackerSettings()
        self._geometry = geometry
        self._size = image_size
        self._view = tuple(float(v) for v in view_px) if view_px is not None else (0.0, 0.0, float(image_size[0]), float(image_size[1]))
        self._tracker = sv.ByteTrack(
            track_activation_threshold=self._settings.activation_threshold,
            lost_track_buffer=self._settings.lost_track_buffer_frames,
            minimum_matching_threshold=self._settings.matching_threshold,
            frame_rate=max(1, int(round(fps))),
            minimum_consecutive_frames=self._settings.min_consecutive_frames,
        )
        self._points: dict[int, list[TrackPoint]] = defaultdict(list)

    def update(self, frame: int, t_s: float, detections: Detections) -> sv.Detections:
        """Add one frame's detections; returns the tracked boxes with ``tracker_id``."""
        tracked = self._tracker.update_with_detections(detections.to_supervision())
        if len(tracked) == 0:
            return tracked
        xyxy = tracked.xyxy.astype(np.float64)
        feet = np.column_stack([(xyxy[:, 0] + xyxy[:, 2]) / 2, xyxy[:, 3]])
        road = self._geometry.to_road(feet)
        resolution = self._geometry.metres_per_px(feet)
        vx1, vy1, vx2, vy2 = self._view
        m = self._settings.border_margin_px
        touches = (xyxy[:, 0] <= vx1 + m) | (xyxy[:, 1] <= vy1 + m) | (xyxy[:, 2] >= vx2 - m) | (xyxy[:, 3] >= vy2 - m)
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
                    class_name=str(names[k]),
                )
            )
        return tracked

    def predict(self) -> None:
        """Advance every confirmed track one frame on its Kalman motion, with no detections.

        Called for a frame the detector skips (detection stride, motion gating): the next
        detected frame is then matched against boxes predicted over all the frames in between,
        as if every frame had been seen, and no track is marked lost for the skip. Unconfirmed
        tracks (fewer than ``min_consecutive_frames`` updates) are not predicted by ByteTrack;
        :meth:`needs_detection` asks for the next frame while any exists. No observation is
        recorded: measurements come from detected frames only.

        Uses ByteTrack's own state (``tracked_tracks``, ``lost_tracks``, ``shared_kalman``,
        ``frame_id``) of supervision 0.25-0.26 (pinned in pyproject.toml);
        tests/pipeline/test_schedule.py fails if that changes.
        """
        bt = self._tracker
        bt.frame_id += 1
        pool = [t for t in bt.tracked_tracks if t.is_activated]
        seen = {t.internal_track_id for t in pool}
        pool += [t for t in bt.lost_tracks if t.internal_track_id not in seen]
        STrack.multi_predict(pool, bt.shared_kalman)

    def needs_detection(self) -> bool:
        """True while the next frame should be detected whatever the stride.

        That is while a track is unconfirmed or young (ByteTrack drops an unconfirmed one that
        misses a single update, and a young one has not learnt its velocity yet),
        or a track lost in the last ``redetect_lost_frames`` frames has its predicted centre
        inside the view (re-found while its prediction is fresh, it keeps its id). Measured on
        the day-default-s1 sample at stride 3: without the lost-track rule one of its three
        speeders lost its violation; applied to every lost track in view (not only recent
        ones) it had 64 % of the frames detected.

        With ``dense_max_m_per_px`` set, also while a confirmed track's ground point (its
        predicted box) is inside the view where one pixel spans at most that much road: the
        measurement zone, where speeds, lane positions and headings are measured from every
        observation (docs/performance.md: at stride 3 a departing car at 114 km/h had 5 zone
        observations in 0.4 s and no speed). Far from the camera the stride still applies.
        Whether the vehicle moves is not asked: ByteTrack's Kalman velocity starts at zero, and
        a fast car that has just entered looked slow enough to skip (measured: that car's
        speed was lost again on the gantry suite).
        """
        bt = self._tracker
        # tracklet_len counts matches since the track started or was re-found; ByteTrack marks
        # the first frame's tracks activated at once, so the count is the test, not is_activated.
        young = self._settings.min_consecutive_frames
        if any(not t.is_activated or t.tracklet_len < young for t in bt.tracked_tracks):
            return True
        vx1, vy1, vx2, vy2 = self._view
        for t in bt.lost_tracks:
            if bt.frame_id - t.frame_id > self._settings.redetect_lost_frames:
                continue
            x1, y1, x2, y2 = t.tlbr
            cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
            if vx1 < cx < vx2 and vy1 < cy < vy2:
                return True
        return self._in_dense_zone(bt.tracked_tracks)

    def _in_dense_zone(self, tracks) -> bool:
        """Whether a confirmed track's predicted ground point is in the view's measurement zone."""
        limit = self._settings.dense_max_m_per_px
        if limit is None:
            return False
        boxes = [t.tlbr for t in tracks if t.is_activated]
        if not boxes:
            return False
        xyxy = np.asarray(boxes, dtype=np.float64)
        feet = np.column_stack([(xyxy[:, 0] + xyxy[:, 2]) / 2, xyxy[:, 3]])
        vx1, vy1, vx2, vy2 = self._view
        inside = (feet[:, 0] > vx1) & (feet[:, 0] < vx2) & (feet[:, 1] > vy1) & (feet[:, 1] < vy2)
        if not inside.any():
            return False
        return bool(np.any(self._geometry.metres_per_px(feet[inside]) <= limit))

    def tracks(self, min_points: int = 3) -> list[Track]:
        """All tracks with at least ``min_points`` observations, ordered by id."""
        out = []
        for tid in sorted(self._points):
            pts = self._points[tid]
            if len(pts) >= min_points:
                out.append(Track(tid, weighted_class(pts, "vehicle"), tuple(pts)))
        return out

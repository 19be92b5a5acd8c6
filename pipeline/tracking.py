"""Multi-object tracking with supervision's ByteTrack, accumulated into road-metre tracks."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np
import supervision as sv
from supervision.tracker.byte_tracker.single_object_track import STrack, TrackState

from detectors.base import Detections
from detectors.boxes import box_iou
from detectors.region import edge_contact
from pipeline.scene import SceneGeometry
from pipeline.types import Track, TrackPoint, weighted_class

# The confidence recorded for an observation moved by optical flow (pipeline/flow.py): no detector
# score exists for it; it is below ByteTrack's activation threshold and casts no class vote.
FLOW_SCORE = 0.2
#: key prefix of a lost track's box in :meth:`RoadTracker.flow_boxes` (confirmed tracks are keyed by id alone)
LOST = "lost"


@dataclass(frozen=True)
class TrackerSettings:
    """ByteTrack parameters (see supervision.ByteTrack)."""

    activation_threshold: float = 0.3
    lost_track_buffer_frames: int = 30
    matching_threshold: float = 0.8
    min_consecutive_frames: int = 3
    border_margin_px: float = 3.0
    redetect_lost_frames: int = 6  # a track lost this recently makes the next frame detected (stride)
    # Set when optical flow runs (pipeline.run): lost tracks are moved by it until re-found or
    # dropped (RoadTracker._followable), except one overlapping a tracked box by this IoU or more;
    # such a track makes a frame needed only after the flow failed to move it.
    follow_lost: bool = False
    lost_overlap_iou: float = 0.3
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
        self._flow_refs: dict[int, np.ndarray] = {}  # track id -> the box it was measured at this frame
        self._flow_missed: set[int] = set()  # followable lost tracks the last flow step could not move

    def update(self, frame: int, t_s: float, detections: Detections) -> sv.Detections:
        """Add one frame's detections; returns the tracked boxes with ``tracker_id``."""
        tracked = self._tracker.update_with_detections(detections.to_supervision())
        self._flow_refs = self._measured_boxes(tracked, detections)
        self._flow_missed = set()  # flow restarts from this frame (flow_boxes)
        if len(tracked) == 0:
            return tracked
        names = tracked.data.get("class_name", np.array(["vehicle"] * len(tracked)))
        conf = tracked.confidence if tracked.confidence is not None else np.ones(len(tracked))
        self._record(frame, t_s, tracked.xyxy, tracked.tracker_id, [str(n) for n in names], conf)
        return tracked

    def _record(self, frame: int, t_s: float, xyxy: np.ndarray, ids, names: list[str | None], conf, detected: bool = True) -> None:
        xyxy = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
        feet = _feet(xyxy)
        road = self._geometry.to_road(feet)
        resolution = self._geometry.metres_per_px(feet)
        touches = self._touches_view(xyxy)
        for k, tid in enumerate(ids):
            self._points[int(tid)].append(
                TrackPoint(
                    frame=frame,
                    t_s=t_s,
                    box_px=tuple(float(v) for v in xyxy[k]),
                    road_m=(float(road[k, 0]), float(road[k, 1])),
                    confidence=float(conf[k]),
                    usable=bool(not touches[k] and np.all(np.isfinite(road[k]))),
                    m_per_px=float(resolution[k]) if np.isfinite(resolution[k]) else float("inf"),
                    class_name=names[k],
                    detected=detected,
                )
            )

    def _touches_view(self, xyxy: np.ndarray) -> np.ndarray:
        """(N,) bool: the box reaches within ``border_margin_px`` of the view's edge (cut, not measurable)."""
        return edge_contact(xyxy, self._view, self._settings.border_margin_px).any(axis=1)

    def _measured_boxes(self, tracked: sv.Detections, detections: Detections) -> dict[int, np.ndarray]:
        """Each confirmed track updated this frame -> the detector's box it was updated with.

        supervision returns a track only where its Kalman-updated box overlaps the detection by
        IoU > 0.5, which a fast vehicle that has just been confirmed can miss (its filter has not
        learnt the motion yet); such a track gets the unclaimed detection that overlaps its box
        most, so optical flow can still carry it (no observation is recorded from it here).
        """
        bt = self._tracker
        out = {int(t): np.asarray(b, np.float64) for t, b in zip(tracked.tracker_id, tracked.xyxy)}
        rest = [t for t in bt.tracked_tracks if t.is_activated and t.frame_id == bt.frame_id and t.external_track_id not in out]
        if not rest or len(detections) == 0:
            return out
        claimed = {tuple(np.round(b, 3)) for b in tracked.xyxy}
        free = [b.astype(np.float64) for b in detections.xyxy if tuple(np.round(b, 3)) not in claimed]
        for t in rest:
            if not free:
                break
            ious = sv.box_iou_batch(np.asarray([t.tlbr]), np.asarray(free))[0]
            k = int(np.argmax(ious))
            if ious[k] > 0.2:
                out[int(t.external_track_id)] = free.pop(k)
        return out

    def flow_boxes(self) -> dict[Hashable, np.ndarray]:
        """Confirmed track id -> the box it was measured at in the last frame (detected or flowed),
        and ``(LOST, id)`` -> the box of each lost track optical flow should follow (:meth:`_followable`)."""
        out: dict[Hashable, np.ndarray] = dict(self._flow_refs)
        for t in self._followable(self._tracker.lost_tracks):
            out[(LOST, t.external_track_id)] = np.asarray(t.tlbr, np.float64)
        return out

    def _followable(self, lost) -> list[STrack]:
        """The tracks of ``lost`` that optical flow moves while the detector does not see them.

        A vehicle the detector misses for a few frames (a bus at night found at 0.25-0.5, some
        frames not at all) is still in the image: flow keeps its lost track on it, so a later
        detection overlaps the track's box and re-finds it. Kalman prediction alone starts from a
        velocity learnt over a few frames and drifts off (on far-side `bus-lane-night` seed 32 a
        lost bus was 40 px from its prediction 15 frames later and came back as a new track). Not
        followed: a track whose box touches the view's edge (leaving) or overlaps a tracked one's
        (IoU >= ``lost_overlap_iou``: hidden behind it, its points would follow the other vehicle).
        """
        s = self._settings
        if not s.follow_lost:
            return []
        bt = self._tracker
        cands = [t for t in lost if t.state == TrackState.Lost and t.is_activated and t.mean is not None]
        if not cands:
            return []
        boxes = np.asarray([t.tlbr for t in cands], np.float64)
        keep = ~self._touches_view(boxes)
        others = np.asarray([t.tlbr for t in bt.tracked_tracks], np.float64).reshape(-1, 4)
        if len(others):
            keep &= box_iou(boxes, others).max(axis=1) < s.lost_overlap_iou
        return [t for t, k in zip(cands, keep) if k]

    def _follow_lost(self, lost, moved: dict[Hashable, np.ndarray]) -> None:
        """Correct each followable track of ``lost`` with its ``moved`` box (a Kalman update of its
        position; it stays lost, records nothing and ages as before)."""
        kf = self._tracker.shared_kalman
        for t in self._followable(lost):
            box = moved.get((LOST, t.external_track_id))
            if box is None:
                self._flow_missed.add(t.external_track_id)
                continue
            self._flow_missed.discard(t.external_track_id)
            xyah = STrack.tlwh_to_xyah(STrack.tlbr_to_tlwh(np.asarray(box, np.float64)))
            t.mean, t.covariance = kf.update(t.mean, t.covariance, xyah)

    def flow_update(self, frame: int, t_s: float, moved: dict[Hashable, np.ndarray]) -> None:
        """A skipped frame measured by optical flow: ``moved`` maps the keys of :meth:`flow_boxes`
        (track id, or ``(LOST, id)`` for a lost track) -> the box here (px).

        Every track is predicted as by :meth:`predict`; a track with a moved box then gets a
        Kalman update with it, directly (no association: the box came from this track), and an
        observation with ``TrackPoint.detected`` False and no class. A track without one (the
        flow could not follow it) is predicted only, as without flow. A lost track with a moved
        box is corrected with it and stays lost (:meth:`_follow_lost`).
        """
        self.predict()
        self._flow_refs = self._flow_tracks(frame, t_s, self._tracker.tracked_tracks, moved)
        self._follow_lost(self._tracker.lost_tracks, moved)

    def _flow_tracks(self, frame: int, t_s: float, tracks, moved: dict[Hashable, np.ndarray]) -> dict[int, np.ndarray]:
        """Kalman-update each confirmed track of ``tracks`` that has a ``moved`` box with it (no
        association: the box came from this track) and record it as a flowed observation;
        returns track id -> the box used."""
        bt = self._tracker
        by_id = {t.external_track_id: t for t in tracks if t.is_activated}
        ids, boxes = [], []
        for tid, box in moved.items():
            t = by_id.get(tid)
            if t is None:
                continue
            box = np.asarray(box, np.float64)
            t.update(STrack(STrack.tlbr_to_tlwh(box), FLOW_SCORE, self._settings.min_consecutive_frames,
                            bt.shared_kalman, bt.internal_id_counter, bt.external_id_counter), bt.frame_id)
            ids.append(tid)
            boxes.append(box)
        if ids:
            self._record(frame, t_s, np.asarray(boxes), ids, [None] * len(ids), [FLOW_SCORE] * len(ids), detected=False)
        return dict(zip(ids, boxes))

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
        self._flow_refs = {}
        pool = [t for t in bt.tracked_tracks if t.is_activated]
        seen = {t.internal_track_id for t in pool}
        pool += [t for t in bt.lost_tracks if t.internal_track_id not in seen]
        STrack.multi_predict(pool, bt.shared_kalman)

    def needs_detection(self) -> bool:
        """True while the next frame should be detected whatever the stride.

        That is while a track is unconfirmed or young (ByteTrack drops an unconfirmed one that
        misses a single update, and a young one has not learnt its velocity yet),
        or a track lost in the last ``redetect_lost_frames`` frames has its predicted centre
        inside the view and its predicted box clear of the view's edge (re-found while its
        prediction is fresh, it keeps its id; at the edge it is leaving, and a box touching the
        edge is not measurable anyway: 70 of 125 lost-track detections on five suite scenes). Measured on
        the day-default-s1 sample at stride 3: without the lost-track rule one of its three
        speeders lost its violation; applied to every lost track in view (not only recent
        ones) it had 64 % of the frames detected. With ``follow_lost`` (optical flow running) a
        lost track the flow keeps moving does not count: its box stays on the vehicle, so the
        next due detection re-finds it as well (:meth:`_followable`).

        With ``dense_max_m_per_px`` set, also while a confirmed track's ground point (its
        predicted box) is inside the view where one pixel spans at most that much road: the
        measurement zone, where speeds, lane positions and headings are measured from every
        observation (docs/performance.md: at stride 3 a departing car at 114 km/h had 5 zone
        observations in 0.4 s and no speed). Far from the camera the stride still applies.
        Whether the vehicle moves is not asked: ByteTrack's Kalman velocity starts at zero, and
        a fast car that has just entered looked slow enough to skip (measured: that car's
        speed was lost again on the gantry suite).
        """
        return len(self.needing_boxes()) > 0 or self._in_dense_zone(self._tracker.tracked_tracks)

    def needing_boxes(self) -> np.ndarray:
        """(N, 4) px: the boxes of the tracks that make the next frame needed (see
        :meth:`needs_detection`, less its dense-zone rule): unconfirmed or young tracks, and recently
        lost ones predicted inside the view, clear of its edge, that optical flow does not follow
        (``follow_lost``: one the flow moves is looked for again at the next due frame; one the
        last flow step failed to move needs the next frame again). A local detection around these
        (:meth:`local_update`) gives each what a whole-view one would."""
        bt = self._tracker
        # tracklet_len counts matches since the track started or was re-found; ByteTrack marks
        # the first frame's tracks activated at once, so the count is the test, not is_activated.
        s = self._settings
        young = s.min_consecutive_frames
        boxes = [t.tlbr for t in bt.tracked_tracks if not t.is_activated or t.tracklet_len < young]
        vx1, vy1, vx2, vy2 = self._view
        followed = {t.external_track_id for t in self._followable(bt.lost_tracks)} - self._flow_missed
        for t in bt.lost_tracks:
            if bt.frame_id - t.frame_id > s.redetect_lost_frames or t.external_track_id in followed:
                continue
            x1, y1, x2, y2 = t.tlbr
            if self._touches_view(np.array([[x1, y1, x2, y2]], np.float64))[0]:
                continue  # leaving the view: no usable observation is left to measure
            cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
            if vx1 < cx < vx2 and vy1 < cy < vy2:
                boxes.append(t.tlbr)
        return np.asarray(boxes, np.float64).reshape(-1, 4)

    def track_boxes(self) -> np.ndarray:
        """(N, 4) px: every live track's box (tracked, unconfirmed and lost) as the next update
        will see it (:meth:`_ahead`), inside the view: a local window that holds these whole holds
        each track whole for :meth:`local_update`."""
        bt = self._tracker
        return np.asarray([self._ahead(t) for t in (*bt.tracked_tracks, *bt.lost_tracks)], np.float64).reshape(-1, 4)

    def _ahead(self, t: STrack) -> tuple[float, float, float, float]:
        """The track's box one frame of its Kalman motion ahead (what ByteTrack's next association
        compares detections with), joined with its last box and clipped to the view."""
        x1, y1, x2, y2 = t.tlbr
        if t.mean is not None:
            cx, cy, a, h = t.mean[:4] + t.mean[4:]
            w = a * h
            x1, y1, x2, y2 = min(x1, cx - w / 2), min(y1, cy - h / 2), max(x2, cx + w / 2), max(y2, cy + h / 2)
        vx1, vy1, vx2, vy2 = self._view
        return (min(max(x1, vx1), vx2), min(max(y1, vy1), vy2), max(min(x2, vx2), vx1), max(min(y2, vy2), vy1))

    def local_update(
        self, frame: int, t_s: float, detections: Detections, region: tuple[float, float, float, float],
        moved: dict[Hashable, np.ndarray],
    ) -> None:
        """A frame detected only inside ``region`` (px), the rest measured by optical flow.

        The tracks whose box (:meth:`_ahead`, as :meth:`track_boxes` gives it) lies inside the
        region go through ByteTrack's association with ``detections`` (boxes found in the region,
        none cut by its edge) exactly as on a whole-view frame; every other track is predicted,
        and a confirmed one with a ``moved`` box (:meth:`flow_update`'s keys -> px, from optical
        flow) is updated with it, as by :meth:`flow_update`, a lost one corrected. A track outside the region is never marked lost for
        not being seen, and a detection overlapping one (IoU >= 0.3: a track the region could not
        take in whole) is left to it rather than starting a second track on the same vehicle.
        """
        bt = self._tracker
        x1, y1, x2, y2 = region

        def inside(t: STrack) -> bool:
            bx1, by1, bx2, by2 = self._ahead(t)
            return bool(bx1 >= x1 and by1 >= y1 and bx2 <= x2 and by2 <= y2)

        in_tracked, out_tracked = [], []
        for t in bt.tracked_tracks:
            (out_tracked if t.is_activated and not inside(t) else in_tracked).append(t)
        in_lost, out_lost = [], []
        for t in bt.lost_tracks:
            if inside(t):
                in_lost.append(t)
            # A lost track ByteTrack marked removed at its last update stays in lost_tracks until
            # the next one drops it; kept apart from this update it would never be dropped (and
            # could be re-found by a newcomer much later), so it goes now.
            elif t.state != TrackState.Removed:
                out_lost.append(t)
        bt.tracked_tracks, bt.lost_tracks = in_tracked, in_lost
        outside = [t for t in out_tracked if t.is_activated]
        if outside and len(detections):
            overlap = box_iou(detections.xyxy, np.asarray([self._ahead(t) for t in outside], np.float64))
            detections = detections.filter(overlap.max(axis=1) < 0.3)
        self.update(frame, t_s, detections)  # ByteTrack on the inside tracks; bt.frame_id += 1
        measured = self._flow_refs
        STrack.multi_predict([*out_tracked, *out_lost], bt.shared_kalman)
        flowed = self._flow_tracks(frame, t_s, out_tracked, moved)
        self._follow_lost(out_lost, moved)
        bt.tracked_tracks = bt.tracked_tracks + out_tracked
        bt.lost_tracks = bt.lost_tracks + out_lost
        self._flow_refs = {**measured, **flowed}

    def _in_dense_zone(self, tracks) -> bool:
        """Whether a confirmed track's predicted ground point is in the view's measurement zone."""
        limit = self._settings.dense_max_m_per_px
        if limit is None:
            return False
        boxes = [t.tlbr for t in tracks if t.is_activated]
        if not boxes:
            return False
        feet = _feet(np.asarray(boxes, dtype=np.float64))
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


def _feet(xyxy: np.ndarray) -> np.ndarray:
    """(N, 2) px: the middle of each box's bottom edge, where the vehicle meets the road."""
    return np.column_stack([(xyxy[:, 0] + xyxy[:, 2]) / 2, xyxy[:, 3]])

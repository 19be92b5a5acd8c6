"""Driving in the oncoming lane: a vehicle that came along its own side moves into a lane of
the opposite direction and travels there.

Encodes the KR Traffic Rules on lanes for oncoming traffic (source and caveats in
``rules.oncoming_lane.source``). Distinct from wrong way (``wrong_way.py``), where the vehicle
is first seen already travelling against its lane: here it is first seen in a lane of its own
direction (``min_own_points``), then its body centre travels ``min_distance_m`` in an oncoming
lane. Which side it came along is judged on the track's whole history, back to observations as
coarse as ``own_side_max_m_per_px`` (a car that crosses the centre line far away, before the
measurement zone, was still seen on its own side there); the distance in the oncoming lane is
measured inside the zone (``max_m_per_px``) only. The direction of travel is the local robust
velocity, so a vehicle that turns round (a U-turn, judged by its own rule) is in lanes of its own
direction before and after. Where the site allows overtaking through the oncoming lane
(``overtaking_allowed``), an excursion that returns to the own side within ``max_overtake_m`` is
lawful. ``came_along_own_side`` tells the wrong-way rule which vehicles are not its own: a
lawful overtaker was never a wrong-way driver.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.config import OncomingLaneRuleConfig
from pipeline.geometry import point_in_polygon
from pipeline.kinematics import MS_TO_KMH, centred_velocities
from pipeline.rules.body import body_centres
from pipeline.types import RuleHit, Track


def lane_ids(points: np.ndarray, lanes: dict[str, tuple[str, np.ndarray]]) -> list[str | None]:
    """The lane id each (N, 2) road point lies in (first listed lane wins), None outside all."""
    out: list[str | None] = [None] * len(points)
    for lane_id, (_, poly) in lanes.items():
        for k in np.nonzero(point_in_polygon(points, poly))[0]:
            if out[k] is None:
                out[k] = lane_id
    return out


@dataclass(frozen=True)
class LaneHistory:
    """Where a track was and which way it went, observation by observation.

    Attributes:
        t_s: (N,) times of the history's observations, s.
        centres: (N, 2) body centres, road metres.
        fine: (N,) True inside the measurement zone (the excursion is measured there only).
        lane: lane id of each body centre, None outside all lanes.
        heading: "toward"/"away" from the local velocity, None when slower than the minimum.
        own: indices travelling with their lane's lawful direction (any resolution).
        against: indices in the zone travelling against their lane's lawful direction.
    """

    t_s: np.ndarray
    centres: np.ndarray
    fine: np.ndarray
    lane: list[str | None]
    heading: list[str | None]
    own: list[int]
    against: list[int]


def lane_history(
    track: Track, lanes: dict[str, tuple[str, np.ndarray]], cfg: OncomingLaneRuleConfig, lengths: dict[str, float],
    max_m_per_px: float, window_s: float, min_speed_kmh: float,
) -> LaneHistory | None:
    """The track's lanes and directions back to ``cfg.own_side_max_m_per_px``; None when too short.

    Args: as ``check_oncoming_lane``.
    """
    resolution = np.array([p.m_per_px for p in track.points], dtype=np.float64)
    history = track.usable & (resolution <= max(cfg.own_side_max_m_per_px, max_m_per_px))
    t = track.t_s[history]
    fine = resolution[history] <= max_m_per_px  # the measurement zone, within the history
    if int(fine.sum()) < cfg.min_points or len(t) < cfg.min_own_points + cfg.min_points:
        return None
    front = track.road_m[history]
    centres = body_centres(track, t, front, lengths)
    at = lane_ids(centres, lanes)
    vy = centred_velocities(t, front, window_s / 2, 4)[:, 1] * MS_TO_KMH  # NaN: too few points around
    heading: list[str | None] = [
        ("toward" if v < 0 else "away") if abs(v) >= min_speed_kmh else None for v in vy.tolist()
    ]
    seen = [k for k, lane in enumerate(at) if lane is not None and heading[k] is not None]
    own = [k for k in seen if lanes[at[k]][0] == heading[k]]
    # The offence is measured in the zone only; the own side may have been seen before it.
    against = [k for k in seen if lanes[at[k]][0] != heading[k] and fine[k]]
    return LaneHistory(t, centres, fine, at, heading, own, against)


def _own_side_first(h: LaneHistory, min_own_points: int) -> bool:
    """Seen ``min_own_points`` times on its own side before any movement against its lane."""
    if len(h.own) < min_own_points:
        return False
    return not h.against or h.own[min_own_points - 1] < h.against[0]


def came_along_own_side(
    track: Track, lanes: dict[str, tuple[str, np.ndarray]], cfg: OncomingLaneRuleConfig, lengths: dict[str, float],
    max_m_per_px: float = 0.25, window_s: float = 0.8, min_speed_kmh: float = 6.0,
) -> bool:
    """True when the vehicle was seen travelling lawfully on its own side before going against a lane.

    Such a vehicle is never a wrong-way driver (sign 5.5 / sec. 9 concern one first seen against
    its lane): its excursion is this rule's to judge, and where overtaking is lawful it is no
    offence at all. Args: as ``check_oncoming_lane``.
    """
    if not cfg.enabled or not lanes:
        return False
    h = lane_history(track, lanes, cfg, lengths, max_m_per_px, window_s, min_speed_kmh)
    return h is not None and _own_side_first(h, cfg.min_own_points)


def check_oncoming_lane(
    track: Track, lanes: dict[str, tuple[str, np.ndarray]], cfg: OncomingLaneRuleConfig, lengths: dict[str, float],
    max_m_per_px: float = 0.25, window_s: float = 0.8, min_speed_kmh: float = 6.0,
) -> RuleHit | None:
    """Flag the first excursion into an oncoming lane that is long enough and not lawful.

    Args:
        track: the vehicle.
        lanes: lane id -> (lawful direction "toward"/"away", (K, 2) polygon in road metres).
        cfg: distances, evidence counts and how coarse the own-side history may be.
        lengths: nominal vehicle length per class, m (to place the body centre).
        max_m_per_px: the excursion is measured only on observations where a pixel spans at most
            this much road, m (the measurement zone).
        window_s: local velocity fit window, s.
        min_speed_kmh: slower movement along the road gives no direction (not counted).
    """
    if not cfg.enabled or not lanes:
        return None
    h = lane_history(track, lanes, cfg, lengths, max_m_per_px, window_s, min_speed_kmh)
    if h is None:
        return None
    zone_y = track.road_m[track.measurable(max_m_per_px)][:, 1]
    if abs(float(zone_y[-1] - zone_y[0])) < cfg.min_distance_m and abs(float(np.ptp(zone_y))) < cfg.min_distance_m:
        return None
    t, centres, at, heading, own, against = h.t_s, h.centres, h.lane, h.heading, h.own, h.against
    if not against or not _own_side_first(h, cfg.min_own_points):
        return None  # never on its own side first: that is wrong way, not an oncoming-lane excursion
    own_set = set(own)
    # Runs are counted among the zone's lane-assigned observations (and the own-side ones).
    seen = [k for k in range(len(t)) if at[k] is not None and heading[k] is not None and (h.fine[k] or k in own_set)]
    # Excursions: runs of consecutive lane-assigned observations in oncoming lanes.
    runs: list[list[int]] = []
    for k in against:
        if runs and seen.index(k) == seen.index(runs[-1][-1]) + 1:
            runs[-1].append(k)
        else:
            runs.append([k])
    for run in runs:
        if len(run) < cfg.min_points:
            continue
        i, j = run[0], run[-1]
        travelled = float(np.abs(np.diff(centres[run, 1])).sum())
        if travelled < cfg.min_distance_m:
            continue
        back = any(k > j for k in own)
        if cfg.overtaking_allowed and back and travelled <= cfg.max_overtake_m:
            continue
        from_lane = at[max(k for k in own if k < i)]
        return RuleHit(
            type="oncoming_lane",
            track_id=track.track_id,
            t_start_s=float(t[i]),
            t_end_s=float(t[j]),
            t_at_s=float(t[i]),
            measurements={
                "lane_id": at[i] or "",
                "from_lane": from_lane or "",
                "travel_direction": heading[i] or "",
                "distance_in_oncoming_m": round(travelled, 2),
                "min_distance_m": cfg.min_distance_m,
                "returned": "yes" if back else "no",
                "overtaking_allowed": "yes" if cfg.overtaking_allowed else "no",
            },
        )
    return None

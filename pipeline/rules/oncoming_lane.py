"""Driving in the oncoming lane: a vehicle that came along its own side moves into a lane of
the opposite direction and travels there.

Encodes the KR Traffic Rules on lanes for oncoming traffic (source and caveats in
``rules.oncoming_lane.source``). Distinct from wrong way (``wrong_way.py``), where the vehicle
is first seen already travelling against its lane: here it is first seen in a lane of its own
direction (``min_own_points``), then its body centre travels ``min_distance_m`` in an oncoming
lane. Which side it came along is judged on the track's whole history, back to observations as
coarse as ``own_side_max_m_per_px`` (a car that crosses the centre line far away, before the
measurement zone, was still seen on its own side there); the distance in the oncoming lane is
measured inside the zone (``max_m_per_px``) only. The direction of travel is the local robust velocity, so a vehicle that turns round
(a U-turn, judged by its own rule) is in lanes of its own direction before and after. Where the site allows overtaking through the oncoming lane (``overtaking_allowed``), an
excursion that returns to the own side within ``max_overtake_m`` is lawful.
"""

from __future__ import annotations

import numpy as np

from pipeline.config import OncomingLaneRuleConfig
from pipeline.geometry import point_in_polygon
from pipeline.kinematics import MS_TO_KMH, fit_velocity
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
    resolution = np.array([p.m_per_px for p in track.points], dtype=np.float64)
    history = track.usable & (resolution <= max(cfg.own_side_max_m_per_px, max_m_per_px))
    t = track.t_s[history]
    fine = resolution[history] <= max_m_per_px  # the measurement zone, within the history
    if int(fine.sum()) < cfg.min_points or len(t) < cfg.min_own_points + cfg.min_points:
        return None
    front = track.road_m[history]
    zone_y = front[fine, 1]
    if abs(float(zone_y[-1] - zone_y[0])) < cfg.min_distance_m and abs(float(np.ptp(zone_y))) < cfg.min_distance_m:
        return None
    centres = body_centres(track, front, lengths)
    at = lane_ids(centres, lanes)
    heading: list[str | None] = [None] * len(t)
    for k in range(len(t)):
        sel = np.abs(t - t[k]) <= window_s / 2
        if sel.sum() >= 4:
            vy = fit_velocity(t[sel], front[sel])[0][1] * MS_TO_KMH
            if abs(vy) >= min_speed_kmh:
                heading[k] = "toward" if vy < 0 else "away"
    seen = [k for k, lane in enumerate(at) if lane is not None and heading[k] is not None]
    own = [k for k in seen if lanes[at[k]][0] == heading[k]]
    # The offence is measured in the zone only; the own side may have been seen before it.
    against = [k for k in seen if lanes[at[k]][0] != heading[k] and fine[k]]
    if not against or len(own) < cfg.min_own_points or own[cfg.min_own_points - 1] > against[0]:
        return None  # never on its own side first: that is wrong way, not an oncoming-lane excursion
    own_set = set(own)
    seen = [k for k in seen if fine[k] or k in own_set]  # coarse observations in an oncoming lane break no run
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

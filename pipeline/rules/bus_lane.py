"""Driving in a bus lane: a vehicle of a class not allowed there travels along it while reserved.

Encodes the KR Traffic Rules' lane for route vehicles (sign 5.14, marking 1.23; source and the
caveat on section numbers in ``rules.bus_lane.source``). The vehicle's body centre must travel
``min_distance_m`` along a lane of kind ``bus`` while one of the configured local-time windows
is in force: a short entry to turn right or to reach the kerb is lawful and stays under it.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from pipeline.config import BusLaneRuleConfig
from pipeline.geometry import point_in_polygon
from pipeline.rules.body import body_centres
from pipeline.types import RuleHit, Track


def window_active(cfg: BusLaneRuleConfig, at_utc: dt.datetime) -> bool:
    """True when ``at_utc`` (aware datetime) falls in one of the reserved local-time windows."""
    if at_utc.tzinfo is None:
        raise ValueError(f"at_utc must carry a time zone, got naive {at_utc.isoformat()}")
    local = at_utc.astimezone(dt.timezone(dt.timedelta(hours=cfg.utc_offset_hours)))
    minute = local.hour * 60 + local.minute + local.second / 60.0
    for w in cfg.windows:
        start, end = w.minutes()
        if local.weekday() in w.weekdays and start <= minute < end:
            return True
    return False


def _runs(flag: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive (first, last) index runs where ``flag`` is true."""
    d = np.diff(np.concatenate([[0], flag.astype(np.int8), [0]]))
    return list(zip(np.nonzero(d == 1)[0].tolist(), (np.nonzero(d == -1)[0] - 1).tolist()))


def check_bus_lane(
    track: Track,
    bus_lanes: dict[str, np.ndarray],
    cfg: BusLaneRuleConfig,
    lengths: dict[str, float],
    start_time_utc: dt.datetime,
) -> RuleHit | None:
    """Flag the longest stretch a non-allowed vehicle drives inside a reserved bus lane.

    Args:
        track: the vehicle (usable observations are used).
        bus_lanes: lane id -> (K, 2) polygon in road metres, lanes of kind ``bus`` only.
        cfg: windows, allowed classes and minimum evidence.
        lengths: nominal vehicle length per class, m (to place the body centre).
        start_time_utc: UTC wall time of the track's time origin (frame 0).
    """
    if not cfg.enabled or not bus_lanes or track.class_name in cfg.allowed_classes:
        return None
    use = track.usable
    t = track.t_s[use]
    if len(t) < cfg.min_points:
        return None
    centres = body_centres(track, track.road_m[use], lengths)
    active = np.array([window_active(cfg, start_time_utc + dt.timedelta(seconds=float(x))) for x in t], dtype=bool)
    best: tuple[float, str, int, int] | None = None
    for lane_id, poly in bus_lanes.items():
        inside = point_in_polygon(centres, poly) & active
        for i, j in _runs(inside):
            if j - i + 1 < cfg.min_points:
                continue
            travelled = float(np.abs(np.diff(centres[i : j + 1, 1])).sum())
            if travelled >= cfg.min_distance_m and (best is None or travelled > best[0]):
                best = (travelled, lane_id, i, j)
    if best is None:
        return None
    travelled, lane_id, i, j = best
    return RuleHit(
        type="bus_lane",
        track_id=track.track_id,
        t_start_s=float(t[i]),
        t_end_s=float(t[j]),
        t_at_s=float((t[i] + t[j]) / 2),
        measurements={
            "lane_id": lane_id,
            "class_name": track.class_name,
            "distance_in_lane_m": round(travelled, 2),
            "min_distance_m": cfg.min_distance_m,
            "points_in_lane": int(j - i + 1),
        },
    )

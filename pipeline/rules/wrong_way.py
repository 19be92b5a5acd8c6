"""Driving against the lawful direction of the lane (wrong way / oncoming lane).

Encodes the KR Traffic Rules, sec. 9 (lanes' lawful direction; sign 5.5 one-way road). The
robust velocity over short windows must point against the lane the vehicle is in, faster than
``min_speed_kmh``, for at least ``min_duration_s`` and ``min_distance_m`` of road, seen where
the image resolves the road finely enough (``max_m_per_px``): box jitter of a vehicle stopped
far away is not movement.
"""

from __future__ import annotations

import numpy as np

from pipeline.config import WrongWayRuleConfig
from pipeline.geometry import point_in_polygon
from pipeline.kinematics import MS_TO_KMH, centred_velocities
from pipeline.types import RuleHit, Track

#: Lawful direction of travel along the road's Y axis, per lane direction.
LAWFUL_SIGN = {"toward": -1.0, "away": 1.0}


def check_wrong_way(
    track: Track, lanes: dict[str, tuple[str, np.ndarray]], cfg: WrongWayRuleConfig
) -> RuleHit | None:
    """Flag the first sustained movement against the lane's direction.

    Args:
        track: the vehicle.
        lanes: lane id -> (lawful direction "toward"/"away", (K, 2) polygon in road metres).
    """
    if not cfg.enabled or not lanes:
        return None
    use = track.measurable(cfg.max_m_per_px)
    t, pos = track.t_s[use], track.road_m[use]
    if len(t) < 5:
        return None
    wrong = np.zeros(len(t), dtype=bool)
    lane_at: list[str | None] = [None] * len(t)
    velocity = centred_velocities(t, pos, cfg.window_s / 2, 4)  # NaN: too few points around
    for lane_id, (direction, poly) in lanes.items():
        inside = point_in_polygon(pos, poly)
        for k in np.nonzero(inside)[0]:
            lane_at[k] = lane_id
        along = velocity[:, 1] * LAWFUL_SIGN[direction] * MS_TO_KMH
        wrong |= inside & (along <= -cfg.min_speed_kmh)
    idx = np.nonzero(wrong)[0]
    if len(idx) == 0 or t[idx[-1]] - t[idx[0]] < cfg.min_duration_s:
        return None
    k0, k1 = int(idx[0]), int(idx[-1])
    lane = lane_at[k0] or ""
    against_m = -(pos[k1, 1] - pos[k0, 1]) * LAWFUL_SIGN[lanes[lane][0]] if lane else 0.0
    if against_m < cfg.min_distance_m:
        return None
    return RuleHit(
        type="wrong_way",
        track_id=track.track_id,
        t_start_s=float(t[k0]),
        t_end_s=float(t[k1]),
        t_at_s=float((t[k0] + t[k1]) / 2),
        measurements={
            "lane_id": lane,
            "lawful_direction": lanes[lane][0],
            "wrong_for_s": round(float(t[k1] - t[k0]), 2),
            "against_lane_m": round(float(against_m), 2),
        },
    )

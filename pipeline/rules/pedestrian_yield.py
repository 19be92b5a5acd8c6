"""Not yielding to a pedestrian: the vehicle drives across a crosswalk while a person is on it
in the conflict zone of the vehicle's path.

Encodes the KR Traffic Rules' duty to yield at pedestrian crossings (source and caveats in
``rules.pedestrian_yield.source``). While any part of the vehicle's body (front, centre or
rear, from a nominal length) is on the crosswalk and the vehicle moves faster than
``min_vehicle_speed_kmh``, a person whose feet are on the same crosswalk within
``conflict_lateral_m`` of the vehicle's line of travel, seen in at least ``min_person_points``
of those frames, was not yielded to. A person who has finished crossing (off the crosswalk) or
is still far across the road is not in conflict.
"""

from __future__ import annotations

import numpy as np

from pipeline.config import PedestrianYieldRuleConfig
from pipeline.geometry import point_in_polygon
from pipeline.kinematics import instantaneous_speeds
from pipeline.types import RuleHit, Track


def _person_positions(person: Track, t: np.ndarray, max_gap_s: float) -> np.ndarray:
    """(N, 2) feet of ``person`` at the times ``t``: interpolated across gaps up to ``max_gap_s``, NaN elsewhere.

    A person hidden for a few frames (behind the vehicle, a missed detection) is still there.
    """
    use = person.usable
    pt, pos = person.t_s[use], person.road_m[use]
    out = np.full((len(t), 2), np.nan)
    if len(pt) == 0:
        return out
    k = np.searchsorted(pt, t)
    prev_gap = np.where(k > 0, t - pt[np.maximum(k - 1, 0)], np.inf)
    next_gap = np.where(k < len(pt), pt[np.minimum(k, len(pt) - 1)] - t, np.inf)
    exact = np.isclose(np.minimum(prev_gap, next_gap), 0.0, atol=1e-6)
    ok = exact | ((k > 0) & (k < len(pt)) & (prev_gap + next_gap <= max_gap_s))
    for axis in (0, 1):
        out[ok, axis] = np.interp(t[ok], pt, pos[:, axis])
    return out


def check_pedestrian_yield(
    track: Track,
    persons: list[Track],
    crosswalks: dict[str, np.ndarray],
    cfg: PedestrianYieldRuleConfig,
    lengths: dict[str, float],
) -> RuleHit | None:
    """Flag the first person the vehicle did not yield to on a crosswalk.

    Args:
        track: the vehicle (usable observations of its front point).
        persons: person tracks of the same video (feet point in ``road_m``, same time axis).
        crosswalks: crosswalk id -> (K, 2) polygon in road metres.
        cfg: conflict distance and evidence counts.
        lengths: nominal vehicle length per class, m.
    """
    if not cfg.enabled or not persons or not crosswalks:
        return None
    use = track.usable
    t, front = track.t_s[use], track.road_m[use]
    if len(t) < 5:
        return None
    net = front[-1] - front[0]
    norm = float(np.hypot(*net))
    if norm < 1.0:
        return None
    heading = net / norm
    length = lengths.get(track.class_name, 4.5)
    centre, rear = front - heading * length / 2, front - heading * length
    speed = instantaneous_speeds(t, front)
    feet = [_person_positions(person, t, cfg.max_person_gap_s) for person in persons]
    for cw_id, poly in crosswalks.items():
        on = point_in_polygon(front, poly) | point_in_polygon(centre, poly) | point_in_polygon(rear, poly)
        on &= np.nan_to_num(speed, nan=0.0) > cfg.min_vehicle_speed_kmh
        for person, where in zip(persons, feet):
            conflict: list[tuple[int, float]] = []
            for k in np.nonzero(on)[0]:
                p = where[k]
                if not np.all(np.isfinite(p)) or not point_in_polygon(p[None, :], poly)[0]:
                    continue
                d = p - centre[k]
                lateral = abs(float(heading[0] * d[1] - heading[1] * d[0]))
                if lateral <= cfg.conflict_lateral_m:
                    conflict.append((int(k), lateral))
            if len(conflict) < cfg.min_person_points:
                continue
            k0, k1 = conflict[0][0], conflict[-1][0]
            return RuleHit(
                type="pedestrian_yield",
                track_id=track.track_id,
                t_start_s=float(t[k0]),
                t_end_s=float(t[k1]),
                t_at_s=float(t[k0]),
                measurements={
                    "crosswalk_id": cw_id,
                    "person_track_id": person.track_id,
                    "min_lateral_m": round(min(c[1] for c in conflict), 2),
                    "conflict_lateral_m": cfg.conflict_lateral_m,
                    "conflict_points": len(conflict),
                    "vehicle_speed_kmh": round(float(np.nanmax(speed[[c[0] for c in conflict]])), 1),
                },
            )
    return None

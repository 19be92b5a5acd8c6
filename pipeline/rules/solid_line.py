"""Crossing a solid line (forbidden lane change or crossing into the oncoming lanes).

Encodes the KR Traffic Rules, annex 2 (markings 1.1 / 1.3 must not be crossed). The body
centre of the vehicle must be seen clearly on one side of the line (``margin_m``), cross it
inside the painted extent, and be seen past it (``beyond_m``) afterwards. Jitter of a vehicle driving
next to the line never satisfies both margins.
"""

from __future__ import annotations

import numpy as np

from pipeline.config import SolidLineRuleConfig
from pipeline.geometry import Segment
from pipeline.rules.body import body_centres
from pipeline.types import RuleHit, Track


def check_solid_line(
    track: Track, line_id: str, line_m: np.ndarray, cfg: SolidLineRuleConfig, lengths: dict[str, float]
) -> RuleHit | None:
    """Flag the first clear crossing of one solid line by the vehicle's body centre.

    Args:
        track: the vehicle (usable observations are used).
        line_id: the line's id in the camera config.
        line_m: (K, 2) the line's polyline in road metres (its end points define it).
        lengths: nominal vehicle length per class, m (to place the body centre).
    """
    if not cfg.enabled:
        return None
    use = track.usable
    t = track.t_s[use]
    if len(t) < 2 * cfg.min_points_each_side:
        return None
    pos = body_centres(track, t, track.road_m[use], lengths)
    seg = Segment(tuple(line_m[0]), tuple(line_m[-1]))
    side, along = seg.side(pos), seg.projection(pos)
    # Crossings: consecutive observations on opposite sides, the crossing point (interpolated)
    # inside the painted extent of the line.
    positive = side > 0
    for k in np.nonzero(positive[1:] != positive[:-1])[0] + 1:
        frac = side[k - 1] / (side[k - 1] - side[k]) if side[k - 1] != side[k] else 0.0
        at = along[k - 1] + frac * (along[k] - along[k - 1])
        if not 0.0 <= at <= 1.0:
            continue
        first_sign = 1.0 if positive[k - 1] else -1.0
        before = side[:k] * first_sign
        after = -side[k:] * first_sign
        # Clearly in one lane before, clearly in the other after (anywhere along the road).
        if (before >= cfg.margin_m).sum() < cfg.min_points_each_side or (after >= cfg.beyond_m).sum() < cfg.min_points_each_side:
            continue
        t_cross = float(t[k - 1] + frac * (t[k] - t[k - 1]))
        return RuleHit(
            type="solid_line_crossing",
            track_id=track.track_id,
            t_start_s=float(t[k - 1]),
            t_end_s=float(t[k]),
            t_at_s=t_cross,
            measurements={
                "line_id": line_id,
                "crossing_along_line": round(float(at), 3),
                "side_before_m": round(float(np.median(side[:k][before >= cfg.margin_m])), 2),
                "side_after_m": round(float(np.median(side[k:][after >= cfg.beyond_m])), 2),
                "margin_m": cfg.margin_m,
                "beyond_m": cfg.beyond_m,
            },
        )
    return None

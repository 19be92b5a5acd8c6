"""Stopping in a no-stopping zone.

Encodes the KR Traffic Rules, sec. 1.2 ('stopping' is any intentional halt) and sign 3.27
'No stopping': the vehicle's body centre stays inside a ``no_stopping`` zone while it is
stopped for at least ``min_dwell_s`` (configured with its source).
"""

from __future__ import annotations

import numpy as np

from pipeline.config import NoStoppingRuleConfig
from pipeline.geometry import point_in_polygon
from pipeline.kinematics import instantaneous_speeds
from pipeline.rules.body import body_centres
from pipeline.rules.stop_line import stopped_intervals
from pipeline.types import RuleHit, Track


def check_no_stopping(
    track: Track, zones: dict[str, np.ndarray], cfg: NoStoppingRuleConfig, lengths: dict[str, float]
) -> RuleHit | None:
    """Flag the first stop of ``min_dwell_s`` or longer with the body centre in a zone.

    Args:
        zones: zone id -> (K, 2) polygon in road metres.
        lengths: nominal vehicle length per class, m.
    """
    if not cfg.enabled or not zones:
        return None
    use = track.usable
    t, pos = track.t_s[use], track.road_m[use]
    if len(t) < 5:
        return None
    speed = instantaneous_speeds(t, pos, cfg.speed_half_window_s)
    centres = body_centres(track, t, pos, lengths)
    for i, j in stopped_intervals(t, speed, cfg.stopped_speed_kmh, cfg.min_dwell_s):
        centre = np.median(centres[i : j + 1], axis=0, keepdims=True)
        for zone_id, poly in zones.items():
            if point_in_polygon(centre, poly)[0]:
                return RuleHit(
                    type="no_stopping",
                    track_id=track.track_id,
                    t_start_s=float(t[i]),
                    t_end_s=float(t[j]),
                    t_at_s=float(t[i] + cfg.min_dwell_s),
                    measurements={"zone_id": zone_id, "dwell_s": round(float(t[j] - t[i]), 2), "min_dwell_s": cfg.min_dwell_s},
                )
    return None

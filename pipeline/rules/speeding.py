"""Speeding: the robust speed over a window of the track exceeds limit + tolerance.

Encodes the KR Code of Offenses speeding liability (threshold = posted limit plus the
tolerance configured in ``rules.speeding`` with its source).
"""

from __future__ import annotations

from pipeline.config import SpeedingRuleConfig
from pipeline.types import RuleHit, SpeedMeasurement, Track


def check_speeding(
    track: Track, speeds: list[SpeedMeasurement], limit_kmh: float, cfg: SpeedingRuleConfig
) -> RuleHit | None:
    """Flag the track when its highest windowed speed is over limit + tolerance.

    Args:
        track: the vehicle.
        speeds: windowed robust speeds of the track (see ``pipeline.kinematics.window_speeds``).
        limit_kmh: posted limit, km/h.
        cfg: tolerance and minimum evidence.
    """
    if not cfg.enabled or not speeds:
        return None
    pos = track.road_m[track.measurable(cfg.max_m_per_px)]
    if len(pos) < 2:
        return None
    span_m = float(abs(pos[:, 1].max() - pos[:, 1].min()))
    if span_m < cfg.min_track_m:
        return None
    best = max(speeds, key=lambda s: s.speed_kmh)
    threshold = limit_kmh + cfg.tolerance_kmh
    if best.speed_kmh <= threshold:
        return None
    return RuleHit(
        type="speeding",
        track_id=track.track_id,
        t_start_s=float(track.points[0].t_s),
        t_end_s=float(track.points[-1].t_s),
        t_at_s=(best.t_start_s + best.t_end_s) / 2,
        speed_kmh=round(best.speed_kmh, 1),
        limit_kmh=limit_kmh,
        measurements={
            "threshold_kmh": threshold,
            "excess_kmh": round(best.speed_kmh - limit_kmh, 1),
            "window_start_s": round(best.t_start_s, 3),
            "window_end_s": round(best.t_end_s, 3),
            "window_points": best.n_points,
            "fit_residual_m": round(best.residual_m, 3),
            "track_span_m": round(span_m, 2),
        },
    )

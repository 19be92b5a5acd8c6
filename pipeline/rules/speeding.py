"""Speeding: the vehicle's robust speed over the measurement zone exceeds limit + tolerance.

Encodes the KR Code of Offenses speeding liability (threshold = posted limit plus the
tolerance configured in ``rules.speeding`` with its source).

The decision rests on one Theil-Sen fit over every measurable observation of the track (the
longest baseline, so the least scatter). A vehicle that speeds over part of the zone only is
caught when one fit window exceeds the threshold by ``peak_margin_kmh`` more: the fastest of
several overlapping windows is biased upward by their scatter, and a vehicle 1-2 km/h under
the threshold must not be fined on it.
"""

from __future__ import annotations

from pipeline.config import SpeedingRuleConfig
from pipeline.kinematics import fit_speed
from pipeline.types import RuleHit, SpeedMeasurement, Track

#: Fewest zone observations for the whole-zone fit (fewer: the window path alone decides).
MIN_ZONE_POINTS = 5


def check_speeding(
    track: Track, speeds: list[SpeedMeasurement], limit_kmh: float, cfg: SpeedingRuleConfig
) -> RuleHit | None:
    """Flag the track when its speed over the whole measurement zone is over limit + tolerance,
    or one fit window is over it by ``cfg.peak_margin_kmh`` more.

    Args:
        track: the vehicle.
        speeds: windowed robust speeds of the track (see ``pipeline.kinematics.window_speeds``).
        limit_kmh: posted limit, km/h.
        cfg: tolerance, peak margin and minimum evidence.

    Returns:
        The hit, its ``speed_kmh`` the measurement it rests on (``measurements["basis"]``:
        ``zone`` or ``window``), or None.
    """
    if not cfg.enabled or not speeds:
        return None
    zone = track.measurable(cfg.max_m_per_px)
    pos, t = track.road_m[zone], track.t_s[zone]
    if len(pos) < 2:
        return None
    span_m = float(abs(pos[:, 1].max() - pos[:, 1].min()))
    if span_m < cfg.min_track_m:
        return None
    best = max(speeds, key=lambda s: s.speed_kmh)
    threshold = limit_kmh + cfg.tolerance_kmh
    whole = fit_speed(t, pos) if len(pos) >= MIN_ZONE_POINTS else None
    if whole is not None and whole.speed_kmh > threshold:
        basis, used = "zone", whole
    elif best.speed_kmh > threshold + cfg.peak_margin_kmh:
        basis, used = "window", best
    else:
        return None
    return RuleHit(
        type="speeding",
        track_id=track.track_id,
        t_start_s=float(track.points[0].t_s),
        t_end_s=float(track.points[-1].t_s),
        t_at_s=(used.t_start_s + used.t_end_s) / 2,
        speed_kmh=round(used.speed_kmh, 1),
        limit_kmh=limit_kmh,
        measurements={
            "threshold_kmh": threshold,
            "excess_kmh": round(used.speed_kmh - limit_kmh, 1),
            "basis": basis,
            "window_start_s": round(used.t_start_s, 3),
            "window_end_s": round(used.t_end_s, 3),
            "window_points": used.n_points,
            "fit_residual_m": round(used.residual_m, 3),
            "track_span_m": round(span_m, 2),
            "zone_speed_kmh": None if whole is None else round(whole.speed_kmh, 1),
            "fastest_window_kmh": round(best.speed_kmh, 1),
            "peak_margin_kmh": cfg.peak_margin_kmh,
        },
    )

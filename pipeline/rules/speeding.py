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
import numpy as np

from pipeline.kinematics import fit_velocity
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
    zone_kmh = zone_residual = None
    if len(pos) >= MIN_ZONE_POINTS:
        velocity, zone_residual = fit_velocity(t, pos)
        zone_kmh = float(np.hypot(velocity[0], velocity[1])) * 3.6
    if zone_kmh is not None and zone_kmh > threshold:
        basis, speed, start, end, points, residual = "zone", zone_kmh, float(t[0]), float(t[-1]), len(t), zone_residual
    elif best.speed_kmh > threshold + cfg.peak_margin_kmh:
        basis, speed, start, end, points, residual = (
            "window", best.speed_kmh, best.t_start_s, best.t_end_s, best.n_points, best.residual_m
        )
    else:
        return None
    return RuleHit(
        type="speeding",
        track_id=track.track_id,
        t_start_s=float(track.points[0].t_s),
        t_end_s=float(track.points[-1].t_s),
        t_at_s=(start + end) / 2,
        speed_kmh=round(speed, 1),
        limit_kmh=limit_kmh,
        measurements={
            "threshold_kmh": threshold,
            "excess_kmh": round(speed - limit_kmh, 1),
            "basis": basis,
            "window_start_s": round(start, 3),
            "window_end_s": round(end, 3),
            "window_points": points,
            "fit_residual_m": round(float(residual), 3),
            "track_span_m": round(span_m, 2),
            "zone_speed_kmh": None if zone_kmh is None else round(zone_kmh, 1),
            "fastest_window_kmh": round(best.speed_kmh, 1),
            "peak_margin_kmh": cfg.peak_margin_kmh,
        },
    )

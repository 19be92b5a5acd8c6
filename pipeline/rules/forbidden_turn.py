"""Forbidden U-turn and left turn: entry area, then exit area, with the heading turned enough.

Encodes the KR Traffic Rules' turn prohibitions (signs 'No left turn' / 'No U-turn'; source
and caveats in ``rules.forbidden_turn.source``). Each forbidden manoeuvre of a site names an
entry and an exit ``turn_area`` zone; a track whose front point is in the entry area and later
in the exit area, and whose robust heading turned left (counter-clockwise in road X/Y) by at
least ``min_heading_change_deg`` between entering the entry area and leaving the exit area,
made that manoeuvre (the heading is fitted over ``fit_window_s`` after the first and before the
last of those observations, where the vehicle drives straight). A U-turn may turn either
way (only the magnitude counts).
"""

from __future__ import annotations

import math

import numpy as np

from pipeline.config import ForbiddenTurnRuleConfig, Manoeuvre
from pipeline.geometry import point_in_polygon
from pipeline.kinematics import MS_TO_KMH, fit_velocity
from pipeline.types import RuleHit, Track


def heading_change_deg(v_before: np.ndarray, v_after: np.ndarray) -> float:
    """Signed angle from ``v_before`` to ``v_after`` (2-vectors), degrees; > 0 = turned left."""
    cross = float(v_before[0] * v_after[1] - v_before[1] * v_after[0])
    dot = float(v_before @ v_after)
    return math.degrees(math.atan2(cross, dot))


def _velocity(t: np.ndarray, pos: np.ndarray, sel: np.ndarray) -> np.ndarray | None:
    if sel.sum() < 4 or t[sel][-1] - t[sel][0] < 0.2:
        return None
    v, _ = fit_velocity(t[sel], pos[sel])
    return v


def _velocity_near(t: np.ndarray, pos: np.ndarray, candidates: np.ndarray, window_s: float, after: bool) -> np.ndarray | None:
    """The velocity over ``window_s`` after (``after``) or before each candidate index in turn,
    the first that has enough observations: a track re-found after a gap, or first seen on a
    stray box, has too few points in its very first or last window, and the next one is used."""
    for k in candidates:
        sel = (t >= t[k] - 1e-9) & (t <= t[k] + window_s) if after else (t <= t[k] + 1e-9) & (t >= t[k] - window_s)
        v = _velocity(t, pos, sel)
        if v is not None:
            return v
    return None


def check_forbidden_turn(
    track: Track, manoeuvres: list[tuple[Manoeuvre, np.ndarray, np.ndarray]], cfg: ForbiddenTurnRuleConfig
) -> RuleHit | None:
    """Flag the first forbidden manoeuvre the track performs.

    Args:
        track: the vehicle (usable observations of its front point).
        manoeuvres: (manoeuvre, entry polygon (K, 2) road m, exit polygon (M, 2) road m).
        cfg: fit window and minimum speed.
    """
    if not cfg.enabled or not manoeuvres:
        return None
    use = track.usable
    t, pos = track.t_s[use], track.road_m[use]
    if len(t) < 8:
        return None
    for m, entry, exit_ in manoeuvres:
        in_entry = np.nonzero(point_in_polygon(pos, entry))[0]
        in_exit = np.nonzero(point_in_polygon(pos, exit_))[0]
        if len(in_entry) == 0:
            continue
        i = int(in_entry[0])
        later = in_exit[in_exit > i]
        if len(later) == 0:
            continue
        j, j_last = int(later[0]), int(later[-1])
        v0 = _velocity_near(t, pos, in_entry[in_entry < j], cfg.fit_window_s, after=True)
        v1 = _velocity_near(t, pos, later[::-1], cfg.fit_window_s, after=False)
        if v0 is None or v1 is None:
            continue
        s0, s1 = float(np.hypot(*v0)) * MS_TO_KMH, float(np.hypot(*v1)) * MS_TO_KMH
        if min(s0, s1) < cfg.min_speed_kmh:
            continue
        turn = heading_change_deg(v0, v1)
        turned = abs(turn) if m.kind == "u_turn" else turn
        if turned < m.min_heading_change_deg:
            continue
        return RuleHit(
            type=m.kind,
            track_id=track.track_id,
            t_start_s=float(t[i]),
            t_end_s=float(t[j_last]),
            t_at_s=float(t[j]),
            measurements={
                "manoeuvre_id": m.id,
                "entry_zone": m.entry_zone,
                "exit_zone": m.exit_zone,
                "heading_change_deg": round(turn, 1),
                "min_heading_change_deg": m.min_heading_change_deg,
                "speed_before_kmh": round(s0, 1),
                "speed_after_kmh": round(s1, 1),
            },
        )
    return None

"""Turning vehicles: a prescribed path through the intersection with an exact speed profile.

A turning vehicle approaches in its lane at cruise speed, brakes at ``TURN_BRAKE_MPS2`` to its
turn speed so that it reaches the arc at that speed, drives the arc (a circle of fixed radius
per manoeuvre) and accelerates out of it at ``TURN_ACCEL_MPS2``. Positions are the arc-length
integral of the recorded speed along the path, so speed and position agree exactly. Turning
vehicles do not take part in car following: scenarios keep them clear of other traffic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from scenes.layout import RoadLayout

TURN_BRAKE_MPS2 = 2.0
TURN_ACCEL_MPS2 = 1.5
#: (arc start Y of the front, radius m, turn direction +1 left / -1 right, sweep degrees).
TURN_GEOMETRY = {
    "u_turn": (62.0, 3.5, 1.0, 180.0),  # mid-block, across the double centre line, in view
    "left_turn": (27.0, 9.0, 1.0, 90.0),
    "right_turn": (27.0, 6.0, -1.0, 90.0),
}
_EXIT_RUN_M = 120.0
#: Entry and exit areas (road metres) of each manoeuvre a scenario may forbid; (id, polygon).
TURN_AREAS_M = {
    "u_turn": (("ta-u-in", ((-3.5, 50.0), (0.0, 50.0), (0.0, 95.0), (-3.5, 95.0))),
               ("ta-u-out", ((0.0, 50.0), (7.0, 50.0), (7.0, 95.0), (0.0, 95.0)))),
    # A left turn from the approach lanes: in them before the stop line, then in the departure
    # half of the intersection or the cross street beyond it (X > 0, Y 10-24). Only views that
    # look into the intersection (gantry, mast) see the turn; the kerb pole stands beside it.
    "left_turn": (("ta-l-in", ((-10.5, 36.0), (0.0, 36.0), (0.0, 70.0), (-10.5, 70.0))),
                  ("ta-l-out", ((0.0, 10.0), (40.0, 10.0), (40.0, 24.0), (0.0, 24.0)))),
}
#: Heading change that makes each manoeuvre, degrees (published with the manoeuvre).
#: A U-turn often loses its track before it is complete. A left turn leaves the views that see
#: the intersection mid-arc (gantry, mast: the last usable box at 60-75 deg of the 90, and the
#: fitted heading lags the arc), and 45 deg to the left inside the departure half of the
#: intersection is no lane change or straight run: it is a left turn (or a U-turn).
MIN_HEADING_CHANGE_DEG = {"u_turn": 120.0, "left_turn": 45.0}


@dataclass(frozen=True)
class Turn:
    """A turn of ``kind`` (see TURN_GEOMETRY) driven at ``speed_mps`` (m/s)."""

    kind: str
    speed_mps: float

    def __post_init__(self) -> None:
        if self.kind not in TURN_GEOMETRY:
            raise ValueError(f"turn kind must be one of {sorted(TURN_GEOMETRY)}, got {self.kind!r}")


def turn_path(x0: float, y_start: float, kind: str, step_m: float = 0.05) -> tuple[np.ndarray, float, float]:
    """The front point's path: (N, 2) road points every ``step_m``, arc start and end arc-length (m).

    The vehicle comes from ``y_start`` along X = ``x0`` towards the camera (decreasing Y).
    """
    y_arc, r, turn, sweep = TURN_GEOMETRY[kind]
    if y_start <= y_arc:
        raise ValueError(f"a turning vehicle must start above Y {y_arc} m, got {y_start}")
    straight = np.column_stack([np.full(2, x0), [y_start, y_arc]])
    # Heading -Y; the centre lies to the driver's left (+X) for a left turn, right (-X) for a right turn.
    cx, cy = x0 + turn * r, y_arc
    a0 = math.pi if turn > 0 else 0.0
    angles = a0 + turn * np.radians(np.linspace(0.0, sweep, max(8, int(r * math.radians(sweep) / step_m))))
    arc = np.column_stack([cx + r * np.cos(angles), cy + r * np.sin(angles)])
    end = arc[-1]
    tangent = arc[-1] - arc[-2]
    tangent = tangent / np.linalg.norm(tangent)
    exit_ = np.vstack([end, end + tangent * _EXIT_RUN_M])
    s_arc0 = y_start - y_arc
    s_arc1 = s_arc0 + r * math.radians(sweep)
    pts = [straight, arc[1:], exit_[1:]]
    return _resample(np.vstack(pts), step_m), s_arc0, s_arc1


def _resample(points: np.ndarray, step_m: float) -> np.ndarray:
    seg = np.hypot(*np.diff(points, axis=0).T)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    grid = np.arange(0.0, s[-1], step_m)
    return np.column_stack([np.interp(grid, s, points[:, 0]), np.interp(grid, s, points[:, 1])])


def speed_profile(t: np.ndarray, spawn_t: float, cruise_mps: float, turn_mps: float, s_arc0: float, s_arc1: float,
                  length_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arc length s (m), speed (m/s) and alive flag along the path at each time of ``t``.

    Integrated on ``t``'s own step with piecewise-constant acceleration (exact positions).
    """
    s = np.full(len(t), np.nan)
    v = np.full(len(t), np.nan)
    alive = np.zeros(len(t), dtype=bool)
    pos, vel = 0.0, cruise_mps
    started = False
    for k in range(len(t)):
        if t[k] < spawn_t - 1e-9:
            continue
        if started:
            dt = t[k] - t[k - 1]
            if pos < s_arc0:
                brake_at = s_arc0 - (vel * vel - turn_mps * turn_mps) / (2 * TURN_BRAKE_MPS2)
                acc = -TURN_BRAKE_MPS2 if pos >= brake_at and vel > turn_mps else 0.0
            elif pos < s_arc1:
                acc = 0.0
            else:
                acc = TURN_ACCEL_MPS2 if vel < cruise_mps else 0.0
            nv = vel + acc * dt
            if acc < 0 and nv < turn_mps:
                acc, nv = (turn_mps - vel) / dt, turn_mps
            if acc > 0 and nv > cruise_mps:
                acc, nv = (cruise_mps - vel) / dt, cruise_mps
            pos += vel * dt + 0.5 * acc * dt * dt
            vel = nv
            if pos >= s_arc0 and vel > turn_mps and pos < s_arc1:
                vel = turn_mps  # numerical guard: never enter the arc faster than the turn speed
        started = True
        if pos > length_m:
            break
        s[k], v[k], alive[k] = pos, vel, True
    return s, v, alive


def turn_states(path: np.ndarray, s: np.ndarray, v: np.ndarray, step_m: float = 0.05) -> dict[str, np.ndarray]:
    """Front position, velocity and unit heading at each arc length ``s`` (NaN where ``s`` is NaN)."""
    n = len(path)
    out = {k: np.full(len(s), np.nan) for k in ("x", "y", "vx", "vy", "hx", "hy")}
    ok = np.isfinite(s)
    f = np.clip(s[ok] / step_m, 0, n - 1.001)
    i = np.floor(f).astype(int)
    w = f - i
    p = path[i] * (1 - w)[:, None] + path[i + 1] * w[:, None]
    d = path[np.minimum(i + 1, n - 1)] - path[i]
    d = d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-12)
    out["x"][ok], out["y"][ok] = p[:, 0], p[:, 1]
    out["hx"][ok], out["hy"][ok] = d[:, 0], d[:, 1]
    out["vx"][ok], out["vy"][ok] = d[:, 0] * v[ok], d[:, 1] * v[ok]
    return out


def path_length(path: np.ndarray, step_m: float = 0.05) -> float:
    """Arc length of a resampled path, m."""
    return (len(path) - 1) * step_m


def lane_x(layout: RoadLayout, lane: str) -> float:
    """Centre X of ``lane``, m."""
    return layout.lane(lane).centre_x_m

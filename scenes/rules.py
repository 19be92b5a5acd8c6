"""Ground-truth violations derived from the exact trajectories (pure: numbers in, records out).

These are the *truth* definitions the pipeline is scored against (docs/truth-schema.md):

* ``speeding``: the highest true speed while in view exceeds limit + tolerance; start/end = first
  and last in-view frame time.
* ``red_light``: the front crosses the stop line (front Y < stop-line Y) while the signal
  prohibits (red, or red + amber) and the front then reaches the intersection's far edge before
  the next green; start = crossing time, end = min(crossing + 3 s, last in-view time).
* ``stop_line``: the vehicle comes to a stop (speed < 1 km/h) during a prohibiting phase with its
  front at least 0.5 m past the stop line (and not yet in the intersection), without then going
  on at red; start = stop time, end = time it moves again (>= 1 km/h) or scene end.
* ``solid_line_crossing``: the body centre crosses a solid line where it is painted;
  start/end = first/last time the body overlaps the line around that crossing.
* ``no_stopping``: stopped (speed < 1 km/h) with the body centre inside a no-stopping zone for at
  least 5 s; start = stop time, end = move-off time (or scene end), details.dwell_s.
* ``wrong_way``: first seen (in view, outside the intersection) moving against the lawful
  direction of the lane under the body centre; start/end = first/last in-view frame time in that
  state.
* ``oncoming_lane``: first seen in a lane of its own direction of travel, later with the body
  centre in a lane whose lawful direction is opposite to its current direction of travel for at
  least 5 m of road (``ONCOMING_MIN_M``); start/end = first/last in-view time in that state.
* ``bus_lane``: a vehicle other than a bus with its body centre in the bus lane, in view, while a
  reserved window (local time UTC+6) is in force, for at least 20 m of travel (``BUS_LANE_MIN_M``);
  start/end = first/last frame time of that stretch.
* ``pedestrian_yield``: while the vehicle moves faster than 5 km/h with its front, body centre or
  rear on a crosswalk, a pedestrian (wholly in the image) stands on that crosswalk within 3.5 m
  of the vehicle's line of travel (``PEDESTRIAN_CONFLICT_M``), in at least 3 frames; start/end
  = first/last such frame.
* ``u_turn`` (where the scenario forbids it): the front point enters the manoeuvre's entry area
  and later its exit area, having turned round (heading change >= 120 degrees); start = first
  time in the entry area, end = last time in the exit area.

Inside the intersection lanes have no direction (the lane rules do not apply there).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from scenes.geom2d import point_in_polygon
from scenes.kinematics import Actor, Trajectories
from scenes.layout import RoadLayout
from scenes.signal import PROHIBITING, SignalPlan

STOPPED_KMH = 1.0
STOP_LINE_OVERSHOOT_M = 0.5
NO_STOPPING_MIN_S = 5.0
RED_LIGHT_WINDOW_S = 3.0
ONCOMING_MIN_M = 5.0
PEDESTRIAN_CONFLICT_M = 3.5
PEDESTRIAN_MIN_FRAMES = 3
PEDESTRIAN_MIN_VEHICLE_KMH = 5.0
BUS_LANE_MIN_M = 20.0
BUS_LANE_UTC_OFFSET_H = 6.0


@dataclass(frozen=True)
class Violation:
    """One true violation: ``type`` by ``vehicle_id`` from ``start_s`` to ``end_s`` (scene s)."""

    type: str
    vehicle_id: int
    start_s: float
    end_s: float
    details: dict[str, float | str] = field(default_factory=dict)


@dataclass(frozen=True)
class RuleContext:
    """Everything the rules need besides the trajectories.

    Attributes:
        layout: site geometry. plan: signal plan.
        in_view: (n_actors, n_frames) bool, the vehicle has a truth box in that frame.
        fps: frames per second. duration_s: scene length, s.
        limit_kmh: speed limit. tolerance_kmh: enforcement tolerance.
    """

    layout: RoadLayout
    plan: SignalPlan
    in_view: np.ndarray
    fps: float
    duration_s: float
    limit_kmh: float
    tolerance_kmh: float
    start_time_utc: dt.datetime | None = None
    bus_windows: tuple[tuple[str, str], ...] = ()
    forbidden: dict[str, tuple[np.ndarray, np.ndarray, float]] = field(default_factory=dict)
    walkers: tuple = ()
    walker_in_view: np.ndarray | None = None


def _view_span(ctx: RuleContext, i: int, mask: np.ndarray | None = None) -> tuple[float, float] | None:
    frames = ctx.in_view[i] if mask is None else ctx.in_view[i] & mask
    idx = np.nonzero(frames)[0]
    if len(idx) == 0:
        return None
    return float(idx[0] / ctx.fps), float(idx[-1] / ctx.fps)


def _episodes(flag: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive (first, last) index runs where ``flag`` is true."""
    d = np.diff(np.concatenate([[0], flag.astype(np.int8), [0]]))
    starts, ends = np.nonzero(d == 1)[0], np.nonzero(d == -1)[0] - 1
    return list(zip(starts.tolist(), ends.tolist()))


def _speeding(a: Actor, i: int, traj: Trajectories, ctx: RuleContext) -> list[Violation]:
    span = _view_span(ctx, i)
    if span is None:
        return []
    speed = traj.speed_mps[i, traj.frame_slice()] * 3.6
    vmax = float(np.nanmax(np.where(ctx.in_view[i], speed, np.nan)))
    if vmax <= ctx.limit_kmh + ctx.tolerance_kmh:
        return []
    return [Violation("speeding", a.id, span[0], span[1], {"true_speed_kmh": round(vmax, 2), "limit_kmh": ctx.limit_kmh,
                                                            "tolerance_kmh": ctx.tolerance_kmh})]


def _red_light_and_stop_line(a: Actor, i: int, traj: Trajectories, ctx: RuleContext) -> list[Violation]:
    if a.direction != "toward":
        return []
    alive = traj.alive[i]
    y = np.where(alive, traj.y_m[i], np.nan)
    t = traj.t_s
    line = ctx.layout.stop_line_y_m
    far_edge = ctx.layout.intersection_y_m[1]
    out: list[Violation] = []
    cross = np.nonzero(alive[1:] & alive[:-1] & (y[:-1] >= line) & (y[1:] < line))[0]
    ran_red = False
    if len(cross):
        k = int(cross[0])
        frac = (y[k] - line) / (y[k] - y[k + 1])
        t_cross = float(t[k] + frac * (t[k + 1] - t[k]))
        state = ctx.plan.state_at(t_cross)
        if state in PROHIBITING:
            enter = np.nonzero(alive & (t > t_cross) & (y <= far_edge))[0]
            if len(enter) and ctx.plan.state_at(float(t[enter[0]])) != "green":
                ran_red = True
                span = _view_span(ctx, i)
                end = min(t_cross + RED_LIGHT_WINDOW_S, span[1] if span else t_cross + RED_LIGHT_WINDOW_S)
                speed = float(traj.speed_mps[i, k] * 3.6)
                out.append(Violation("red_light", a.id, round(t_cross, 3), round(end, 3),
                                     {"signal_state": state, "crossing_speed_kmh": round(speed, 2),
                                      "red_elapsed_s": round(ctx.plan.elapsed_in(t_cross, PROHIBITING), 3)}))
    if ran_red:
        return out
    stopped = alive & (traj.speed_mps[i] * 3.6 < STOPPED_KMH)
    for s0, s1 in _episodes(stopped):
        t0 = float(t[s0])
        if ctx.plan.state_at(t0) not in PROHIBITING:
            continue
        if not (far_edge < y[s0] <= line - STOP_LINE_OVERSHOOT_M):
            continue
        end = float(t[s1 + 1]) if s1 + 1 < len(t) and alive[s1 + 1] else ctx.duration_s
        out.append(Violation("stop_line", a.id, round(t0, 3), round(end, 3),
                             {"overshoot_m": round(float(line - y[s0]), 3), "signal_state": ctx.plan.state_at(t0)}))
        break
    return out


def _solid_lines(a: Actor, i: int, traj: Trajectories, ctx: RuleContext) -> list[Violation]:
    alive = traj.alive[i]
    cx = traj.x_m[i] - 0.5 * a.length_m * traj.hx[i]
    cy = traj.y_m[i] - 0.5 * a.length_m * traj.hy[i]
    out: list[Violation] = []
    for line in ctx.layout.lines:
        if line.kind != "solid":
            continue
        (xa, ya), (xb, yb) = line.points_m[0], line.points_m[-1]
        if abs(xa - xb) > 1e-9:
            raise ValueError(f"line {line.id}: only lines along the road (constant X) are supported")
        side = np.sign(cx - xa)
        flips = np.nonzero(alive[1:] & alive[:-1] & (side[1:] != side[:-1]) & (side[1:] != 0))[0]
        for k in flips:
            if not (min(ya, yb) <= cy[k] <= max(ya, yb)):
                continue
            overlap = alive & (np.abs(cx - xa) < 0.5 * a.width_m)
            run = next(((s, e) for s, e in _episodes(overlap) if s <= k + 1 and e >= k), None)
            s, e = run if run else (k, k + 1)
            lane_from = ctx.layout.lane_at(float(cx[s]))
            lane_to = ctx.layout.lane_at(float(cx[e]))
            out.append(Violation("solid_line_crossing", a.id, round(float(traj.t_s[s]), 3), round(float(traj.t_s[e]), 3),
                                 {"line_id": line.id, "from_lane": lane_from.id if lane_from else "",
                                  "to_lane": lane_to.id if lane_to else ""}))
    return out


def _no_stopping(a: Actor, i: int, traj: Trajectories, ctx: RuleContext) -> list[Violation]:
    alive = traj.alive[i]
    cx = traj.x_m[i] - 0.5 * a.length_m * traj.hx[i]
    cy = traj.y_m[i] - 0.5 * a.length_m * traj.hy[i]
    stopped = alive & (traj.speed_mps[i] * 3.6 < STOPPED_KMH)
    out: list[Violation] = []
    for zone in ctx.layout.zones:
        if zone.kind != "no_stopping":
            continue
        poly = np.array(zone.polygon_m)
        for s0, s1 in _episodes(stopped):
            if not point_in_polygon((float(cx[s0]), float(cy[s0])), poly):
                continue
            t0 = float(traj.t_s[s0])
            end = float(traj.t_s[s1 + 1]) if s1 + 1 < len(traj.t_s) and alive[s1 + 1] else ctx.duration_s
            if end - t0 >= NO_STOPPING_MIN_S:
                out.append(Violation("no_stopping", a.id, round(t0, 3), round(end, 3),
                                     {"zone_id": zone.id, "dwell_s": round(end - t0, 3)}))
    return out


def _lane_states(a: Actor, i: int, traj: Trajectories, ctx: RuleContext) -> tuple[np.ndarray, np.ndarray, list]:
    """Per video frame: travelling with the lane (+1), against it (-1) or neither (0); body centre; lanes."""
    sl = traj.frame_slice()
    cx = (traj.x_m[i] - 0.5 * a.length_m * traj.hx[i])[sl]
    cy = (traj.y_m[i] - 0.5 * a.length_m * traj.hy[i])[sl]
    vy = traj.vy_mps[i][sl]
    iy0, iy1 = ctx.layout.intersection_y_m
    state = np.zeros(len(cx), dtype=np.int8)
    lanes: list = [None] * len(cx)
    for k, (x, y) in enumerate(zip(cx, cy)):
        if not np.isfinite(x) or iy0 <= y <= iy1 or abs(vy[k]) < 0.2:
            continue
        lane = ctx.layout.lane_at(float(x))
        if lane is None:
            continue
        lanes[k] = lane
        moving = "toward" if vy[k] < 0 else "away"
        state[k] = 1 if lane.direction == moving else -1
    return state, cy, lanes


def _wrong_way_and_oncoming(a: Actor, i: int, traj: Trajectories, ctx: RuleContext) -> list[Violation]:
    state, cy, lanes = _lane_states(a, i, traj, ctx)
    n = ctx.in_view.shape[1]
    state, cy, lanes = state[:n], cy[:n], lanes[:n]
    seen = np.nonzero((state != 0) & ctx.in_view[i])[0]
    if len(seen) == 0:
        return []
    against = (state == -1) & ctx.in_view[i]
    if state[seen[0]] == -1:
        span = _view_span(ctx, i, against)
        names = sorted({lanes[k].id for k in np.nonzero(against)[0]})
        return [Violation("wrong_way", a.id, span[0], span[1], {"lane": ",".join(names), "direction": a.direction})]
    for s0, s1 in _episodes(against):
        travelled = float(np.nansum(np.abs(np.diff(cy[s0:s1 + 1]))))
        if travelled >= ONCOMING_MIN_M:
            return [Violation("oncoming_lane", a.id, round(s0 / ctx.fps, 3), round(s1 / ctx.fps, 3),
                              {"lane": lanes[s0].id, "distance_m": round(travelled, 2)})]
    return []


def _pedestrian_yield(a: Actor, i: int, traj: Trajectories, ctx: RuleContext) -> list[Violation]:
    if not ctx.walkers or ctx.walker_in_view is None:
        return []
    sl = traj.frame_slice()
    n = ctx.in_view.shape[1]
    x, y = traj.x_m[i][sl][:n], traj.y_m[i][sl][:n]
    hx, hy = traj.hx[i][sl][:n], traj.hy[i][sl][:n]
    speed = traj.speed_mps[i][sl][:n] * 3.6
    t = np.arange(n) / ctx.fps
    for zone in ctx.layout.zones:
        if zone.kind != "crosswalk":
            continue
        poly = np.array(zone.polygon_m)
        for j, w in enumerate(ctx.walkers):
            wx, wy = w.position(t)
            hits = []
            for k in range(n):
                if not (np.isfinite(x[k]) and ctx.in_view[i, k] and ctx.walker_in_view[j, k]) or speed[k] <= PEDESTRIAN_MIN_VEHICLE_KMH:
                    continue
                body = [(x[k] - f * a.length_m * hx[k], y[k] - f * a.length_m * hy[k]) for f in (0.0, 0.5, 1.0)]
                if not any(point_in_polygon(p, poly) for p in body) or not point_in_polygon((float(wx[k]), float(wy[k])), poly):
                    continue
                cx, cy = body[1]
                lateral = abs(hx[k] * (wy[k] - cy) - hy[k] * (wx[k] - cx))
                if lateral <= PEDESTRIAN_CONFLICT_M:
                    hits.append(k)
            if len(hits) >= PEDESTRIAN_MIN_FRAMES:
                return [Violation("pedestrian_yield", a.id, round(hits[0] / ctx.fps, 3), round(hits[-1] / ctx.fps, 3),
                                  {"pedestrian_id": w.id, "crosswalk_id": zone.id})]
    return []


def bus_window_active(windows: tuple[tuple[str, str], ...], at_utc: dt.datetime) -> bool:
    """True when ``at_utc`` lies in one of the local (UTC+6) HH:MM windows."""
    local = at_utc.astimezone(dt.timezone(dt.timedelta(hours=BUS_LANE_UTC_OFFSET_H)))
    minute = local.hour * 60 + local.minute + local.second / 60
    for start, end in windows:
        (h0, m0), (h1, m1) = (map(int, x.split(":")) for x in (start, end))
        if h0 * 60 + m0 <= minute < h1 * 60 + m1:
            return True
    return False


def _bus_lane(a: Actor, i: int, traj: Trajectories, ctx: RuleContext, vclass: str) -> list[Violation]:
    bus = [ln for ln in ctx.layout.lanes if ln.kind == "bus"]
    if not bus or vclass == "bus" or ctx.start_time_utc is None:
        return []
    sl = traj.frame_slice()
    cx = (traj.x_m[i] - 0.5 * a.length_m * traj.hx[i])[sl][: ctx.in_view.shape[1]]
    cy = (traj.y_m[i] - 0.5 * a.length_m * traj.hy[i])[sl][: ctx.in_view.shape[1]]
    active = np.array([bus_window_active(ctx.bus_windows, ctx.start_time_utc + dt.timedelta(seconds=k / ctx.fps))
                       for k in range(len(cx))])
    inside = np.array([np.isfinite(x) and any(ln.x_min_m <= x < ln.x_max_m for ln in bus) for x in cx])
    flag = inside & active & ctx.in_view[i]
    for s0, s1 in _episodes(flag):
        travelled = float(np.abs(np.diff(cy[s0:s1 + 1])).sum())
        if travelled >= BUS_LANE_MIN_M:
            return [Violation("bus_lane", a.id, round(s0 / ctx.fps, 3), round(s1 / ctx.fps, 3),
                              {"lane": next(ln.id for ln in bus), "distance_m": round(travelled, 2)})]
    return []


def _forbidden_turns(a: Actor, i: int, traj: Trajectories, ctx: RuleContext) -> list[Violation]:
    out: list[Violation] = []
    sl = traj.frame_slice()
    n = ctx.in_view.shape[1]
    x, y = traj.x_m[i][sl][:n], traj.y_m[i][sl][:n]
    hx, hy = traj.hx[i][sl][:n], traj.hy[i][sl][:n]
    for kind, (entry, exit_, min_deg) in ctx.forbidden.items():
        ok = np.isfinite(x) & ctx.in_view[i]
        pts = np.column_stack([np.nan_to_num(x), np.nan_to_num(y)])
        in_entry = np.nonzero(ok & np.array([point_in_polygon(tuple(p), entry) for p in pts]))[0]
        if len(in_entry) == 0:
            continue
        in_exit = np.nonzero(ok & np.array([point_in_polygon(tuple(p), exit_) for p in pts]))[0]
        in_exit = in_exit[in_exit > in_entry[0]]
        if len(in_exit) == 0:
            continue
        k0, k1 = int(in_entry[0]), int(in_exit[-1])
        turn = np.degrees(np.arctan2(hx[k0] * hy[k1] - hy[k0] * hx[k1], hx[k0] * hx[k1] + hy[k0] * hy[k1]))
        turned = abs(turn) if kind == "u_turn" else turn
        if turned >= min_deg:
            out.append(Violation(kind, a.id, round(k0 / ctx.fps, 3), round(k1 / ctx.fps, 3),
                                 {"heading_change_deg": round(float(turn), 1)}))
    return out


def find_violations(actors: list[Actor], traj: Trajectories, ctx: RuleContext,
                    classes: list[str] | None = None) -> list[Violation]:
    """All true violations, ordered by start time then vehicle id.

    Args:
        classes: each actor's vehicle class (car, bus, ...), for the bus-lane rule.
    """
    out: list[Violation] = []
    for i, a in enumerate(actors):
        for rule in (_speeding, _red_light_and_stop_line, _solid_lines, _no_stopping, _wrong_way_and_oncoming,
                     _forbidden_turns, _pedestrian_yield):
            out.extend(rule(a, i, traj, ctx))
        if classes is not None:
            out.extend(_bus_lane(a, i, traj, ctx, classes[i]))
    return sorted(out, key=lambda v: (v.start_s, v.vehicle_id, v.type))

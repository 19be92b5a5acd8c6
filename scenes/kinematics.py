"""Vehicle trajectories in road metres and seconds: car following, signal stops, lane changes.

Each vehicle's reference point is the ground point under the centre of its front bumper. Its
longitudinal motion is integrated with piecewise-constant acceleration on a fixed step, so the
recorded positions are the exact integral of the recorded speeds (no hidden smoothing). The
acceleration each step is the smallest of:

* the (improved) Intelligent Driver Model (Treiber et al., 2000) towards the cruise speed,
  behind the nearest same-direction vehicle that overlaps it laterally (keeps a 1.1-1.4 s gap
  plus a jam distance, i.e. about 2 s front-to-front headway at urban speeds);
* a constant-deceleration stop at a stop target (stop line at a prohibiting signal, a point
  beyond it for a stop-line violator, a kerb-side stop), started once the deceleration needed
  reaches the driver's preferred value (2-2.6 m/s^2, as drivers do at a red light).

Lateral motion is a prescribed half-cosine lane change, so lateral speed is exact too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from scenes.layout import RoadLayout
from scenes.signal import PROHIBITING, SignalPlan
from scenes.turns import Turn, path_length, speed_profile, turn_path, turn_states

#: An approaching vehicle spawns with its front this far up the road, m.
SPAWN_Y_M = 150.0
#: A departing vehicle disappears once its front passes this Y, m.
DESPAWN_Y_M = 160.0
#: Deceleration above which a driver at amber onset goes on instead of stopping, m/s^2.
AMBER_STOP_MAX_DECEL = 3.0
#: Below this speed a vehicle counts as stopped for the driver model, m/s.
STOP_SNAP_MPS = 0.03
#: Hardest braking the model allows (emergency), m/s^2; scenarios are designed never to need it.
MAX_BRAKE = 7.5


@dataclass(frozen=True)
class Driver:
    """Driver-model parameters.

    Attributes:
        accel_mps2: IDM maximum acceleration, m/s^2.
        brake_mps2: preferred (comfortable) deceleration, m/s^2.
        headway_s: desired time gap to the leader, s.
        jam_gap_m: gap kept when stopped in a queue, m.
        reaction_s: delay before moving off once free to go, s.
    """

    accel_mps2: float = 1.6
    brake_mps2: float = 2.3
    headway_s: float = 1.5
    jam_gap_m: float = 2.2
    reaction_s: float = 1.0


@dataclass(frozen=True)
class LaneChange:
    """A lane change to ``to_lane`` starting when the front reaches ``trigger_y_m`` (m)."""

    to_lane: str
    trigger_y_m: float
    duration_s: float


@dataclass(frozen=True)
class ZoneStop:
    """Stop with the front at ``stop_y_m`` (m) and stay ``dwell_s`` seconds, then move on."""

    stop_y_m: float
    dwell_s: float


@dataclass(frozen=True)
class Actor:
    """One vehicle's concrete plan (all ranges already drawn from the seed).

    Attributes:
        id: 1-based id, unique in the scene.
        label: role in the scenario (for logs), e.g. "speeder".
        lane: starting lane id.
        direction: actual travel direction, "toward" (decreasing Y) or "away".
        cruise_mps: desired speed, m/s.
        t_ref_s: time the front would pass ``ref_y_m`` at cruise speed in free flow, s.
        ref_y_m: reference Y for ``t_ref_s``, m.
        signal: "obey" | "run" (ignores the signal) | "stop_beyond" | "none" (not controlled).
        stop_offset_m: obey: front stops this far before the stop line's near edge, m;
            stop_beyond: front stops this far past the stop line's centre, m.
        length_m: body length, m. width_m: body width, m.
        lane_change: optional lane change. zone_stop: optional kerb-side stop.
        driver: driver-model parameters.
        turn: optional turn through the intersection (scenes.turns; no car following).
    """

    id: int
    label: str
    lane: str
    direction: str
    cruise_mps: float
    t_ref_s: float
    ref_y_m: float
    signal: str
    stop_offset_m: float
    length_m: float
    width_m: float
    lane_change: LaneChange | None = None
    zone_stop: ZoneStop | None = None
    driver: Driver = Driver()
    turn: Turn | None = None


@dataclass(frozen=True)
class Trajectories:
    """Simulated states on the step grid; arrays are (n_actors, n_steps).

    Attributes:
        t_s: (n_steps,) step times, s.
        alive: on the road at this step.
        x_m, y_m: front-bumper ground point, road metres.
        vx_mps, vy_mps: velocity of that point, m/s.
        hx, hy: unit heading (body axis, front direction) in road XY.
        steps_per_frame: how many steps make one video frame.
    """

    t_s: np.ndarray
    alive: np.ndarray
    x_m: np.ndarray
    y_m: np.ndarray
    vx_mps: np.ndarray
    vy_mps: np.ndarray
    hx: np.ndarray
    hy: np.ndarray
    steps_per_frame: int

    @property
    def speed_mps(self) -> np.ndarray:
        """(n_actors, n_steps) ground speed of the front point, m/s."""
        return np.hypot(self.vx_mps, self.vy_mps)

    def frame_slice(self) -> slice:
        """Slice selecting video-frame instants from the step axis."""
        return slice(0, None, self.steps_per_frame)


class _State:
    """Mutable per-vehicle simulation state (internal)."""

    def __init__(self, actor: Actor, layout: RoadLayout) -> None:
        self.actor = actor
        self.dir = -1.0 if actor.direction == "toward" else 1.0
        self.x0 = layout.lane(actor.lane).centre_x_m
        self.x1 = layout.lane(actor.lane_change.to_lane).centre_x_m if actor.lane_change else self.x0
        self.lc_start: float | None = None
        self.decision: str | None = None
        self.zone_stop_start: float | None = None
        self.zone_done = actor.zone_stop is None
        self.release_at: float | None = None
        self.alive = False
        self.dead = False
        self.y = 0.0
        self.v = actor.cruise_mps
        self.spawn_t, self.spawn_y = _spawn(actor)

    def lateral(self, t: float) -> tuple[float, float]:
        """Front X (m) and lateral speed (m/s) at time ``t``."""
        lc = self.actor.lane_change
        if lc is None or self.lc_start is None:
            return self.x0, 0.0
        tau = (t - self.lc_start) / lc.duration_s
        if tau >= 1.0:
            return self.x1, 0.0
        tau = max(tau, 0.0)
        dx = self.x1 - self.x0
        return self.x0 + dx * 0.5 * (1.0 - math.cos(math.pi * tau)), dx * math.pi / (2.0 * lc.duration_s) * math.sin(math.pi * tau)


def _spawn(actor: Actor) -> tuple[float, float]:
    """Spawn time (s) and front Y (m) so the vehicle passes ``ref_y_m`` at ``t_ref_s`` in free flow."""
    v = actor.cruise_mps
    if actor.direction == "toward":
        y0 = actor.ref_y_m + v * actor.t_ref_s
        if y0 > SPAWN_Y_M:
            return (y0 - SPAWN_Y_M) / v, SPAWN_Y_M
        return 0.0, y0
    entry = actor.length_m + 0.5
    y0 = actor.ref_y_m - v * actor.t_ref_s
    if y0 < entry:
        return (entry - y0) / v, entry
    return 0.0, y0


def _stop_targets(st: _State, t: float, plan: SignalPlan, layout: RoadLayout) -> list[float]:
    """Front Y positions (m) the vehicle must stop at, given signal, zone and decisions."""
    a = st.actor
    targets: list[float] = []
    if a.zone_stop is not None and not st.zone_done:
        targets.append(a.zone_stop.stop_y_m)
    if a.direction != "toward" or a.signal in ("run", "none"):
        return targets
    line = layout.stop_line_y_m
    if a.signal == "stop_beyond":
        stop_y = line - a.stop_offset_m
    else:
        stop_y = line + 0.5 * layout.stop_line_width_m + a.stop_offset_m
    state = plan.state_at(t)
    if state == "green":
        st.decision = None
        return targets
    past_line = st.y < line
    if st.decision is None:
        gap = st.y - stop_y
        if past_line or gap <= 0:
            st.decision = "go"
        elif state == "amber" and a.signal == "obey":
            need = st.v * st.v / (2.0 * gap)
            st.decision = "stop" if need <= AMBER_STOP_MAX_DECEL else "go"
        else:
            st.decision = "stop"
    if st.decision == "stop" and (state in PROHIBITING or state == "amber"):
        targets.append(stop_y)
    return targets


def _leader(i: int, states: list[_State], xs: np.ndarray) -> tuple[float, float] | None:
    """Gap (m) to and speed (m/s) of the nearest same-direction vehicle ahead that overlaps laterally."""
    me = states[i]
    best: tuple[float, float] | None = None
    lo = min(xs[i], me.x1 if me.lc_start is not None else xs[i])
    hi = max(xs[i], me.x1 if me.lc_start is not None else xs[i])
    for j, other in enumerate(states):
        if j == i or not other.alive or other.dir != me.dir:
            continue
        half = 0.5 * (me.actor.width_m + other.actor.width_m) + 0.3
        if xs[j] < lo - half or xs[j] > hi + half:
            continue
        ahead = me.dir * (other.y - me.y)
        if ahead <= 0:
            continue
        gap = ahead - other.actor.length_m
        if best is None or gap < best[0]:
            best = (gap, other.v)
    return best


def _acceleration(st: _State, t: float, leader: tuple[float, float] | None, targets: list[float]) -> float:
    """Longitudinal acceleration for this step, m/s^2 (see module docstring)."""
    d = st.actor.driver
    v, v0 = st.v, st.actor.cruise_mps
    free = d.accel_mps2 * (1.0 - (v / v0) ** 4)
    acc = free
    if leader is not None:
        # Improved IDM (Treiber & Kesting, Traffic Flow Dynamics, 2013, sec. 11.3.7): unlike the
        # plain IDM it keeps the cruise speed while the gap exceeds the desired gap.
        gap, vl = leader
        s_star = d.jam_gap_m + max(0.0, v * d.headway_s + v * (v - vl) / (2.0 * math.sqrt(d.accel_mps2 * d.brake_mps2)))
        z = s_star / max(gap, 0.1)
        if z >= 1.0:
            acc = d.accel_mps2 * (1.0 - z * z)
        elif free > 1e-6:
            acc = free * (1.0 - z ** (2.0 * d.accel_mps2 / free))
        else:
            acc = 0.0
    for stop_y in targets:
        gap = st.dir * (stop_y - st.y)
        if gap < -0.05:
            continue
        if v <= 0.0 and gap < 1.5:
            acc = min(acc, 0.0)
            continue
        need = v * v / (2.0 * max(gap, 1e-3))
        if need >= 0.95 * d.brake_mps2 or gap < 1.0:
            acc = min(acc, -need)
    acc = max(acc, -MAX_BRAKE)
    if v <= 0.0:
        # Standing: no creeping. Move off only when clearly free, after the reaction time.
        if acc < 0.3:
            st.release_at = None
            return 0.0
        if st.release_at is None:
            st.release_at = t + d.reaction_s
        if t < st.release_at:
            return 0.0
    return acc


def simulate(actors: list[Actor], layout: RoadLayout, plan: SignalPlan, duration_s: float, fps: float, steps_per_frame: int = 2) -> Trajectories:
    """Integrate all vehicles from t = 0 to ``duration_s``.

    Args:
        actors: the cast, ids 1..n.
        layout: road geometry (lane centres, stop line).
        plan: signal phase plan.
        duration_s: scene length, s.
        fps: video frame rate, frames/s.
        steps_per_frame: integration steps per frame (dt = 1 / (fps * steps_per_frame)).

    Returns:
        The trajectories on the step grid; every frame instant is a grid point.

    Raises:
        ValueError: when two vehicles overlap (the scenario is inconsistent).
    """
    if duration_s <= 0 or fps <= 0:
        raise ValueError(f"duration_s and fps must be > 0, got {duration_s}, {fps}")
    dt = 1.0 / (fps * steps_per_frame)
    n_frames = int(round(duration_s * fps))
    n_steps = (n_frames - 1) * steps_per_frame + 1
    states = [_State(a, layout) for a in actors]
    n = len(states)
    shape = (n, n_steps)
    out = {k: np.full(shape, np.nan) for k in ("x", "y", "vx", "vy", "hx", "hy")}
    alive = np.zeros(shape, dtype=bool)
    heading = [(0.0, st.dir) for st in states]
    t_grid = np.arange(n_steps) * dt
    for k in range(n_steps):
        t = k * dt
        for st in states:
            if st.actor.turn is None and not st.alive and not st.dead and t >= st.spawn_t - 1e-9:
                st.alive, st.y = True, st.spawn_y
        xs = np.array([st.lateral(t)[0] for st in states])
        accs = [0.0] * n
        for i, st in enumerate(states):
            if not st.alive:
                continue
            lc = st.actor.lane_change
            if lc is not None and st.lc_start is None and st.dir * (st.y - lc.trigger_y_m) >= 0:
                st.lc_start = t
                xs[i] = st.lateral(t)[0]
            targets = _stop_targets(st, t, plan, layout)
            accs[i] = _acceleration(st, t, _leader(i, states, xs), targets)
        for i, st in enumerate(states):
            if not st.alive:
                continue
            x, vlat = st.lateral(t)
            vlong = st.dir * st.v
            speed = math.hypot(vlat, vlong)
            if speed > 1e-6:
                heading[i] = (vlat / speed, vlong / speed)
            out["x"][i, k], out["y"][i, k] = x, st.y
            out["vx"][i, k], out["vy"][i, k] = vlat, vlong
            out["hx"][i, k], out["hy"][i, k] = heading[i]
            alive[i, k] = True
            _zone_bookkeeping(st, t)
            a = accs[i]
            v_new = st.v + a * dt
            if v_new < STOP_SNAP_MPS and a < 0:
                a, v_new = -st.v / dt, 0.0
            st.y += st.dir * (st.v * dt + 0.5 * a * dt * dt)
            st.v = v_new
            rear = st.y + st.actor.length_m if st.dir < 0 else st.y
            if (st.dir < 0 and rear < 0.5) or (st.dir > 0 and rear > DESPAWN_Y_M):
                st.alive, st.dead = False, True
    for i, st in enumerate(states):
        a = st.actor
        if a.turn is None:
            continue
        if a.direction != "toward":
            raise ValueError(f"vehicle {a.id} ({a.label}): only approaching vehicles can turn")
        path, s0, s1 = turn_path(st.x0, st.spawn_y, a.turn.kind)
        s_along, v, alive[i] = speed_profile(t_grid, st.spawn_t, a.cruise_mps, a.turn.speed_mps, s0, s1, path_length(path))
        for key, arr in turn_states(path, s_along, v).items():
            out[key][i] = arr
    traj = Trajectories(t_grid, alive, out["x"], out["y"], out["vx"], out["vy"], out["hx"], out["hy"], steps_per_frame)
    check_no_overlap(traj, actors)
    return traj


def _zone_bookkeeping(st: _State, t: float) -> None:
    zs = st.actor.zone_stop
    if zs is None or st.zone_done:
        return
    if st.v <= 0.0 and abs(st.y - zs.stop_y_m) < 1.5:
        if st.zone_stop_start is None:
            st.zone_stop_start = t
        elif t - st.zone_stop_start >= zs.dwell_s - 1e-9:
            st.zone_done = True


def footprint_y(y_front: np.ndarray, length_m: float, direction: str) -> tuple[np.ndarray, np.ndarray]:
    """(near, far) Y extent of the body along the road, m, from the front Y."""
    if direction == "toward":
        return y_front, y_front + length_m
    return y_front - length_m, y_front


def check_no_overlap(traj: Trajectories, actors: list[Actor], margin_m: float = 0.05) -> None:
    """Raise ValueError naming the first pair of vehicles whose footprints overlap."""
    n = len(actors)
    for i in range(n):
        for j in range(i + 1, n):
            both = traj.alive[i] & traj.alive[j]
            if not both.any():
                continue
            ai, aj = actors[i], actors[j]
            if ai.turn is not None or aj.turn is not None:
                continue  # footprints along Y do not describe a turning body; scenarios keep turners clear
            ci = traj.x_m[i] - 0.5 * ai.length_m * traj.hx[i]
            cj = traj.x_m[j] - 0.5 * aj.length_m * traj.hx[j]
            lat = np.abs(ci - cj) < 0.5 * (ai.width_m + aj.width_m) - margin_m
            ni, fi = footprint_y(traj.y_m[i], ai.length_m, ai.direction)
            nj, fj = footprint_y(traj.y_m[j], aj.length_m, aj.direction)
            lon = (np.minimum(fi, fj) - np.maximum(ni, nj)) > margin_m
            hit = both & lat & lon
            if hit.any():
                k = int(np.argmax(hit))
                raise ValueError(
                    f"vehicles {ai.id} ({ai.label}) and {aj.id} ({aj.label}) overlap at t={traj.t_s[k]:.2f} s "
                    f"(y={traj.y_m[i, k]:.1f} m / {traj.y_m[j, k]:.1f} m)"
                )

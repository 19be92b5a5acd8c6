"""Scenario catalogue: which vehicles do what, under which signal plan and light.

A scenario fixes the *set of events*; the seed only draws plates, colours, body variants and
the exact times and speeds inside the ranges given here. Times are chosen with margins so that
every seed produces the same violations (``expected_violations``; the tests check this).

Timing convention: ``t_ref_s`` is when the front would pass ``ref_y_m`` (default: the stop
line for approaching vehicles, the entry point for departing ones) at cruise speed in free flow.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, replace

from scenes.signal import Phase, SignalPlan, standard_plan

Range = tuple[float, float]
LIGHTINGS = ("day", "dusk", "night")


@dataclass(frozen=True)
class LaneChangeSpec:
    """Change to ``to_lane`` when the front reaches a Y in ``trigger_y_m`` (m), over ``duration_s`` (s)."""

    to_lane: str
    trigger_y_m: Range
    duration_s: Range = (2.8, 3.3)


@dataclass(frozen=True)
class ZoneStopSpec:
    """Stop with the front at a Y in ``stop_y_m`` (m) for ``dwell_s`` (s)."""

    stop_y_m: Range
    dwell_s: Range


@dataclass(frozen=True)
class TurnSpec:
    """Turn in the intersection: ``kind`` u_turn | left_turn | right_turn, at ``speed_kmh`` (km/h)."""

    kind: str
    speed_kmh: Range = (16.0, 20.0)


@dataclass(frozen=True)
class WalkerSpec:
    """A pedestrian walking along X from ``x_m[0]`` to ``x_m[1]`` at a Y in ``y_m``, starting at a time in ``t0_s``."""

    label: str
    x_m: tuple[float, float]
    y_m: Range = (30.5, 31.5)
    speed_mps: Range = (1.3, 1.5)
    t0_s: Range = (0.0, 0.0)


@dataclass(frozen=True)
class VehicleSpec:
    """One vehicle of a scenario, with the ranges the seed draws from.

    Attributes:
        label: role, e.g. "speeder", "red-light runner" (logs and docs only).
        vclass: car | bus | truck | motorcycle.
        lane: starting lane id.
        direction: actual travel direction, toward | away.
        speed_kmh: cruise speed range, km/h.
        t_ref_s: time range of passing ``ref_y_m`` (see module docstring), s.
        ref_y_m: reference Y, m; None = stop line (toward) / entry point (away).
        signal: obey | run | stop_beyond | none.
        stop_offset_m: obey: stop this far before the line (m); stop_beyond: this far past it.
        lane_change: optional lane change. zone_stop: optional kerb-side stop.
        turn: optional turn in the intersection (approaching vehicles only).
    """

    label: str
    vclass: str
    lane: str
    direction: str = "toward"
    speed_kmh: Range = (45.0, 56.0)
    t_ref_s: Range = (0.0, 0.0)
    ref_y_m: float | None = None
    signal: str = "obey"
    stop_offset_m: Range = (0.6, 1.8)
    lane_change: LaneChangeSpec | None = None
    zone_stop: ZoneStopSpec | None = None
    turn: TurnSpec | None = None


@dataclass(frozen=True)
class Scenario:
    """A named scene recipe.

    Attributes:
        name: catalogue key.
        description: one line.
        lighting: day | dusk | night.
        duration_s: default length, s.
        signal: phase plan (offset puts frame 0 in the cycle).
        vehicles: the cast.
        expected_violations: violation types the truth must contain (as a multiset).
        start_time_utc: ISO-8601 UTC time of frame 0.
        bus_lane: id of the lane reserved for buses, or None.
        bus_windows: local (UTC+6) HH:MM windows when the bus lane is reserved.
        forbidden: manoeuvres forbidden at the site (u_turn, left_turn), published in camera.yaml.
        walkers: pedestrians.
    """

    name: str
    description: str
    lighting: str
    duration_s: float
    signal: SignalPlan
    vehicles: tuple[VehicleSpec, ...]
    expected_violations: tuple[str, ...]
    start_time_utc: str = "2026-11-20T08:00:00Z"
    bus_lane: str | None = None
    bus_windows: tuple[tuple[str, str], ...] = (("07:00", "10:00"), ("17:00", "20:00"))
    forbidden: tuple[str, ...] = ()
    walkers: tuple[WalkerSpec, ...] = ()

    def __post_init__(self) -> None:
        if self.lighting not in LIGHTINGS:
            raise ValueError(f"lighting must be one of {LIGHTINGS}, got {self.lighting!r}")
        if self.duration_s <= 0:
            raise ValueError(f"duration_s must be > 0, got {self.duration_s}")


_LC = LaneChangeSpec
# Default 20 s scene. Signal: green 0-8 s, amber 8-11 s, red 11-20 s.
_MIX: tuple[VehicleSpec, ...] = (
    VehicleSpec("lawful", "car", "L1", speed_kmh=(46, 54), t_ref_s=(0.2, 0.5)),
    VehicleSpec("bus", "bus", "L1", speed_kmh=(40, 46), t_ref_s=(2.2, 2.6)),
    VehicleSpec("speeder", "car", "L2", speed_kmh=(80, 92), t_ref_s=(1.6, 1.9)),
    VehicleSpec("speeder", "car", "L3", speed_kmh=(78, 90), t_ref_s=(1.2, 1.5)),
    VehicleSpec("dashed lane change", "car", "L2", speed_kmh=(48, 54), t_ref_s=(3.9, 4.2),
                lane_change=_LC("L3", (85.0, 90.0))),
    VehicleSpec("no-stopping", "car", "L1", speed_kmh=(45, 50), t_ref_s=(5.0, 5.4),
                zone_stop=ZoneStopSpec((63.0, 66.0), (6.0, 7.0))),
    VehicleSpec("solid lane change", "car", "L2", speed_kmh=(53, 58), t_ref_s=(6.4, 6.7),
                lane_change=_LC("L3", (72.0, 75.0))),  # the body centre crosses mid-way along the solid part
    VehicleSpec("amber entry", "car", "L2", speed_kmh=(48, 54), t_ref_s=(8.9, 9.2)),
    VehicleSpec("red-light runner", "car", "L2", speed_kmh=(48, 55), t_ref_s=(11.7, 12.1), signal="run"),
    VehicleSpec("stop-line violator", "car", "L2", speed_kmh=(46, 52), t_ref_s=(13.9, 14.3),
                signal="stop_beyond", stop_offset_m=(1.6, 3.0)),
    VehicleSpec("queue", "car", "L2", speed_kmh=(45, 52), t_ref_s=(18.6, 19.1)),
    VehicleSpec("truck", "truck", "L1", speed_kmh=(38, 44), t_ref_s=(19.5, 20.3)),
    VehicleSpec("motorcycle", "motorcycle", "L5", direction="away", speed_kmh=(46, 52), t_ref_s=(0.0, 0.3)),
    VehicleSpec("dashed lane change (away)", "car", "L4", direction="away", speed_kmh=(40, 45), t_ref_s=(2.8, 3.2),
                lane_change=_LC("L5", (45.0, 52.0))),
    VehicleSpec("speeder (away)", "car", "L4", direction="away", speed_kmh=(78, 88), t_ref_s=(10.6, 11.1)),
    VehicleSpec("wrong way", "car", "L3", direction="away", speed_kmh=(36, 42), t_ref_s=(10.8, 11.3), signal="none"),
    VehicleSpec("lawful (away)", "car", "L5", direction="away", speed_kmh=(42, 50), t_ref_s=(12.5, 13.5)),
)
_MIX_EXPECTED = (
    "speeding", "speeding", "speeding", "red_light", "stop_line", "solid_line_crossing",
    "no_stopping", "wrong_way",
)

_DEFAULT = Scenario(
    name="default",
    description="day, 20 s: speeders, red-light runner, stop-line overshoot, legal queue, solid and "
    "dashed lane changes, no-stopping dwell, wrong-way car, bus, truck, motorcycle",
    lighting="day",
    duration_s=20.0,
    signal=standard_plan(offset_s=2.0),
    vehicles=_MIX,
    expected_violations=_MIX_EXPECTED,
)

_SPEEDING = Scenario(
    name="speeding",
    description="day, 7 s of green: two speeders (one each way) among lawful traffic",
    lighting="day",
    duration_s=7.0,
    signal=standard_plan(offset_s=0.0),
    vehicles=(
        VehicleSpec("lawful", "car", "L1", speed_kmh=(45, 52), t_ref_s=(2.5, 3.0)),
        VehicleSpec("speeder", "car", "L2", speed_kmh=(82, 95), t_ref_s=(2.8, 3.4)),
        VehicleSpec("lawful", "car", "L3", speed_kmh=(50, 58), t_ref_s=(1.0, 1.5)),
        VehicleSpec("lawful", "bus", "L1", speed_kmh=(38, 44), t_ref_s=(7.5, 8.0)),
        VehicleSpec("speeder (away)", "car", "L4", direction="away", speed_kmh=(78, 90), t_ref_s=(0.5, 1.0)),
        VehicleSpec("lawful (away)", "car", "L5", direction="away", speed_kmh=(42, 50), t_ref_s=(1.5, 2.0)),
    ),
    expected_violations=("speeding", "speeding"),
)

# Amber 0-2 s, red from 2 s.
_RED_LIGHT = Scenario(
    name="red-light",
    description="day, 8 s: a lawful amber entry, one red-light runner, lawful stops at the line",
    lighting="day",
    duration_s=8.0,
    signal=standard_plan(offset_s=11.0),
    vehicles=(
        VehicleSpec("amber entry", "car", "L3", speed_kmh=(48, 54), t_ref_s=(0.8, 1.1)),
        VehicleSpec("red-light runner", "car", "L2", speed_kmh=(48, 55), t_ref_s=(3.6, 4.1), signal="run"),
        VehicleSpec("stops at red", "car", "L1", speed_kmh=(44, 50), t_ref_s=(3.4, 3.9)),
        VehicleSpec("stops at red", "car", "L3", speed_kmh=(45, 52), t_ref_s=(5.0, 5.5)),
        VehicleSpec("lawful (away)", "car", "L5", direction="away", speed_kmh=(42, 50), t_ref_s=(0.5, 1.5)),
    ),
    expected_violations=("red_light",),
)

# Red from 1 s before frame 0 to 11 s.
_STOP_LINE = Scenario(
    name="stop-line",
    description="day, 8 s of red: one car stops past the stop line, others stop before it",
    lighting="day",
    duration_s=8.0,
    signal=standard_plan(offset_s=14.0),
    vehicles=(
        VehicleSpec("stop-line violator", "car", "L2", speed_kmh=(44, 50), t_ref_s=(2.6, 3.0),
                    signal="stop_beyond", stop_offset_m=(1.6, 3.0)),
        VehicleSpec("stops at red", "car", "L1", speed_kmh=(44, 50), t_ref_s=(2.0, 2.5)),
        VehicleSpec("stops at red", "truck", "L3", speed_kmh=(38, 44), t_ref_s=(3.0, 3.5)),
        VehicleSpec("queue", "car", "L2", speed_kmh=(44, 50), t_ref_s=(6.0, 6.4)),
        VehicleSpec("lawful (away)", "motorcycle", "L4", direction="away", speed_kmh=(40, 48), t_ref_s=(1.0, 1.8)),
    ),
    expected_violations=("stop_line",),
)

# Green 0-4 s, amber 4-7 s, red from 7 s.
_CLEAN = Scenario(
    name="clean",
    description="day, 8 s: lawful traffic only, including an amber entry and stops at red",
    lighting="day",
    duration_s=8.0,
    signal=standard_plan(offset_s=6.0),
    vehicles=(
        VehicleSpec("lawful", "car", "L2", speed_kmh=(48, 56), t_ref_s=(1.5, 2.0)),
        VehicleSpec("amber entry", "car", "L3", speed_kmh=(48, 54), t_ref_s=(4.8, 5.2)),
        VehicleSpec("stops at red", "car", "L1", speed_kmh=(44, 50), t_ref_s=(6.5, 7.0)),
        VehicleSpec("stops at red", "car", "L2", speed_kmh=(45, 52), t_ref_s=(7.5, 8.0)),
        VehicleSpec("lawful", "bus", "L1", speed_kmh=(38, 44), t_ref_s=(1.0, 1.5)),
        VehicleSpec("dashed lane change (away)", "car", "L4", direction="away", speed_kmh=(42, 48),
                    t_ref_s=(0.3, 0.8), lane_change=_LC("L5", (45.0, 52.0))),
        VehicleSpec("lawful (away)", "motorcycle", "L4", direction="away", speed_kmh=(40, 48), t_ref_s=(3.5, 4.0)),
    ),
    expected_violations=(),
)

# Green all along: fast traffic for the speed error up to 120 km/h (limit 60 + tolerance 10).
_FAST = Scenario(
    name="fast",
    description="day, 7 s: vehicles at 95-118 km/h both ways among lawful traffic at the limit plus tolerance",
    lighting="day",
    duration_s=7.0,
    signal=standard_plan(offset_s=0.0),
    vehicles=(
        VehicleSpec("speeder", "car", "L2", speed_kmh=(100, 110), t_ref_s=(2.4, 2.8)),
        VehicleSpec("speeder", "car", "L3", speed_kmh=(110, 118), t_ref_s=(4.4, 4.8)),
        VehicleSpec("at the limit plus tolerance", "car", "L1", speed_kmh=(67.5, 69.0), t_ref_s=(2.0, 2.5)),
        VehicleSpec("speeder", "truck", "L1", speed_kmh=(95, 100), t_ref_s=(5.6, 6.0)),
        VehicleSpec("speeder (away)", "car", "L5", direction="away", speed_kmh=(104, 116), t_ref_s=(0.6, 1.0)),
        VehicleSpec("at the limit (away)", "car", "L4", direction="away", speed_kmh=(58, 62), t_ref_s=(2.0, 2.5)),
    ),
    expected_violations=("speeding", "speeding", "speeding", "speeding"),
)

# L1 is a bus lane, reserved 07:00-10:00 and 17:00-20:00 local time; 08:30 local here. Green all along.
_BUS_LANE = Scenario(
    name="bus-lane",
    description="day, 8 s, bus lane reserved (08:30 local): a bus in the bus lane, a car and a truck driving "
    "along it, lawful traffic beside it",
    lighting="day",
    duration_s=8.0,
    signal=standard_plan(offset_s=0.0),
    vehicles=(
        VehicleSpec("bus in the bus lane", "bus", "L1", speed_kmh=(38, 44), t_ref_s=(3.0, 3.4)),
        VehicleSpec("car in the bus lane", "car", "L1", speed_kmh=(46, 52), t_ref_s=(1.9, 2.2)),
        VehicleSpec("truck in the bus lane", "truck", "L1", speed_kmh=(38, 44), t_ref_s=(6.6, 7.0)),
        VehicleSpec("lawful beside it", "car", "L2", speed_kmh=(48, 55), t_ref_s=(1.6, 2.0)),
        VehicleSpec("lawful beside it", "car", "L2", speed_kmh=(48, 55), t_ref_s=(5.0, 5.4)),
        VehicleSpec("lawful", "car", "L3", speed_kmh=(50, 56), t_ref_s=(2.5, 3.0)),
        VehicleSpec("lawful (away)", "car", "L5", direction="away", speed_kmh=(42, 50), t_ref_s=(0.5, 1.0)),
    ),
    expected_violations=("bus_lane", "bus_lane"),
    start_time_utc="2026-11-20T02:30:00Z",
    bus_lane="L1",
)

# Green all along. The overtaker leaves L3 across the double centre line and stays in L4.
_ONCOMING = Scenario(
    name="oncoming",
    description="day, 10 s: a car crosses the double centre line into the oncoming lane and stays there; a "
    "wrong-way car; a lane change across a dashed line; lawful traffic",
    lighting="day",
    duration_s=10.0,
    signal=standard_plan(offset_s=0.0),
    vehicles=(
        VehicleSpec("oncoming-lane driver", "car", "L3", speed_kmh=(48, 54), t_ref_s=(6.0, 6.4),
                    lane_change=_LC("L4", (80.0, 85.0))),
        VehicleSpec("wrong way", "car", "L3", direction="away", speed_kmh=(34, 40), t_ref_s=(0.4, 0.8), signal="none"),
        VehicleSpec("dashed lane change", "car", "L1", speed_kmh=(48, 54), t_ref_s=(4.0, 4.4),
                    lane_change=_LC("L2", (85.0, 90.0))),
        VehicleSpec("lawful", "car", "L2", speed_kmh=(46, 54), t_ref_s=(1.0, 1.5)),
        VehicleSpec("lawful (away)", "car", "L5", direction="away", speed_kmh=(42, 50), t_ref_s=(1.0, 1.5)),
        VehicleSpec("lawful (away)", "motorcycle", "L5", direction="away", speed_kmh=(40, 48), t_ref_s=(4.5, 5.0)),
    ),
    expected_violations=("oncoming_lane", "solid_line_crossing", "wrong_way"),
)

# Green all along. U-turns are forbidden here (sign 'No U-turn'); the U-turn crosses the double line.
_U_TURN = Scenario(
    name="u-turn",
    description="day, 10 s, U-turn forbidden: a car turns round across the double centre line mid-block; "
    "lawful traffic both ways",
    lighting="day",
    duration_s=10.0,
    signal=standard_plan(offset_s=0.0),
    vehicles=(
        VehicleSpec("U-turn", "car", "L3", speed_kmh=(44, 50), t_ref_s=(3.4, 3.8), turn=TurnSpec("u_turn")),
        VehicleSpec("lawful", "car", "L2", speed_kmh=(48, 55), t_ref_s=(1.0, 1.4)),
        VehicleSpec("lawful", "car", "L1", speed_kmh=(46, 52), t_ref_s=(4.0, 4.5)),
        VehicleSpec("lawful", "car", "L2", speed_kmh=(48, 55), t_ref_s=(7.0, 7.5)),
        VehicleSpec("lawful (away)", "car", "L4", direction="away", speed_kmh=(42, 50), t_ref_s=(0.3, 0.8)),
    ),
    expected_violations=("u_turn", "solid_line_crossing"),
    forbidden=("u_turn",),
)

# Green all along. Left turns are forbidden here (sign 'No left turn'): a car turns left from L3 across the
# departure lanes into the cross street; a right turn from L1 and the straight runs are lawful. The turn is in
# the intersection, which the kerb pole stands beside: the suites show it from the gantry and the mast.
_LEFT_TURN = Scenario(
    name="left-turn",
    description="day, 10 s, left turn forbidden: a car turns left from L3 into the cross street; a right "
    "turn from L1 and straight traffic are lawful (seen from the gantry or mast view)",
    lighting="day",
    duration_s=10.0,
    signal=standard_plan(offset_s=0.0),
    vehicles=(
        VehicleSpec("left turn", "car", "L3", speed_kmh=(40, 46), t_ref_s=(2.6, 3.0), turn=TurnSpec("left_turn")),
        VehicleSpec("right turn (allowed)", "car", "L1", speed_kmh=(40, 46), t_ref_s=(4.8, 5.2),
                    turn=TurnSpec("right_turn")),
        VehicleSpec("lawful", "car", "L2", speed_kmh=(46, 54), t_ref_s=(0.8, 1.2)),
        VehicleSpec("lawful", "car", "L3", speed_kmh=(46, 52), t_ref_s=(6.8, 7.2)),
        VehicleSpec("lawful (away)", "car", "L5", direction="away", speed_kmh=(42, 50), t_ref_s=(0.3, 0.8)),
    ),
    expected_violations=("left_turn",),
    forbidden=("left_turn",),
)

# Amber 0-2 s, red from 2 s: vehicles that entered on amber finish their manoeuvres on red.
_AMBER_TURN = Scenario(
    name="amber-turn",
    description="day, 8 s: a right turn and a straight run entered on amber and finished on red; stops at red",
    lighting="day",
    duration_s=8.0,
    signal=standard_plan(offset_s=11.0),
    vehicles=(
        VehicleSpec("right turn entered on amber", "car", "L1", speed_kmh=(42, 48), t_ref_s=(0.5, 0.8),
                    signal="none", turn=TurnSpec("right_turn")),
        VehicleSpec("amber entry", "car", "L3", speed_kmh=(48, 54), t_ref_s=(0.9, 1.2)),
        VehicleSpec("stops at red", "car", "L2", speed_kmh=(44, 50), t_ref_s=(3.2, 3.7)),
        VehicleSpec("stops at red", "car", "L1", speed_kmh=(44, 50), t_ref_s=(5.0, 5.5)),
        VehicleSpec("lawful (away)", "car", "L5", direction="away", speed_kmh=(42, 50), t_ref_s=(0.5, 1.5)),
    ),
    expected_violations=(),
)

# The signal is off (dark): the crossing is unregulated and drivers must yield to pedestrians on it.
# Walker 1 crosses from the left sidewalk; walker 2, crossing the other way, is past the L3 car's lane when it
# passes and reaches the left sidewalk.
_PEDESTRIAN = Scenario(
    name="pedestrian",
    description="day, 10 s, signal off: one car drives across the crosswalk in front of a crossing pedestrian, "
    "one waits for them, others pass a pedestrian who has finished crossing",
    lighting="day",
    duration_s=10.0,
    signal=SignalPlan((Phase("off", 60.0),), 0.0),
    vehicles=(
        VehicleSpec("does not yield", "car", "L2", speed_kmh=(40, 45), t_ref_s=(4.1, 4.3), signal="none"),
        VehicleSpec("yields (waits at the crossing)", "car", "L1", speed_kmh=(40, 45), t_ref_s=(2.6, 2.9), signal="none",
                    zone_stop=ZoneStopSpec((35.8, 36.3), (3.6, 4.0))),
        VehicleSpec("passes a finished crossing", "car", "L3", speed_kmh=(46, 52), t_ref_s=(1.0, 1.3), signal="none"),
        VehicleSpec("passes behind", "car", "L3", speed_kmh=(46, 52), t_ref_s=(2.4, 2.7), signal="none"),
        VehicleSpec("lawful (away)", "car", "L5", direction="away", speed_kmh=(40, 46), t_ref_s=(0.3, 0.6)),
    ),
    expected_violations=("pedestrian_yield",),
    walkers=(
        WalkerSpec("crossing", (-12.5, 9.0), t0_s=(0.9, 1.1)),
        WalkerSpec("has crossed the lane when the car passes", (9.0, -13.0), t0_s=(-10.4, -10.0)),
    ),
)

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        _DEFAULT,
        replace(_DEFAULT, name="night", lighting="night", start_time_utc="2026-11-20T15:30:00Z",
                description="the default mix at night (street lights, headlights)"),
        replace(_DEFAULT, name="dusk", lighting="dusk", start_time_utc="2026-11-20T11:40:00Z",
                description="the default mix at dusk"),
        _SPEEDING,
        _RED_LIGHT,
        _STOP_LINE,
        _CLEAN,
        _BUS_LANE,
        replace(_BUS_LANE, name="bus-lane-offpeak", start_time_utc="2026-11-20T08:00:00Z", expected_violations=(),
                description="the bus-lane cast at 14:00 local, outside the reserved windows: no violation"),
        replace(_BUS_LANE, name="bus-lane-night", lighting="night", start_time_utc="2026-11-20T12:30:00Z",
                description="the bus-lane cast at 18:30 local (evening window), at night"),
        _ONCOMING,
        replace(_ONCOMING, name="oncoming-night", lighting="night", start_time_utc="2026-11-20T15:30:00Z",
                description="the oncoming-lane cast at night"),
        _U_TURN,
        replace(_U_TURN, name="u-turn-night", lighting="night", start_time_utc="2026-11-20T15:30:00Z",
                description="the U-turn cast at night"),
        _LEFT_TURN,
        replace(_LEFT_TURN, name="left-turn-night", lighting="night", start_time_utc="2026-11-20T15:30:00Z",
                description="the left-turn cast at night"),
        _AMBER_TURN,
        _FAST,
        _PEDESTRIAN,
        replace(_PEDESTRIAN, name="pedestrian-night", lighting="night", start_time_utc="2026-11-20T15:30:00Z",
                description="the pedestrian cast at night"),
        replace(_FAST, name="fast-night", lighting="night", start_time_utc="2026-11-20T15:30:00Z",
                description="the fast cast at night"),
    )
}


def list_scenarios() -> list[str]:
    """Names of all scenarios, catalogue order."""
    return list(SCENARIOS)


def get_scenario(name: str) -> Scenario:
    """The scenario called ``name``.

    Raises:
        ValueError: listing the valid names (and the closest match) for an unknown name.
    """
    try:
        return SCENARIOS[name]
    except KeyError:
        close = difflib.get_close_matches(name, SCENARIOS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown scenario {name!r}{hint}; valid names: {', '.join(SCENARIOS)}") from None

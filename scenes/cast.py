"""Draw a scenario's concrete cast from its seed: timings, speeds, bodies, plates, drivers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scenes.bodies import BodySpec, sample_body
from scenes.kinematics import Actor, Driver, LaneChange, ZoneStop
from scenes.people import Walker
from scenes.layout import RoadLayout
from scenes.plates import random_plate
from scenes.scenarios import Scenario, VehicleSpec
from scenes.turns import Turn

#: Independent RNG streams derived from the seed, so adding a draw to one part of the generator
#: does not shift the others.
STREAM_CAST = 1
STREAM_APPEARANCE = 2
STREAM_BACKGROUND = 3
STREAM_FRAME = 4
STREAM_WALKERS = 6

_JACKETS = ((40, 60, 170), (160, 110, 40), (50, 140, 60), (30, 30, 30), (200, 200, 200), (40, 150, 210), (120, 60, 120))
_TROUSERS = ((60, 50, 40), (40, 40, 40), (90, 80, 70), (120, 110, 100), (50, 50, 70))


@dataclass(frozen=True)
class CastMember:
    """One vehicle: its motion plan, body and plate number."""

    actor: Actor
    body: BodySpec
    plate: str


def _u(rng: np.random.Generator, r: tuple[float, float]) -> float:
    return float(rng.uniform(r[0], r[1])) if r[1] > r[0] else float(r[0])


def _actor(spec: VehicleSpec, idx: int, body: BodySpec, rng: np.random.Generator, layout: RoadLayout) -> Actor:
    if spec.direction not in ("toward", "away"):
        raise ValueError(f"vehicle {idx}: direction must be toward|away, got {spec.direction!r}")
    if spec.signal not in ("obey", "run", "stop_beyond", "none"):
        raise ValueError(f"vehicle {idx}: signal must be obey|run|stop_beyond|none, got {spec.signal!r}")
    layout.lane(spec.lane)
    ref_y = spec.ref_y_m
    if ref_y is None:
        ref_y = layout.stop_line_y_m if spec.direction == "toward" else body.length_m + 0.5
    lane_change = None
    if spec.lane_change is not None:
        layout.lane(spec.lane_change.to_lane)
        lane_change = LaneChange(spec.lane_change.to_lane, _u(rng, spec.lane_change.trigger_y_m), _u(rng, spec.lane_change.duration_s))
    zone_stop = None
    if spec.zone_stop is not None:
        zone_stop = ZoneStop(_u(rng, spec.zone_stop.stop_y_m), _u(rng, spec.zone_stop.dwell_s))
    driver = Driver(
        accel_mps2=_u(rng, (1.4, 1.9)) if body.vclass in ("car", "motorcycle") else _u(rng, (1.0, 1.3)),
        brake_mps2=_u(rng, (2.0, 2.6)),
        headway_s=_u(rng, (1.1, 1.4)),
        jam_gap_m=_u(rng, (2.0, 2.8)),
        reaction_s=_u(rng, (0.8, 1.3)),
    )
    return Actor(
        id=idx,
        label=spec.label,
        lane=spec.lane,
        direction=spec.direction,
        cruise_mps=_u(rng, spec.speed_kmh) / 3.6,
        t_ref_s=_u(rng, spec.t_ref_s),
        ref_y_m=ref_y,
        signal=spec.signal,
        stop_offset_m=_u(rng, spec.stop_offset_m),
        length_m=body.length_m,
        width_m=body.width_m,
        lane_change=lane_change,
        zone_stop=zone_stop,
        driver=driver,
        turn=Turn(spec.turn.kind, _u(rng, spec.turn.speed_kmh) / 3.6) if spec.turn is not None else None,
    )


def sample_cast(scenario: Scenario, seed: int, layout: RoadLayout) -> list[CastMember]:
    """The scenario's vehicles with every range drawn from ``seed`` (ids 1..n, catalogue order)."""
    motion = np.random.default_rng([seed, STREAM_CAST])
    looks = np.random.default_rng([seed, STREAM_APPEARANCE])
    taken: set[str] = set()
    cast = []
    for idx, spec in enumerate(scenario.vehicles, start=1):
        body = sample_body(spec.vclass, looks)
        plate = random_plate(spec.vclass, looks, taken)
        cast.append(CastMember(_actor(spec, idx, body, motion, layout), body, plate))
    return cast


def sample_walkers(scenario: Scenario, seed: int) -> list[Walker]:
    """The scenario's pedestrians with every range drawn from ``seed`` (ids 1..n); own RNG stream."""
    rng = np.random.default_rng([seed, STREAM_WALKERS])
    out = []
    for idx, spec in enumerate(scenario.walkers, start=1):
        colours = (_JACKETS[int(rng.integers(len(_JACKETS)))], _TROUSERS[int(rng.integers(len(_TROUSERS)))])
        out.append(Walker(idx, spec.x_m[0], spec.x_m[1], _u(rng, spec.y_m), _u(rng, spec.speed_mps), _u(rng, spec.t0_s),
                          float(rng.uniform(1.6, 1.85)), colours))
    return out

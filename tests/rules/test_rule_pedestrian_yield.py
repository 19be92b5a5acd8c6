"""Pedestrian yield rule: a vehicle crossing the crosswalk with a person in its conflict zone."""

import numpy as np
import pytest

from pipeline.config import PedestrianYieldRuleConfig, RulesConfig
from pipeline.rules.pedestrian_yield import check_pedestrian_yield
from tests.rules.rule_tracks import FPS, straight, track

LENGTHS = RulesConfig().vehicle_length_m
CROSSWALK = {"cw-1": np.array([[-10.5, 29.0], [7.0, 29.0], [7.0, 33.0], [-10.5, 33.0]])}
CFG = PedestrianYieldRuleConfig()


def walker(x0: float, x1: float, t0: float, speed_ms: float = 1.4, y: float = 31.0, duration_s: float = 8.0, tid: int = 100):
    """A person walking across the road at Y = ``y`` from x0 towards x1, then standing at x1."""
    t = np.arange(t0, t0 + duration_s, 1 / FPS)
    step = np.sign(x1 - x0) * speed_ms * (t - t0)
    x = np.where(np.abs(step) < abs(x1 - x0), x0 + step, x1)
    return track(t, x, np.full(len(t), y), cls="person", track_id=tid)


# The car in L2 (X = -5.25) reaches the crosswalk (Y 33) at about t = 2.4 s at 50 km/h from Y 66.
CAR = straight(-5.25, 66.0, 50.0, 4.0)

CASES = [
    ("person on the crossing in the car's lane", [walker(-12.0, 9.0, t0=0.0)], True),
    ("person who has finished crossing", [walker(-12.0, -12.0 - 0.01, t0=0.0)], False),
    ("person already on the far side of the road", [walker(-12.0, 9.0, t0=-9.0, duration_s=20.0)], False),
    ("person on the crossing far from the car's lane", [walker(9.0, 4.0, t0=0.0, speed_ms=1.0)], False),
    ("person on the sidewalk beside the crossing", [walker(-12.0, -11.0, t0=0.0, y=36.0)], False),
    ("no persons", [], False),
]


@pytest.mark.parametrize(("name", "persons", "expected"), CASES, ids=[c[0] for c in CASES])
def test_pedestrian_yield_table(name, persons, expected):
    """Only a person on the crosswalk within one lane of the vehicle's path while it crosses counts."""
    hit = check_pedestrian_yield(track(*CAR), persons, CROSSWALK, CFG, LENGTHS)
    assert (hit is not None) == expected
    if hit:
        assert hit.measurements["crosswalk_id"] == "cw-1"
        assert hit.measurements["min_lateral_m"] <= CFG.conflict_lateral_m
        assert hit.measurements["person_track_id"] == 100


def test_car_that_stops_and_waits_is_not_flagged():
    """A car that stops before the crossing until the person has passed its lane yields."""
    t = np.arange(0, 10, 1 / FPS)
    # Stops with the front at Y 34 (before the crosswalk) until t = 7 s, then goes on at 5 m/s.
    y = np.where(t < 3.0, 64.0 - 10.0 * t, np.where(t < 7.0, 34.0, 34.0 - 5.0 * (t - 7.0)))
    person = walker(-12.0, 9.0, t0=0.5)  # at 1.4 m/s the person is past X = -1.75 by t = 7.5 s
    car = track(t, np.full(len(t), -8.75), y)
    assert check_pedestrian_yield(car, [person], CROSSWALK, CFG, LENGTHS) is None


def test_person_frames_must_overlap():
    """A person seen only after the car has left the crosswalk is no conflict."""
    late = walker(-12.0, 9.0, t0=5.0)
    assert check_pedestrian_yield(track(*CAR), [late], CROSSWALK, CFG, LENGTHS) is None


def test_person_hidden_for_a_few_frames_is_still_there():
    """A person missed in the frames the car passes (occlusion) is interpolated across a short gap."""
    full = walker(-12.0, 9.0, t0=0.0)
    hidden = tuple(p for p in full.points if not 2.2 <= p.t_s <= 2.7)
    gappy = type(full)(full.track_id, "person", hidden)
    assert check_pedestrian_yield(track(*CAR), [gappy], CROSSWALK, CFG, LENGTHS) is not None
    strict = PedestrianYieldRuleConfig(max_person_gap_s=0.1)
    long_gap = type(full)(full.track_id, "person", tuple(p for p in full.points if not 2.0 <= p.t_s <= 3.4))
    assert check_pedestrian_yield(track(*CAR), [long_gap], CROSSWALK, strict, LENGTHS) is None

"""Oncoming-lane rule: excursions from the own side into a lane of the opposite direction."""

import numpy as np
import pytest

from pipeline.config import OncomingLaneRuleConfig, RulesConfig, WrongWayRuleConfig
from pipeline.rules.oncoming_lane import came_along_own_side, check_oncoming_lane
from pipeline.rules.wrong_way import check_wrong_way
from tests.rules.rule_tracks import excursion, far_coarse, lane_change, straight, track

LENGTHS = RulesConfig().vehicle_length_m
LANES = {
    "L3": ("toward", np.array([[-3.5, 5.0], [0.0, 5.0], [0.0, 150.0], [-3.5, 150.0]])),
    "L4": ("away", np.array([[0.0, 5.0], [3.5, 5.0], [3.5, 150.0], [0.0, 150.0]])),
    "L5": ("away", np.array([[3.5, 5.0], [7.0, 5.0], [7.0, 150.0], [3.5, 150.0]])),
}
CFG = OncomingLaneRuleConfig()
OVERTAKE_OK = OncomingLaneRuleConfig(overtaking_allowed=True, max_overtake_m=80.0)

CASES = [
    # name, (t, x, y), config, expected hit
    ("moves into the oncoming lane and stays", lane_change(-1.75, 1.75, 110, 50, (1.0, 2.5), 7.0), CFG, True),
    ("overtakes through the oncoming lane where forbidden",
     excursion(-1.75, 1.75, 110, 60, (0.8, 1.8), (4.0, 5.0), 6.0), CFG, True),
    ("overtakes where the site allows it", excursion(-1.75, 1.75, 110, 60, (0.8, 1.8), (4.0, 5.0), 6.0), OVERTAKE_OK, False),
    ("stays in the oncoming lane where overtaking is allowed", lane_change(-1.75, 1.75, 110, 50, (1.0, 2.5), 7.0),
     OVERTAKE_OK, True),
    ("keeps its own lane", straight(-1.75, 110, 50, 7.0), CFG, False),
    ("drives next to the centre line", straight(-0.4, 110, 50, 7.0), CFG, False),
    ("lane change between its own lanes (away)", lane_change(1.75, 5.25, 20, 45, (1.0, 3.0), 6.0, toward=False), CFG, False),
    ("wrong-way car (never on its own side)", straight(-1.75, 20, 40, 6.0, toward=False), CFG, False),
    ("brief swerve over the line (under 5 m)", excursion(-1.75, 0.8, 110, 50, (1.0, 1.2), (1.35, 1.6), 5.0), CFG, False),
]


@pytest.mark.parametrize(("name", "txy", "cfg", "expected"), CASES, ids=[c[0] for c in CASES])
def test_oncoming_lane_table(name, txy, cfg, expected):
    """An excursion of >= 5 m from the own side is a hit unless lawful overtaking returns in time."""
    hit = check_oncoming_lane(track(*txy), LANES, cfg, LENGTHS)
    assert (hit is not None) == expected
    if hit:
        assert hit.measurements["lane_id"] == "L4"
        assert hit.measurements["from_lane"] == "L3"
        assert hit.measurements["distance_in_oncoming_m"] >= cfg.min_distance_m


def test_wrong_way_car_is_left_to_the_wrong_way_rule():
    """A car first seen against its lane is wrong way, and the oncoming rule leaves it alone."""
    wrong = track(*straight(-1.75, 20, 40, 6.0, toward=False))
    assert check_oncoming_lane(wrong, LANES, CFG, LENGTHS) is None
    assert check_wrong_way(wrong, LANES, WrongWayRuleConfig()) is not None


def test_u_turn_is_not_an_oncoming_excursion():
    """A U-turn across into the far lane drives with that lane's direction afterwards: no hit."""
    from tests.rules.test_rule_forbidden_turn import arc, path

    u = [(-1.75, 110.0), (-1.75, 62.0)] + arc(1.75, 62.0, 3.5, 180, 360) + [(5.25, 62.0), (5.25, 110.0)]
    assert check_oncoming_lane(track(*path(u, speed_kmh=20.0)), LANES, CFG, LENGTHS) is None


# Resolution coarsens with distance (far_coarse: 0.25 m/px at Y = 60 m, the zone's far edge).
# Approaching at 50 km/h from Y = 120 m, the car reaches the zone at t = 4.3 s.
FAR_CASES = [
    # name, (t, x, y), config, expected: oncoming-lane hit, wrong-way hit
    ("crosses the centre line just before the zone (own side seen only before it)",
     lane_change(-1.75, 1.75, 120, 50, (3.4, 4.0), 7.5), CFG, True, False),
    ("the same with the own-side history limited to the zone",
     lane_change(-1.75, 1.75, 120, 50, (3.4, 4.0), 7.5), OncomingLaneRuleConfig(own_side_max_m_per_px=0.25), False, True),
    ("own side seen only where a pixel spans more than own_side_max_m_per_px",
     lane_change(-1.75, 1.75, 145, 50, (1.0, 1.6), 9.0), OncomingLaneRuleConfig(own_side_max_m_per_px=1.0), False, True),
    ("wrong-way car driving towards the camera in the far lane all along",
     straight(1.75, 120, 50, 7.5), CFG, False, True),
    ("brief excursion before the zone, back on its side inside it",
     excursion(-1.75, 1.75, 120, 50, (0.5, 1.0), (2.0, 2.5), 7.5), CFG, False, False),
    ("keeps its own lane from far away", straight(-1.75, 120, 50, 7.5), CFG, False, False),
]


@pytest.mark.parametrize(("name", "txy", "cfg", "oncoming", "wrong_way"), FAR_CASES, ids=[c[0] for c in FAR_CASES])
def test_own_side_history_before_the_zone(name, txy, cfg, oncoming, wrong_way):
    """Which side the car came along counts back to own_side_max_m_per_px; the excursion counts in the zone only."""
    tr = far_coarse(*txy)
    hit = check_oncoming_lane(tr, LANES, cfg, LENGTHS)
    assert (hit is not None) == oncoming
    if hit:
        assert hit.measurements["from_lane"] == "L3"
        assert hit.measurements["lane_id"] == "L4"
        # the distance is measured in the zone: at most what the car drove from Y = 60 m on
        assert cfg.min_distance_m <= hit.measurements["distance_in_oncoming_m"] <= 60.0 - 5.0
    else:
        assert lane_offence(tr, cfg) == ("wrong_way" if wrong_way else None)


def lane_offence(tr, cfg: OncomingLaneRuleConfig) -> str | None:
    """What analysis.analyse_track reports: oncoming lane, else wrong way unless it came along its own side."""
    hit = check_oncoming_lane(tr, LANES, cfg, LENGTHS)
    if hit is None and not came_along_own_side(tr, LANES, cfg, LENGTHS):
        hit = check_wrong_way(tr, LANES, WrongWayRuleConfig())
    return hit.type if hit else None


GATE_CASES = [
    # name, track, config, reported type
    ("overtakes where the site allows it: lawful, and no wrong way either",
     track(*excursion(-1.75, 1.75, 110, 60, (0.8, 1.8), (4.0, 5.0), 6.0)), OVERTAKE_OK, None),
    ("overtakes where forbidden", track(*excursion(-1.75, 1.75, 110, 60, (0.8, 1.8), (4.0, 5.0), 6.0)), CFG,
     "oncoming_lane"),
    ("stays in the oncoming lane where overtaking is allowed", track(*lane_change(-1.75, 1.75, 110, 50, (1.0, 2.5), 7.0)),
     OVERTAKE_OK, "oncoming_lane"),
    ("wrong-way car (never on its own side)", track(*straight(-1.75, 20, 40, 6.0, toward=False)), OVERTAKE_OK, "wrong_way"),
    ("wrong-way car from far away", far_coarse(*straight(1.75, 120, 50, 7.5)), OVERTAKE_OK, "wrong_way"),
    ("keeps its own lane", track(*straight(-1.75, 110, 50, 7.0)), OVERTAKE_OK, None),
]


@pytest.mark.parametrize(("name", "tr", "cfg", "expected"), GATE_CASES, ids=[c[0] for c in GATE_CASES])
def test_wrong_way_only_for_vehicles_never_on_their_own_side(name, tr, cfg, expected):
    """A vehicle first seen lawfully on its own side is judged by the oncoming rule only, never as wrong way."""
    assert lane_offence(tr, cfg) == expected

"""Oncoming-lane rule: excursions from the own side into a lane of the opposite direction."""

import numpy as np
import pytest

from pipeline.config import OncomingLaneRuleConfig, RulesConfig, WrongWayRuleConfig
from pipeline.rules.oncoming_lane import check_oncoming_lane
from pipeline.rules.wrong_way import check_wrong_way
from tests.rules.rule_tracks import excursion, lane_change, straight, track

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

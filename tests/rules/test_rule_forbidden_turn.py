"""Forbidden U-turn and left turn: entry area, exit area, heading change."""

import numpy as np
import pytest

from pipeline.config import ForbiddenTurnRuleConfig, Manoeuvre
from pipeline.rules.forbidden_turn import check_forbidden_turn, heading_change_deg
from tests.rules.rule_tracks import FPS, track

ENTRY = np.array([[-3.5, 28.0], [0.0, 28.0], [0.0, 40.0], [-3.5, 40.0]])      # L3 before the junction
U_EXIT = np.array([[0.0, 14.0], [3.5, 14.0], [3.5, 40.0], [0.0, 40.0]])       # L4, going back
LEFT_EXIT = np.array([[7.0, 10.0], [25.0, 10.0], [25.0, 22.0], [7.0, 22.0]])  # the cross street, right of the image
U_TURN = Manoeuvre(id="no-u", kind="u_turn", entry_zone="in", exit_zone="u-out", min_heading_change_deg=150)
LEFT = Manoeuvre(id="no-left", kind="left_turn", entry_zone="in", exit_zone="left-out", min_heading_change_deg=60)
SITE = [(U_TURN, ENTRY, U_EXIT), (LEFT, ENTRY, LEFT_EXIT)]


def path(points: list[tuple[float, float]], speed_kmh: float = 25.0):
    """(t, x, y) along a polyline at constant speed, sampled at 25 fps."""
    pts = np.asarray(points, dtype=float)
    seg = np.hypot(*np.diff(pts, axis=0).T)
    s = np.concatenate([[0], np.cumsum(seg)])
    t = np.arange(0, s[-1] / (speed_kmh / 3.6), 1 / FPS)
    d = t * speed_kmh / 3.6
    return t, np.interp(d, s, pts[:, 0]), np.interp(d, s, pts[:, 1])


def arc(cx, cy, r, a0, a1, n=40):
    a = np.radians(np.linspace(a0, a1, n))
    return [(cx + r * np.cos(x), cy + r * np.sin(x)) for x in a]


STRAIGHT = [(-1.75, 60.0), (-1.75, 5.0)]
U = [(-1.75, 60.0), (-1.75, 24.0)] + arc(0.0, 24.0, 1.75, 180, 360) + [(1.75, 24.0), (1.75, 36.0), (1.75, 60.0)]
LEFT_TURN = [(-1.75, 60.0), (-1.75, 26.0)] + arc(9.0, 26.0, 10.75, 180, 270) + [(9.0, 15.25), (24.0, 15.25)]
RIGHT_TURN = [(-8.75, 60.0), (-8.75, 20.0)] + arc(-14.0, 20.0, 5.25, 0, -90) + [(-14.0, 14.75), (-30.0, 14.75)]
ENTRY_THEN_LANE_CHANGE = [(-1.75, 60.0), (-1.75, 40.0), (1.75, 30.0), (1.75, 20.0)]  # oncoming, not a turn

CASES = [
    ("goes straight through", STRAIGHT, None),
    ("U-turn into the opposite lane", U, "u_turn"),
    ("left turn into the cross street", LEFT_TURN, "left_turn"),
    ("right turn (from the kerb lane, other areas)", RIGHT_TURN, None),
    ("moves across into L4 without turning around", ENTRY_THEN_LANE_CHANGE, None),
]


@pytest.mark.parametrize(("name", "points", "expected"), CASES, ids=[c[0] for c in CASES])
def test_forbidden_turn_table(name, points, expected):
    """Entry then exit with the heading turned past the threshold is the manoeuvre's type."""
    hit = check_forbidden_turn(track(*path(points)), SITE, ForbiddenTurnRuleConfig())
    assert (hit.type if hit else None) == expected
    if hit:
        need = 150 if expected == "u_turn" else 60
        assert abs(hit.measurements["heading_change_deg"]) >= need


def test_turn_seen_reversed_is_not_a_left_turn():
    """Driving the left-turn path backwards (from the cross street into L3) never enters first."""
    t, x, y = path(LEFT_TURN)
    assert check_forbidden_turn(track(t, x[::-1], y[::-1]), SITE, ForbiddenTurnRuleConfig()) is None


def test_disabled_and_no_manoeuvres():
    """A disabled rule or a site without manoeuvres reports nothing."""
    tr = track(*path(U))
    assert check_forbidden_turn(tr, SITE, ForbiddenTurnRuleConfig(enabled=False)) is None
    assert check_forbidden_turn(tr, [], ForbiddenTurnRuleConfig()) is None


@pytest.mark.parametrize(("v0", "v1", "expected"), [
    ((0, -1), (1, 0), 90.0), ((0, -1), (-1, 0), -90.0), ((0, -1), (0, 1), 180.0), ((0, -1), (0, -2), 0.0),
])
def test_heading_change_sign(v0, v1, expected):
    """Counter-clockwise in road X/Y (X right, Y away) is a left turn for a driver."""
    assert heading_change_deg(np.array(v0, float), np.array(v1, float)) == pytest.approx(expected)


def test_u_turn_with_a_gap_and_a_stray_first_box_is_still_found():
    """A track first seen on a stray box (0.36 s before the next one) and re-found after a gap at
    its very end, still in the exit area (two last points 0.64 s after the others; as on the
    far-side night U-turn): the first and last windows hold too few points, so the next ones are
    used and the U-turn is found; with both ends clean the measured turn is the same within a
    few degrees."""
    t, x, y = path(U[:-1])            # ends at (1.75, 36): inside the exit area
    clean = check_forbidden_turn(track(t, x, y), SITE, ForbiddenTurnRuleConfig())
    keep = np.ones(len(t), bool)
    keep[1:10] = False                # the first box, then nothing for 0.36 s
    keep[-18:-2] = False              # a gap before the last two points
    hit = check_forbidden_turn(track(t[keep], x[keep], y[keep]), SITE, ForbiddenTurnRuleConfig())
    assert clean is not None and hit is not None and hit.type == "u_turn"
    assert abs(hit.measurements["heading_change_deg"] - clean.measurements["heading_change_deg"]) < 10
    assert hit.t_start_s == pytest.approx(clean.t_start_s)

"""Rule tables: solid-line crossing, wrong way and no stopping, on exact synthetic tracks."""

import numpy as np
import pytest

from pipeline.config import NoStoppingRuleConfig, RulesConfig, SolidLineRuleConfig, WrongWayRuleConfig
from pipeline.rules.body import body_centres
from pipeline.rules.no_stopping import check_no_stopping
from pipeline.rules.solid_line import check_solid_line
from pipeline.rules.wrong_way import check_wrong_way
from pipeline.types import Track, TrackPoint

LENGTHS = RulesConfig().vehicle_length_m
LINE = np.array([[0.0, 35.0], [0.0, 60.0]])  # a solid line along the road at X = 0, Y 35..60 m
LANES = {
    "L1": ("toward", np.array([[-3.5, 20], [0, 20], [0, 90], [-3.5, 90]], dtype=float)),
    "L2": ("away", np.array([[0, 20], [3.5, 20], [3.5, 90], [0, 90]], dtype=float)),
}
ZONE = {"ns-1": np.array([[-3.5, 55], [0, 55], [0, 80], [-3.5, 80]], dtype=float)}


def _track(t, x, y, cls="car"):
    pts = tuple(TrackPoint(int(round(ti * 25)), float(ti), (0, 0, 10, 10), (float(xi), float(yi)), 0.9) for ti, xi, yi in zip(t, x, y))
    return Track(1, cls, pts)


def _lane_change(x0, x1, y_start, speed_ms=14.0, t_change=(1.0, 3.0), dur=5.0):
    t = np.arange(0, dur, 0.04)
    y = y_start - speed_ms * t
    s = np.clip((t - t_change[0]) / (t_change[1] - t_change[0]), 0, 1)
    x = x0 + (x1 - x0) * (3 * s**2 - 2 * s**3)
    return t, x, y


LANE_CASES = [
    # name, (x0, x1, y_start), expected hit
    ("changes lanes across the solid part", (-1.75, 1.75, 80.0), True),
    ("changes back across it", (1.75, -1.75, 80.0), True),
    ("changes lanes where the line is not painted", (-1.75, 1.75, 30.0), False),
    ("keeps its lane next to the line", (-0.6, -0.6, 80.0), False),
    ("drifts towards the line but stays", (-1.75, -0.3, 80.0), False),
]


@pytest.mark.parametrize(("name", "args", "expected"), LANE_CASES, ids=[c[0] for c in LANE_CASES])
def test_solid_line_table(name, args, expected):
    """Only a crossing inside the painted extent, clear on both sides, is a hit."""
    t, x, y = _lane_change(*args)
    # A receding-looking track would flip the body offset; these approach (Y decreases).
    hit = check_solid_line(_track(t, x, y), "solid-1", LINE, SolidLineRuleConfig(), LENGTHS)
    assert (hit is not None) == expected
    if hit:
        assert hit.measurements["line_id"] == "solid-1"
        assert 1.0 <= hit.t_at_s <= 3.0


def test_solid_line_noise_next_to_line_is_not_a_crossing():
    """+-0.3 m box jitter of a vehicle driving 0.4 m from the line never counts."""
    rng = np.random.default_rng(3)
    t = np.arange(0, 4, 0.04)
    x = -0.4 + rng.normal(0, 0.3, len(t))
    hit = check_solid_line(_track(t, x, 80 - 14 * t), "solid-1", LINE, SolidLineRuleConfig(), LENGTHS)
    assert hit is None


WRONG_CASES = [
    ("approaching in a toward lane", (-1.75, 80.0, -14.0), False),
    ("receding in an away lane", (1.75, 25.0, 12.0), False),
    ("receding in a toward lane", (-1.75, 25.0, 10.0), True),
    ("approaching in an away lane", (1.75, 80.0, -12.0), True),
    ("creeping back 1 km/h in a toward lane", (-1.75, 40.0, 0.28), False),
]


@pytest.mark.parametrize(("name", "args", "expected"), WRONG_CASES, ids=[c[0] for c in WRONG_CASES])
def test_wrong_way_table(name, args, expected):
    """Movement against the lane's lawful direction, fast and long enough, is a hit."""
    x, y0, vy = args
    t = np.arange(0, 3, 0.04)
    hit = check_wrong_way(_track(t, np.full_like(t, x), y0 + vy * t), LANES, WrongWayRuleConfig())
    assert (hit is not None) == expected


def _stop_in(y_stop, stop_s, cls="car"):
    t = np.arange(0, 4 + stop_s + 2, 0.04)
    y = np.where(t < 4, 90 - 5 * t, y_stop)
    y = np.where(t < 4, np.maximum(y, y_stop), y)
    y = np.where(t > 4 + stop_s, y_stop - 5 * (t - 4 - stop_s), y)
    return _track(t, np.full_like(t, -1.75), y, cls)


NS_CASES = [
    ("stops 8 s in the zone", (62.0, 8.0), True),
    ("stops 3 s in the zone", (62.0, 3.0), False),
    ("stops 8 s before the zone", (45.0, 8.0), False),
    ("front just outside, body inside", (53.5, 8.0), True),
]


@pytest.mark.parametrize(("name", "args", "expected"), NS_CASES, ids=[c[0] for c in NS_CASES])
def test_no_stopping_table(name, args, expected):
    """A stop of at least min_dwell_s with the body centre in the zone is a hit."""
    hit = check_no_stopping(_stop_in(*args), ZONE, NoStoppingRuleConfig(), LENGTHS)
    assert (hit is not None) == expected
    if hit:
        assert hit.measurements["zone_id"] == "ns-1" and hit.measurements["dwell_s"] >= 5.0


def test_wrong_way_needs_real_distance():
    """A stopped vehicle whose box jitters +-0.4 m (far from the camera) is not driving the wrong way."""
    rng = np.random.default_rng(5)
    t = np.arange(0, 8, 0.04)
    y = 64.0 + rng.normal(0, 0.4, len(t)) + 0.6 * np.sin(t * 3)
    hit = check_wrong_way(_track(t, np.full_like(t, -1.75), y), LANES, WrongWayRuleConfig())
    assert hit is None


def test_body_centre_lies_half_a_length_along_the_heading_away_from_the_camera():
    """Approaching, the point is the front and the body lies behind it (larger Y); receding, the
    point is the rear and the body lies ahead of it (larger Y too); in a lane change the body's
    across-road position lags the front's; a standing vehicle keeps the body along +Y."""
    half = LENGTHS["car"] / 2
    t = np.arange(0, 3, 0.04)
    approaching = np.column_stack([np.full_like(t, -1.75), 80 - 14 * t])
    receding = np.column_stack([np.full_like(t, 1.75), 30 + 14 * t])
    standing = np.column_stack([np.full_like(t, -1.75), np.full_like(t, 50.0)])
    for pos in (approaching, receding, standing):
        body = body_centres(_track(t, *pos.T), t, pos, LENGTHS)
        assert np.allclose(body - pos, [0.0, half], atol=1e-9)
    t, x, y = _lane_change(-1.75, 1.75, 80.0)
    pos = np.column_stack([x, y])
    body = body_centres(_track(t, x, y), t, pos, LENGTHS)
    mid = np.argmin(np.abs(t - 2.0))  # mid-manoeuvre: moving right at 2.2 m/s, 14 m/s along
    assert body[mid, 0] < x[mid] - 0.2  # still further left than the front
    assert abs(np.hypot(*(body[mid] - pos[mid])) - half) < 1e-9
    assert np.allclose(body[:10], pos[:10] + [0.0, half], atol=1e-6)  # straight before it


def test_solid_line_crossed_by_the_body_near_the_painted_end():
    """A lane change over 35 m whose front crosses the line at Y 58.6 m, and whose body (half a
    length behind, lagging across the road) crosses it at about 59 m, inside the painted part
    (35-60 m). Shifting the front along Y alone put the crossing at 61 m, past the end, and
    missed it (the gantry view's miss, docs/results.md)."""
    t, x, y = _lane_change(-1.75, 1.75, 91.2, speed_ms=14.8, t_change=(1.0, 3.4))
    hit = check_solid_line(_track(t, x, y), "solid-1", LINE, SolidLineRuleConfig(), LENGTHS)
    assert hit is not None
    crossing_y = 35.0 + 25.0 * hit.measurements["crossing_along_line"]
    assert 58.0 < crossing_y < 60.0

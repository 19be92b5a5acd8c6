"""Bus-lane rule: class, reserved windows, distance travelled inside the lane."""

import dataclasses
import datetime as dt

import numpy as np
import pytest
from pydantic import ValidationError

from pipeline.config import BusLaneRuleConfig, RulesConfig, TimeWindow
from pipeline.rules.bus_lane import check_bus_lane, window_active
from pipeline.types import Track
from tests.rules.rule_tracks import lane_change, straight, track

LENGTHS = RulesConfig().vehicle_length_m
BUS_LANE = {"B1": np.array([[-10.5, 5.0], [-7.0, 5.0], [-7.0, 150.0], [-10.5, 150.0]])}
PEAK = BusLaneRuleConfig(windows=[TimeWindow(start="07:00", end="10:00"), TimeWindow(start="17:00", end="20:00")])
MORNING = dt.datetime(2026, 11, 20, 2, 30, tzinfo=dt.timezone.utc)  # 08:30 in Bishkek (UTC+6)
AFTERNOON = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.timezone.utc)  # 14:00 in Bishkek


CASES = [
    # name, (t, x, y), class, start time, expected hit
    ("car drives along the bus lane at peak", straight(-8.75, 120, 50, 5.0), "car", MORNING, True),
    ("bus in the bus lane", straight(-8.75, 120, 45, 5.0), "bus", MORNING, False),
    ("car in the bus lane outside the window", straight(-8.75, 120, 50, 5.0), "car", AFTERNOON, False),
    ("car in the next lane", straight(-5.25, 120, 50, 5.0), "car", MORNING, False),
    ("truck along the bus lane", straight(-8.75, 120, 40, 5.0), "truck", MORNING, True),
    ("car enters just before the junction (under 20 m)", lane_change(-5.25, -8.75, 60, 36, (3.0, 4.0), 5.0), "car", MORNING, False),
    ("car moves into the bus lane early and stays", lane_change(-5.25, -8.75, 120, 50, (0.5, 1.5), 7.0), "car", MORNING, True),
]


@pytest.mark.parametrize(("name", "txy", "cls", "start", "expected"), CASES, ids=[c[0] for c in CASES])
def test_bus_lane_table(name, txy, cls, start, expected):
    """Only a non-bus travelling 20 m or more in the lane while it is reserved is a hit."""
    hit = check_bus_lane(track(*txy, cls=cls), BUS_LANE, PEAK, LENGTHS, start)
    assert (hit is not None) == expected
    if hit:
        assert hit.measurements["lane_id"] == "B1"
        assert hit.measurements["distance_in_lane_m"] >= PEAK.min_distance_m
        assert hit.measurements["class_name"] == cls


def test_window_closes_mid_track():
    """Observations after the window's end do not count: 2 s (28 m) inside is a hit, 1 s (14 m) is not."""
    start = dt.datetime(2026, 11, 20, 3, 59, 58, tzinfo=dt.timezone.utc)
    hit = check_bus_lane(track(*straight(-8.75, 120, 50, 5.0)), BUS_LANE, PEAK, LENGTHS, start)
    assert hit is not None and hit.t_end_s < 2.05
    late = check_bus_lane(track(*straight(-8.75, 120, 50, 5.0)), BUS_LANE, PEAK, LENGTHS, start + dt.timedelta(seconds=1.0))
    assert late is None


@pytest.mark.parametrize(("utc", "weekdays", "expected"), [
    ("2026-11-20T01:00:00+00:00", [0, 1, 2, 3, 4, 5, 6], True),   # 07:00 local, start inclusive
    ("2026-11-20T04:00:00+00:00", [0, 1, 2, 3, 4, 5, 6], False),  # 10:00 local, end exclusive
    ("2026-11-20T02:30:00+00:00", [5, 6], False),                 # a Friday, weekend-only window
    ("2026-11-19T20:30:00-05:00", [0, 1, 2, 3, 4], True),         # 07:30 local from another zone
])
def test_window_active_table(utc, weekdays, expected):
    """Windows are local (UTC+6), start inclusive, end exclusive, per weekday."""
    cfg = BusLaneRuleConfig(windows=[TimeWindow(start="07:00", end="10:00", weekdays=weekdays)])
    assert window_active(cfg, dt.datetime.fromisoformat(utc)) is expected


@pytest.mark.parametrize(("window", "error"), [
    ({"start": "10:00", "end": "07:00"}, "must be before end"),
    ({"start": "7:00", "end": "10:00"}, "should match pattern"),
    ({"start": "07:00", "end": "10:00", "weekdays": [7]}, "weekdays must be"),
])
def test_window_validation(window, error):
    """Bad windows are refused with a message naming the problem."""
    with pytest.raises(ValidationError, match=error):
        TimeWindow.model_validate(window)


def test_naive_time_is_refused():
    """A naive datetime cannot be placed in local time."""
    with pytest.raises(ValueError, match="time zone"):
        window_active(PEAK, dt.datetime(2026, 11, 20, 8, 0))


def _labelled(txy, pattern: list[tuple[str, float]], voted: str) -> Track:
    """A track along the bus lane whose detections cycle through ``pattern`` (class, confidence)."""
    base = track(*txy, cls=voted)
    pts = tuple(
        dataclasses.replace(p, class_name=pattern[k % len(pattern)][0], confidence=pattern[k % len(pattern)][1])
        for k, p in enumerate(base.points)
    )
    return Track(base.track_id, voted, pts)


ALONG = straight(-8.75, 120, 45, 5.0)
EVIDENCE_CASES = [
    # name, per-detection (class, confidence) cycle, voted class, expected: None (exempt) | "fine" | "review"
    ("bus on every detection, confident", [("bus", 0.85)], "bus", None),
    ("bus on 9 of 10 detections, confident", [("bus", 0.8)] * 9 + [("truck", 0.4)], "bus", None),
    ("voted bus on 3 of 5 detections (a truck at night)", [("bus", 0.6)] * 3 + [("truck", 0.45)] * 2, "bus", "review"),
    ("bus on every detection, but weakly", [("bus", 0.35)], "bus", "review"),
    ("voted truck, bus on 2 of 5", [("truck", 0.7)] * 3 + [("bus", 0.5)] * 2, "truck", "review"),
    ("truck on every detection", [("truck", 0.8)], "truck", "fine"),
    ("truck, bus on 1 of 10 detections", [("truck", 0.8)] * 9 + [("bus", 0.3)], "truck", "fine"),
]


@pytest.mark.parametrize(("name", "pattern", "voted", "expected"), EVIDENCE_CASES, ids=[c[0] for c in EVIDENCE_CASES])
def test_exemption_needs_decisive_class_evidence(name, pattern, voted, expected):
    """Exempt only on decisive bus evidence; mixed evidence goes to review, never straight to a fine."""
    hit = check_bus_lane(_labelled(ALONG, pattern, voted), BUS_LANE, PEAK, LENGTHS, MORNING)
    if expected is None:
        assert hit is None
        return
    assert hit is not None
    m = hit.measurements
    assert set(m["class_votes"]) == {c for c, _ in pattern}
    assert sum(v["detections"] for v in m["class_votes"].values()) == len(ALONG[0])
    assert m["exemption_doubtful"] is (expected == "review")
    if expected == "review":
        assert "exemption doubtful" in m["review_reason"]
        assert m["allowed_share"] < PEAK.exemption_min_share or m["allowed_mean_confidence"] < PEAK.exemption_min_confidence
    else:
        assert "review_reason" not in m


def test_exemption_thresholds_are_config():
    """A camera that accepts weaker labels (a documented choice) exempts the night-time bus."""
    weak = [("bus", 0.6)] * 3 + [("truck", 0.45)] * 2
    lenient = PEAK.model_copy(update={"exemption_min_share": 0.6})
    assert check_bus_lane(_labelled(ALONG, weak, "bus"), BUS_LANE, lenient, LENGTHS, MORNING) is None
    assert check_bus_lane(_labelled(ALONG, weak, "bus"), BUS_LANE, PEAK, LENGTHS, MORNING) is not None

"""The extended catalogue: bus lane, oncoming lane, U-turn and amber turns, with their truth."""

from __future__ import annotations

import collections
import datetime as dt

import numpy as np
import pytest
import yaml

from pipeline.config import CameraConfig
from scenes.camera import enforcement_camera
from scenes.camera_yaml import camera_config
from scenes.generate import build_truth, plan_scene, site_rules
from scenes.layout import default_layout
from scenes.rules import bus_window_active
from scenes.scenarios import SCENARIOS
from scenes.turns import TURN_GEOMETRY, Turn, speed_profile, turn_path, turn_states
from scenes.world import SignalHeadPx

NEW = ["bus-lane", "bus-lane-offpeak", "bus-lane-night", "oncoming", "oncoming-night", "u-turn", "u-turn-night", "amber-turn",
       "fast", "fast-night", "pedestrian", "pedestrian-night"]


@pytest.mark.parametrize("name", NEW)
@pytest.mark.parametrize("seed", [0, 1])
def test_new_scenarios_yield_their_events(name, seed):
    """Each new scenario yields exactly its listed violations whatever the seed."""
    truth = build_truth(plan_scene(name, seed))
    got = collections.Counter(v["type"] for v in truth["violations"])
    assert got == collections.Counter(SCENARIOS[name].expected_violations)


@pytest.mark.parametrize("name", ["left-turn", "left-turn-night"])
@pytest.mark.parametrize(("seed", "camera"), [(0, "gantry"), (1, "mast")])
def test_left_turn_is_the_one_violation_from_views_that_see_the_intersection(name, seed, camera):
    """From the gantry and the mast the car turning left from L3 is the one violation (heading
    turned 45 deg or more, in view); the right turn from L1 and the straight runs are lawful."""
    truth = build_truth(plan_scene(name, seed, camera=camera))
    roles = {v["id"]: v["role"] for v in truth["vehicles"]}
    assert [(v["type"], roles[v["vehicle_id"]]) for v in truth["violations"]] == [("left_turn", "left turn")]
    assert truth["violations"][0]["details"]["heading_change_deg"] >= 45.0


def test_left_turn_areas_are_refused_where_the_camera_cannot_see_them():
    """The kerb pole stands beside the intersection: its camera.yaml cannot publish the left turn's exit area."""
    sc = SCENARIOS["left-turn"]
    head = SignalHeadPx((10.0, 10.0, 5.0, 12.0), ((12.0, 12.0), (12.0, 16.0), (12.0, 20.0)), 1.5)
    with pytest.raises(ValueError, match="turn area ta-l-out is not in view"):
        camera_config(enforcement_camera(), default_layout(sc.bus_lane), head, sc.signal, scenario=sc.name, seed=0,
                      start_time_utc=sc.start_time_utc, speed_limit_kmh=60, **site_rules(sc))


def test_every_rule_has_day_and_night_positives():
    """Every implemented type is expected by day and at night (left turns from the views that see them)."""
    wanted = {"speeding", "red_light", "stop_line", "solid_line_crossing", "wrong_way", "no_stopping",
              "oncoming_lane", "bus_lane", "u_turn", "left_turn", "pedestrian_yield"}
    for light in ("day", "night"):
        have = {t for s in SCENARIOS.values() if s.lighting == light for t in s.expected_violations}
        assert wanted <= have, (light, wanted - have)


def test_bus_in_bus_lane_and_offpeak_cars_are_lawful():
    """The bus never violates; at 14:00 local the same cars in the bus lane do not either."""
    truth = build_truth(plan_scene("bus-lane", 3))
    bus_ids = {v["id"] for v in truth["vehicles"] if v["class"] == "bus"}
    hits = {v["vehicle_id"] for v in truth["violations"] if v["type"] == "bus_lane"}
    assert bus_ids and not bus_ids & hits
    classes = {v["id"]: v["class"] for v in truth["vehicles"]}
    assert sorted(classes[h] for h in hits) == ["car", "truck"]
    assert build_truth(plan_scene("bus-lane-offpeak", 3))["violations"] == []


@pytest.mark.parametrize(("utc", "expected"), [
    ("2026-11-20T02:30:00+00:00", True), ("2026-11-20T08:00:00+00:00", False),
    ("2026-11-20T12:30:00+00:00", True), ("2026-11-20T04:00:00+00:00", False),
])
def test_bus_windows_are_local_time(utc, expected):
    """07:00-10:00 and 17:00-20:00 are Bishkek time (UTC+6), end exclusive."""
    assert bus_window_active(SCENARIOS["bus-lane"].bus_windows, dt.datetime.fromisoformat(utc)) is expected


def test_oncoming_is_not_wrong_way_and_vice_versa():
    """The overtaker is an oncoming-lane case only; the car against its lane from the start is wrong way only."""
    truth = build_truth(plan_scene("oncoming", 0))
    by_vehicle = collections.defaultdict(set)
    for v in truth["violations"]:
        by_vehicle[v["vehicle_id"]].add(v["type"])
    roles = {v["id"]: v["role"] for v in truth["vehicles"]}
    got = {roles[k]: types for k, types in by_vehicle.items()}
    assert got == {"oncoming-lane driver": {"oncoming_lane", "solid_line_crossing"}, "wrong way": {"wrong_way"}}


def test_u_turn_path_turns_round_with_exact_speeds():
    """The U-turn's heading reverses, and its positions are the integral of its speeds."""
    path, s0, s1 = turn_path(-1.75, 120.0, "u_turn")
    t = np.arange(0, 12, 0.02)
    s, v, alive = speed_profile(t, 0.0, 13.0, 5.0, s0, s1, (len(path) - 1) * 0.05)
    st = turn_states(path, s, v)
    k = np.nonzero(alive)[0]
    assert st["hy"][k[0]] == pytest.approx(-1.0) and st["hy"][k[-1]] == pytest.approx(1.0, abs=1e-3)
    ds = np.diff(s[k])
    assert np.allclose(ds, 0.5 * (v[k][1:] + v[k][:-1]) * 0.02, atol=1e-6)
    on_arc = (s[k] > s0 + 0.1) & (s[k] < s1 - 0.1)
    assert np.allclose(v[k][on_arc], 5.0)


def test_turn_kind_is_checked():
    """An unknown manoeuvre is refused with the valid names."""
    with pytest.raises(ValueError, match="turn kind must be one of"):
        Turn("spiral", 5.0)
    assert set(TURN_GEOMETRY) >= {"u_turn", "left_turn", "right_turn"}


def test_site_rules_reach_camera_yaml():
    """Bus-lane windows, the bus lane kind, turn areas and the manoeuvre validate in CameraConfig."""
    sc = SCENARIOS["u-turn"]
    head = SignalHeadPx((10.0, 10.0, 5.0, 12.0), ((12.0, 12.0), (12.0, 16.0), (12.0, 20.0)), 1.5)
    for sc in (SCENARIOS["u-turn"], SCENARIOS["bus-lane"]):
        doc = camera_config(enforcement_camera(), default_layout(sc.bus_lane), head, sc.signal, scenario=sc.name, seed=0,
                            start_time_utc=sc.start_time_utc, speed_limit_kmh=60, **site_rules(sc))
        cfg = CameraConfig.model_validate(yaml.safe_load(yaml.safe_dump(doc)))
        if sc.name == "u-turn":
            assert [m.kind for m in cfg.rules.forbidden_turn.manoeuvres] == ["u_turn"]
            assert {z.id for z in cfg.zones if z.kind == "turn_area"} == {"ta-u-in", "ta-u-out"}
        else:
            assert [ln.id for ln in cfg.lanes if ln.kind == "bus"] == ["L1"]
            assert [(w.start, w.end) for w in cfg.rules.bus_lane.windows] == [("07:00", "10:00"), ("17:00", "20:00")]


def test_pedestrian_truth_has_the_people_and_the_one_offender():
    """Both pedestrians get truth boxes; only the car that drives in front of the crossing one offends."""
    truth = build_truth(plan_scene("pedestrian", 2))
    assert len(truth["pedestrians"]) == 2 and all(len(p["frames"]) > 100 for p in truth["pedestrians"])
    roles = {v["id"]: v["role"] for v in truth["vehicles"]}
    assert [(v["type"], roles[v["vehicle_id"]]) for v in truth["violations"]] == [("pedestrian_yield", "does not yield")]
    box = truth["pedestrians"][0]["frames"][0]["box_px"]
    assert 1.5 < (box[3] - box[1]) / (box[2] - box[0]) < 6  # upright figure

"""`safecity eval` matching rules on hand-made truth and results."""

import json

import pytest

from evaluation.scoring import evaluate, evaluate_files, iou
from safecity.errors import InputError


def _truth():
    frames = lambda vid, x: [  # noqa: E731 - tiny builder
        {"frame": f, "t_s": f / 25, "box_px": [x, 100 + f, x + 80, 160 + f], "visible_fraction": 1.0, "road_m": [0, 50 - f],
         "speed_kmh": 80.0 if vid == 1 else 50.0}
        for f in range(50)
    ]
    return {
        "fps": 25.0,
        "vehicles": [{"id": 1, "frames": frames(1, 100)}, {"id": 2, "frames": frames(2, 600)}],
        "violations": [{"type": "speeding", "vehicle_id": 1, "start_s": 0.0, "end_s": 2.0},
                       {"type": "red_light", "vehicle_id": 2, "start_s": 1.0, "end_s": 2.0}],
    }


def _tracks(shift=0.0):
    def pts(x):
        return [{"frame": f, "box_px": [x + shift, 100 + f, x + 80 + shift, 160 + f], "road_m": [0, 0], "usable": True} for f in range(50)]
    return {"tracks": [
        {"track_id": 7, "speed_kmh": 81.0, "speed_window_s": [0.0, 1.0], "points": pts(100)},
        {"track_id": 8, "speed_kmh": 48.5, "speed_window_s": [0.0, 1.0], "points": pts(600)},
        {"track_id": 9, "speed_kmh": 30.0, "speed_window_s": [0.0, 1.0], "points": pts(1000)},
    ]}


def _v(vtype, track, t0, t1):
    return {"type": vtype, "track_id": track, "first_frame": 0, "last_frame": 49, "measurements": {"t_start_s": t0, "t_end_s": t1}}


def test_perfect_result():
    """All violations found on the right vehicles: precision and recall 1; speed errors signed."""
    res = {"violations": [_v("speeding", 7, 0.0, 2.0), _v("red_light", 8, 1.1, 2.0)]}
    rep = evaluate(_truth(), res, _tracks())
    by = {t.type: t for t in rep.types}
    assert (by["speeding"].precision, by["speeding"].recall) == (1.0, 1.0)
    assert (by["red_light"].precision, by["red_light"].recall) == (1.0, 1.0)
    assert by["stop_line"].truth == 0 and by["stop_line"].precision is None
    assert sorted(rep.speed_errors_kmh) == [-1.5, 1.0]
    assert rep.false_tracks == 1 and rep.vehicles_tracked == 2
    assert rep.detection_recall == 1.0


@pytest.mark.parametrize(
    ("violations", "precision", "recall"),
    [
        ([_v("speeding", 8, 0.0, 2.0)], 0.0, 0.0),                           # wrong vehicle
        ([_v("speeding", 7, 5.0, 6.0)], 0.0, 0.0),                           # wrong time
        ([_v("speeding", 7, 0.0, 2.0), _v("speeding", 7, 0.0, 2.0)], 0.5, 1.0),  # duplicate
        ([_v("speeding", 9, 0.0, 2.0)], 0.0, 0.0),                           # false track
        ([], None, 0.0),
    ],
    ids=["wrong-vehicle", "wrong-time", "duplicate", "false-track", "none"],
)
def test_speeding_matching(violations, precision, recall):
    """A report counts only on the right vehicle, overlapping in time, once."""
    rep = evaluate(_truth(), {"violations": violations}, _tracks())
    s = next(t for t in rep.types if t.type == "speeding")
    assert (s.precision, s.recall) == (precision, recall)


def test_review_marked_reports_are_scored_like_others():
    """A false positive marked for review still costs precision; the unmatched entry says it was."""
    review = _v("speeding", 8, 0.0, 2.0)
    review["measurements"]["review_reason"] = "exemption doubtful"
    rep = evaluate(_truth(), {"violations": [_v("speeding", 7, 0.0, 2.0), review]}, _tracks())
    s = next(t for t in rep.types if t.type == "speeding")
    assert (s.precision, s.recall) == (0.5, 1.0)
    fp = [u for u in rep.unmatched if u["kind"] == "false_positive"]
    assert [(u["track_id"], u["review"]) for u in fp] == [(8, True)]


def test_boxes_off_target_lose_the_match():
    """Track boxes shifted by more than half a box no longer belong to the vehicle."""
    rep = evaluate(_truth(), {"violations": [_v("speeding", 7, 0.0, 2.0)]}, _tracks(shift=60))
    assert rep.vehicles_tracked == 0 and rep.detection_recall == 0.0


def test_iou_values():
    """IoU of identical, disjoint and half-overlapping boxes."""
    m = iou([[0, 0, 10, 10]], [[0, 0, 10, 10], [20, 20, 30, 30], [5, 0, 15, 10]])
    assert m[0].round(3).tolist() == [1.0, 0.0, 0.333]


def test_files_errors(tmp_path):
    """Missing or foreign files are refused with the file name."""
    (tmp_path / "truth.json").write_text(json.dumps({"x": 1}))
    (tmp_path / "violations.json").write_text(json.dumps({"violations": []}))
    (tmp_path / "tracks.json").write_text(json.dumps({"tracks": []}))
    with pytest.raises(InputError, match="not a truth file"):
        evaluate_files(tmp_path / "truth.json", tmp_path / "violations.json")
    with pytest.raises(InputError, match="absent.json: truth file not found"):
        evaluate_files(tmp_path / "absent.json", tmp_path / "violations.json")

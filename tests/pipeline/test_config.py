"""Camera config validation: bad files are refused naming the file, the field and the problem."""

import copy

import pytest

from pipeline.config import load_camera_config
from safecity.errors import ConfigError
from tests.factories import camera_dict, write_camera


def test_valid_config_loads(tmp_path):
    """The factory camera is valid and keeps its values."""
    cfg = load_camera_config(write_camera(tmp_path))
    assert cfg.camera_id == "test-cam"
    assert cfg.speed_limit_kmh == 60
    assert cfg.start_time_utc.utcoffset().total_seconds() == 0


def _without(doc, *path):
    d = doc
    for p in path[:-1]:
        d = d[p]
    del d[path[-1]]
    return doc


def _set(doc, path, value):
    d = doc
    for p in path[:-1]:
        d = d[p]
    d[path[-1]] = value
    return doc


CASES = [
    ("missing speed limit", lambda d: _without(d, "speed_limit_kmh"), "speed_limit_kmh", "required field is missing"),
    ("missing calibration", lambda d: _without(d, "calibration"), "calibration", "required field is missing"),
    ("unknown field", lambda d: _set(d, ("colour",), "red"), "colour", "Extra inputs are not permitted"),
    ("negative limit", lambda d: _set(d, ("speed_limit_kmh",), -5), "speed_limit_kmh", "greater than 0"),
    ("naive time", lambda d: _set(d, ("start_time_utc",), "2026-11-20T08:00:00"), "start_time_utc", "time zone"),
    ("collinear calibration", lambda d: _set(d, ("calibration", "points"), [
        {"image_px": [100 + 10 * i, 500 + 10 * i], "road_m": [0, 20 + i]} for i in range(5)]),
        "calibration.points", "degenerate homography"),
    ("inconsistent calibration", lambda d: _set(d, ("calibration", "points", 0, "road_m"), [-6, 25]),
        "calibration.points", "reprojection error"),
    ("line outside frame", lambda d: _set(d, ("lines", 0, "points_px"), [[100, 500], [1500, 500]]),
        "lines.0.points_px", "outside the 1280x720 frame"),
    ("signal names unknown line", lambda d: _set(d, ("signal", "stop_line"), "nope"), "signal.stop_line 'nope'", "not a stop_line id"),
    ("too few calibration points", lambda d: _set(d, ("calibration", "points"), d["calibration"]["points"][:3]),
        "calibration.points", "at least 4"),
]


@pytest.mark.parametrize(("name", "mutate", "field", "problem"), CASES, ids=[c[0] for c in CASES])
def test_bad_config_is_refused(tmp_path, name, mutate, field, problem):
    """Each broken config raises ConfigError naming the file, the field and the problem."""
    path = write_camera(tmp_path, mutate(copy.deepcopy(camera_dict())))
    with pytest.raises(ConfigError) as info:
        load_camera_config(path)
    text = str(info.value)
    assert str(path) in text
    assert field in text
    assert problem in text


def test_error_points_at_yaml_line(tmp_path):
    """A bad value's message carries the line it sits on in the YAML file."""
    path = write_camera(tmp_path, _set(copy.deepcopy(camera_dict()), ("speed_limit_kmh",), "fast"))
    line_no = next(i for i, line in enumerate(path.read_text().splitlines(), 1) if line.startswith("speed_limit_kmh"))
    with pytest.raises(ConfigError, match=rf"speed_limit_kmh \(line {line_no}\)"):
        load_camera_config(path)


@pytest.mark.parametrize("content", ["", "- a\n- b\n", "camera_id: [unclosed\n"])
def test_unparseable_file(tmp_path, content):
    """Empty, non-mapping and invalid YAML are refused with the file name."""
    path = tmp_path / "camera.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError, match="camera.yaml"):
        load_camera_config(path)


def test_missing_file(tmp_path):
    """A missing config file is a ConfigError naming it."""
    with pytest.raises(ConfigError, match="cannot read file"):
        load_camera_config(tmp_path / "absent.yaml")

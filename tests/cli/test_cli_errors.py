"""`safecity process` refuses bad input with a clear message and leaves nothing half-written."""

from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from safecity.cli import app
from tests.factories import camera_dict, write_camera

runner = CliRunner()


def _process(video: Path, camera: Path, out: Path):
    return runner.invoke(app, ["process", str(video), "--camera", str(camera), "--out", str(out)])


def _tiny_video(path: Path, size=(320, 240), frames=5) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, size)
    for _ in range(frames):
        writer.write(np.zeros((size[1], size[0], 3), np.uint8))
    writer.release()
    return path


@pytest.mark.parametrize(
    ("make_video", "message"),
    [
        (lambda d: d / "absent.mp4", "video file not found"),
        (lambda d: (d / "noise.mp4").write_bytes(np.random.default_rng(0).bytes(5000)) and d / "noise.mp4", "noise.mp4"),
        (lambda d: (d / "empty.mp4").write_bytes(b"") or d / "empty.mp4", "empty.mp4"),
        (lambda d: _tiny_video(d / "small.mp4"), "frame size 320x240 differs"),
        (lambda d: d, "not a regular file"),
    ],
    ids=["missing", "garbage", "empty", "wrong-size", "directory"],
)
def test_bad_video_exits_2(tmp_path, make_video, message):
    """Missing, unreadable or mismatched videos exit 2 naming the file; no results are written."""
    out = tmp_path / "out"
    result = _process(make_video(tmp_path), write_camera(tmp_path), out)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (out / "violations.json").exists()
    assert not (out / "safecity.sqlite").exists()
    assert not (tmp_path / "safecity-home" / "safecity.sqlite").exists()


def test_bad_config_exits_2(tmp_path):
    """A config with a line outside the frame is refused naming file, field and problem."""
    doc = camera_dict()
    doc["lines"][0]["points_px"] = [[10, 500], [2000, 500]]
    result = _process(_tiny_video(tmp_path / "v.mp4", (1280, 720)), write_camera(tmp_path, doc), tmp_path / "out")
    assert result.exit_code == 2
    assert "camera.yaml" in result.output and "lines.0.points_px" in result.output and "outside the 1280x720 frame" in result.output


def test_unknown_detector_lists_valid_names(tmp_path):
    """An unknown detector name is refused with the valid names."""
    result = runner.invoke(app, ["process", str(_tiny_video(tmp_path / "v.mp4", (1280, 720))), "--camera",
                                 str(write_camera(tmp_path)), "--out", str(tmp_path / "o"), "--detector", "onxx"])
    assert result.exit_code == 2
    assert "onnx" in result.output

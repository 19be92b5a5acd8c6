"""`safecity quantize-detector`: bad options exit 2 naming the problem; a one-frame run writes an
int8 model that records the options it was given."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from detectors.quantize import sample_video_paths
from safecity.cli import app


def _invoke(*args: str):
    return CliRunner().invoke(app, ["quantize-detector", *args])


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--format", "int4"], "int4"),
        (["--calibration", "mse"], "mse"),
        (["--model", "{tmp}/absent.onnx"], "absent.onnx"),
        (["--video", "{tmp}/absent.mp4"], "absent.mp4"),
        (["--out", "{tmp}/no-folder/int8.onnx"], "no-folder"),
    ],
)
def test_bad_options_exit_2_naming_them(tmp_path: Path, args: list[str], named: str) -> None:
    """Each bad value is refused with exit 2 before any quantization, and nothing is written."""
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "int8.onnx")]
    result = _invoke(*args)
    assert result.exit_code == 2, result.output
    assert named in result.output
    assert not (tmp_path / "int8.onnx").exists()


def test_help_lists_the_quantize_options() -> None:
    """--help shows each option the command passes to detectors.quantize."""
    result = CliRunner().invoke(app, ["quantize-detector", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for option in ("--model", "--out", "--video", "--input-size", "--every-nth-frame",
                   "--max-frames-per-video", "--format", "--per-tensor", "--calibration",
                   "--keep-head-float"):
        assert option in result.output, option


def test_one_frame_run_writes_a_model_recording_its_options(tmp_path: Path) -> None:
    """A run on one calibration frame (about 10 s) writes an int8 model whose `quantization`
    metadata holds the given settings, video and frame count."""
    onnx = pytest.importorskip("onnx")
    video = sample_video_paths()[-1]
    out = tmp_path / "int8.onnx"
    result = _invoke("--out", str(out), "--video", str(video), "--every-nth-frame", "100",
                     "--max-frames-per-video", "1", "--per-tensor", "--calibration", "percentile")
    assert result.exit_code == 0, result.output
    assert str(out) in result.output
    model = onnx.load(str(out))
    assert "DequantizeLinear" in {node.op_type for node in model.graph.node}
    record = json.loads({p.key: p.value for p in model.metadata_props}["quantization"])
    assert record["calibration_frames"] == 1
    assert record["calibration_videos"] == [f"{video.parent.name}/{video.name}"]
    assert record["settings"]["per_channel"] is False
    assert record["settings"]["calibration"] == "percentile"
    assert record["source_model"] == "vehicles-yolov5n-coco.onnx"

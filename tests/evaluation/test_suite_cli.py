"""`safecity eval-suite`: a bad suite file or model exits 2 naming it; `--model` is recorded."""

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from detectors.base import ModelFileError
from detectors.models import COCO_VEHICLE_MODEL, DEFAULT_VEHICLE_MODEL, FINETUNED_VEHICLE_MODEL, INT8_VEHICLE_MODEL, resolve_model

from safecity.cli import app


def test_bad_suite_file_exits_2_before_any_work(tmp_path):
    """An unknown scenario in the suite file is refused with exit code 2; no scene is rendered."""
    suite = tmp_path / "suite.yaml"
    suite.write_text("name: broken\nscenes:\n  - {scenario: bus-lain, seeds: [1]}\n")
    work = tmp_path / "work"
    result = CliRunner().invoke(app, ["eval-suite", "--suite", str(suite), "--work-dir", str(work)])
    assert result.exit_code == 2, result.output
    assert "suite.yaml" in result.output and "bus-lane" in result.output
    assert not work.exists()


def test_missing_suite_file_exits_2(tmp_path):
    """A suite path that does not exist is named."""
    result = CliRunner().invoke(app, ["eval-suite", "--suite", str(tmp_path / "none.yaml"), "--work-dir", str(tmp_path / "w")])
    assert result.exit_code == 2 and "none.yaml" in result.output


def test_bad_model_path_exits_2_naming_it_before_any_work(tmp_path):
    """`--model` with a path that does not exist is refused with exit 2, the message naming the
    path and the committed model names; no scene is rendered."""
    work = tmp_path / "work"
    missing = tmp_path / "no-such-model.onnx"
    result = CliRunner().invoke(app, ["eval-suite", "--model", str(missing), "--work-dir", str(work)])
    assert result.exit_code == 2, result.output
    assert str(missing) in result.output and "vehicles-yolov5n-coco-int8" in result.output
    assert not work.exists()


def test_unknown_camera_view_exits_2_before_any_work(tmp_path):
    """`--camera` with an unknown view is refused with exit 2 listing the views; nothing rendered."""
    work = tmp_path / "work"
    result = CliRunner().invoke(app, ["eval-suite", "--camera", "drone", "--work-dir", str(work)])
    assert result.exit_code == 2, result.output
    assert "drone" in result.output and "far-side" in result.output
    assert not work.exists()


def test_eval_suite_scores_scenes_seen_from_another_view(tmp_path):
    """`--camera far-side` renders, processes and scores the scene from that view: the JSON and
    the scene folder name it, and the run's camera id is the far-side one."""
    work = tmp_path / "work"
    result = CliRunner().invoke(app, [
        "eval-suite", "--scenarios", "default", "--seeds", "1", "--duration-s", "2", "--camera", "far-side",
        "--work-dir", str(work), "--json",
    ])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [(s["scenario"], s["seed"], s["camera"]) for s in doc["scenes"]] == [("default", 1, "far-side")]
    assert doc["frames"] == 50 and doc["vehicles_total"] > 0
    run = json.loads((work / "default-s1-far-side" / "run" / "violations.json").read_text())
    assert run["camera_id"] == "demo-default-s1-far-side"


@pytest.mark.slow
def test_eval_suite_runs_the_named_model_and_records_it(tmp_path):
    """`--model vehicles-yolov5n-coco-int8` (a committed model's name) runs that model: the JSON
    names its file and SHA-256, and the scene's violations.json records it as the run's model."""
    work = tmp_path / "work"
    result = CliRunner().invoke(app, [
        "eval-suite", "--model", "vehicles-yolov5n-coco-int8", "--scenarios", "default", "--seeds", "1",
        "--duration-s", "3", "--work-dir", str(work), "--json",
    ])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["model"] == {
        "file": INT8_VEHICLE_MODEL.name,
        "sha256": hashlib.sha256(INT8_VEHICLE_MODEL.read_bytes()).hexdigest(),
    }
    assert doc["frames"] > 0 and len(doc["scenes"]) == 1
    run = json.loads((work / "default-s1" / "run" / "violations.json").read_text())
    assert run["model"] == f"onnx:{INT8_VEHICLE_MODEL.name}"


def test_model_names_resolve_to_committed_files(tmp_path):
    """A bare committed name (with or without .onnx) resolves to models/; an existing path is kept;
    a missing path that merely ends in a known name is not silently replaced."""
    assert resolve_model(None) == DEFAULT_VEHICLE_MODEL == FINETUNED_VEHICLE_MODEL
    assert resolve_model("vehicles-yolov5n-coco-int8") == INT8_VEHICLE_MODEL
    assert resolve_model("vehicles-yolov5n-coco.onnx") == COCO_VEHICLE_MODEL
    own = tmp_path / "mine.onnx"
    own.write_bytes(b"x")
    assert resolve_model(own) == own
    with pytest.raises(ModelFileError, match="elsewhere"):
        resolve_model(Path("elsewhere") / INT8_VEHICLE_MODEL.name)

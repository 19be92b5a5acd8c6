"""`safecity detect` and `safecity eval-detector` command functions, on a Typer app of their own."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from detectors.cli import detect_cmd, eval_detector_cmd

VEHICLES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "vehicles"
COCO_VAL = VEHICLES / "coco128_vehicles"
needs_data = pytest.mark.skipif(
    not VEHICLES.is_dir(), reason=f"no shared vehicle data at {VEHICLES}"
)

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
app.command("detect")(detect_cmd)
app.command("eval-detector")(eval_detector_cmd)
runner = CliRunner()


def _invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("detect", "no/such/dir"), "no/such/dir: no such image file or folder"),
        (("detect", "{empty}"), "no image files"),
        (("detect", "{img}", "--detector", "yolo"), "unknown detector 'yolo': expected one of"),
        (("detect", "{img}", "--detector", "motion"), "cannot run on still images"),
        (("detect", "{img}", "--detector", "ultralytics"), "needs --model PATH"),
        (("detect", "{img}", "--model", "{missing}"), "detector model not found"),
        (("detect", "{img}", "--classes", "cars"), "unknown class 'cars'"),
        (
            ("eval-detector", "--images", "{empty}", "--labels", "{missing}"),
            "expected a COCO json file or a folder",
        ),
        (
            ("eval-detector", "--images", "no/such", "--labels", "{empty}"),
            "no/such: not a folder of images",
        ),
    ],
)
def test_bad_input_exits_2_with_a_reason(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    """Bad paths and options exit with code 2 and a message saying what is wrong."""
    (tmp_path / "empty").mkdir()
    image = tmp_path / "img.png"
    cv2.imwrite(str(image), np.full((64, 96, 3), 114, np.uint8))
    values = {"empty": tmp_path / "empty", "img": image, "missing": tmp_path / "missing.onnx"}
    result = _invoke(*(a.format(**values) for a in args))
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_detect_json_on_a_folder(tmp_path: Path) -> None:
    """--json prints one document with every image, its size and its (here: no) boxes."""
    for i, size in enumerate([(64, 96), (120, 80)]):
        cv2.imwrite(str(tmp_path / f"f{i}.jpg"), np.full((*size, 3), 114, np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    result = _invoke("detect", tmp_path, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["model"] == "onnx:vehicles-yolov5nu-ft.onnx" and doc["conf_threshold"] == 0.25
    assert [(Path(i["path"]).name, i["width"], i["height"], i["boxes"]) for i in doc["images"]] == [
        ("f0.jpg", 96, 64, []),
        ("f1.jpg", 80, 120, []),
    ]


def test_detect_takes_a_committed_models_name(tmp_path: Path) -> None:
    """--model vehicles-yolov5n-coco (no path) loads the committed COCO model instead of the
    default; an unknown bare name exits 2 listing the committed names."""
    cv2.imwrite(str(tmp_path / "f.jpg"), np.full((64, 96, 3), 114, np.uint8))
    result = _invoke("detect", tmp_path, "--json", "--model", "vehicles-yolov5n-coco")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["model"] == "onnx:vehicles-yolov5n-coco.onnx"
    bad = _invoke("detect", tmp_path, "--model", "vehicles-yolov9")
    assert bad.exit_code == 2
    assert "vehicles-yolov9" in bad.output and "vehicles-yolov5nu-ft" in bad.output


def test_unreadable_image_is_reported_and_exits_2(tmp_path: Path) -> None:
    """An image file that cannot be decoded is named on stderr; the others are still printed."""
    cv2.imwrite(str(tmp_path / "good.png"), np.full((64, 64, 3), 114, np.uint8))
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    result = _invoke("detect", tmp_path)
    assert result.exit_code == 2
    assert "broken.jpg: cannot read the image" in result.output
    assert "good.png  64x64  0 boxes" in result.output


@pytest.mark.shared_data
@needs_data
def test_detect_text_lists_boxes() -> None:
    """Text output: a header line per image, then x1 y1 x2 y2 class confidence per box."""
    image = COCO_VAL / "images" / "val2017" / "000000001532.jpg"
    result = _invoke("detect", image, "--conf", "0.5")
    assert result.exit_code == 0, result.output
    header, *rows = result.output.strip().splitlines()
    assert header.endswith(f"640x480  {len(rows)} boxes") and len(rows) >= 2
    for row in rows:
        x1, y1, x2, y2, name, conf = row.split()
        assert 0 <= float(x1) <= float(x2) <= 640 and 0 <= float(y1) <= float(y2) <= 480
        assert name in ("car", "bus", "truck", "motorcycle") and float(conf) >= 0.5


@pytest.mark.shared_data
@needs_data
def test_eval_detector_on_yolo_txt_labels() -> None:
    """On coco128 val2017 (YOLO txt, COCO ids) it reports per-class AP50 and recall, matching the
    COCO model's card (any vehicle: 45 boxes, AP50 ~0.69, recall@0.25 0.60)."""
    result = _invoke(
        "eval-detector",
        "--model",
        "vehicles-yolov5n-coco",
        "--images",
        COCO_VAL / "images" / "val2017",
        "--labels",
        COCO_VAL / "labels" / "val2017",
        "--json",
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    rows = {(r["name"], r["size"]): r for r in doc["classes"]}
    assert doc["images"] == 20 and doc["not_scored"] == []
    vehicle = rows[("any vehicle", "all")]
    assert vehicle["n_gt"] == 45 and vehicle["ap50"] >= 0.6 and vehicle["recall"] >= 0.5
    assert rows[("person", "all")]["n_gt"] == 62
    assert rows[("motorcycle", "small")]["ap50"] is None  # no small motorcycles: null, not NaN


@pytest.mark.shared_data
@needs_data
def test_eval_detector_on_coco_json(tmp_path: Path) -> None:
    """A COCO json with 3 US-101 frames is scored by category name; table output by default."""
    seq = VEHICLES / "ngsim_us101" / "Sequence1"
    data = json.loads((seq / "annotations" / "GT.json").read_text())
    images = sorted(data["images"], key=lambda im: im["file_name"])[:3]
    ids = {im["id"] for im in images}
    subset = dict(
        data, images=images, annotations=[a for a in data["annotations"] if a["image_id"] in ids]
    )
    (tmp_path / "images").mkdir()
    for im in images:
        shutil.copy(seq / "images" / im["file_name"], tmp_path / "images" / im["file_name"])
    (tmp_path / "gt.json").write_text(json.dumps(subset))
    result = _invoke(
        "eval-detector", "--images", tmp_path / "images", "--labels", tmp_path / "gt.json"
    )
    assert result.exit_code == 0, result.output
    assert "on 3 images" in result.output and "any vehicle" in result.output

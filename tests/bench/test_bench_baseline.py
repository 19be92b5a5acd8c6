"""The naive ultralytics baseline of the benchmark (runs where ultralytics, torch and onnx are:
PYTHONPATH=. .venv-train/bin/python -m pytest tests/bench/test_bench_baseline.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest


def write_video(path: Path, frames: int) -> Path:
    """A small mp4v clip of a block moving over a grey road."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (320, 240))
    for i in range(frames):
        frame = np.full((240, 320, 3), 110, np.uint8)
        cv2.rectangle(frame, (10 + 6 * i, 100), (50 + 6 * i, 130), (40, 40, 220), -1)
        writer.write(frame)
    writer.release()
    return path


@pytest.mark.skipif(
    importlib.util.find_spec("ultralytics") is None or importlib.util.find_spec("onnx") is None,
    reason="the naive baseline needs ultralytics, torch and onnx in this Python",
)
def test_baseline_runs_speed_estimator(tmp_path: Path) -> None:
    """The baseline subprocess runs ultralytics' SpeedEstimator over every frame of the clip."""
    from bench.run import run_baseline
    from detectors.models import COCO_VEHICLE_MODEL

    video = write_video(tmp_path / "clip.mp4", frames=6)
    result = run_baseline(Path(sys.executable), video, COCO_VEHICLE_MODEL, 10, 1)
    assert result["status"] == "ran", result
    assert result["timing"].frames == 5  # the first frame is the warm-up


@pytest.mark.skipif(importlib.util.find_spec("onnx") is None, reason="the rewrite needs the onnx package")
def test_baseline_model_rewrite_keeps_an_ultralytics_export(tmp_path: Path) -> None:
    """The default (fine-tuned) model is an ultralytics export: the baseline gets it byte for byte;
    the COCO YOLOv5 export is rewritten to ultralytics' [N, 4 + nc, A] output."""
    import onnxruntime as ort

    from detectors.models import COCO_VEHICLE_MODEL, DEFAULT_VEHICLE_MODEL
    from detectors.ultralytics_format import to_ultralytics_onnx

    kept = to_ultralytics_onnx(DEFAULT_VEHICLE_MODEL, tmp_path / "a" / "ft.onnx")
    assert kept.read_bytes() == DEFAULT_VEHICLE_MODEL.read_bytes()
    rewritten = to_ultralytics_onnx(COCO_VEHICLE_MODEL, tmp_path / "b" / "coco.onnx")
    session = ort.InferenceSession(str(rewritten), providers=["CPUExecutionProvider"])
    out = session.run(None, {session.get_inputs()[0].name: np.zeros((1, 3, 320, 320), np.float32)})[0]
    assert out.shape[1] == 4 + 80
    assert session.get_modelmeta().custom_metadata_map["task"] == "detect"

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
    from detectors.models import DEFAULT_VEHICLE_MODEL

    video = write_video(tmp_path / "clip.mp4", frames=6)
    result = run_baseline(Path(sys.executable), video, DEFAULT_VEHICLE_MODEL, 10, 1)
    assert result["status"] == "ran", result
    assert result["timing"].frames == 5  # the first frame is the warm-up

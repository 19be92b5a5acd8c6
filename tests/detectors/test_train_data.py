"""Training data from generated scenes (detectors/train_data.py; runs without torch/ultralytics)."""

from __future__ import annotations

import sys

import pytest

from detectors.train_data import scene_samples, write_yolo_split


def test_scene_samples_carry_truth_boxes_and_write_as_yolo(tmp_path) -> None:
    """A 2 s generated scene gives every 10th frame with its truth boxes, written as YOLO labels."""
    samples = scene_samples(tmp_path / "scenes", ["default"], [0], 2.0, 10, 0.5)
    assert len(samples) == 5  # frames 0, 10, 20, 30, 40 of 50
    assert sum(len(s.boxes) for s in samples) > 0
    for s in samples:
        assert s.image is not None and s.image.ndim == 3
        for x1, y1, x2, y2, name in s.boxes:
            assert x2 > x1 and y2 > y1 and name in ("car", "motorcycle", "bus", "truck")
    assert write_yolo_split(samples, tmp_path / "ds", "train", ["car", "motorcycle", "bus", "truck"]) == 5
    label_lines = [line for p in (tmp_path / "ds" / "labels" / "train").glob("*.txt") for line in p.read_text().splitlines()]
    assert label_lines and all(len(line.split()) == 5 for line in label_lines)


def test_scene_samples_refuse_to_train_without_the_generator(tmp_path, monkeypatch) -> None:
    """A config asking for scenes fails, naming the fix, when the generator cannot be imported."""
    monkeypatch.setitem(sys.modules, "scenes.generate", None)  # makes the import raise ImportError
    with pytest.raises(RuntimeError, match=r"data\.scenes\.use .*pip install -e \."):
        scene_samples(tmp_path, ["default"], [0], 2.0, 10, 0.5)

"""Training data from generated scenes (detectors/train_data.py; runs without torch/ultralytics)."""

from __future__ import annotations

import sys

import pytest

from detectors.train_data import Sample, scene_samples, write_yolo_dataset, write_yolo_split


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


def test_write_yolo_dataset_writes_both_splits_and_data_yaml(tmp_path) -> None:
    """Both splits land under root, and data.yaml names the splits and the class ids."""
    import numpy as np
    import yaml

    image = np.full((40, 80, 3), 90, np.uint8)
    train = [Sample(f"t{i}", [(10.0, 10.0, 30.0, 20.0, "bus")], image=image) for i in range(3)]
    val = [Sample("v0", [(0.0, 0.0, 8.0, 8.0, "car")], image=image)]
    data_yaml, n_train, n_val = write_yolo_dataset(tmp_path / "ds", train, val, ["car", "bus"])
    assert (n_train, n_val) == (3, 1)
    assert yaml.safe_load(data_yaml.read_text()) == {
        "path": str(tmp_path / "ds"), "train": "images/train", "val": "images/val", "names": {0: "car", 1: "bus"},
    }
    assert (tmp_path / "ds" / "labels" / "train" / "t0.txt").read_text().startswith("1 ")
    assert (tmp_path / "ds" / "labels" / "val" / "v0.txt").read_text().startswith("0 ")


def test_scene_samples_label_pedestrians_as_person(tmp_path) -> None:
    """The pedestrian scenario's walkers become ``person`` boxes, at their truth positions."""
    import json

    samples = scene_samples(tmp_path / "scenes", ["pedestrian"], [0], 2.0, 10, 0.5)
    truth = json.loads((tmp_path / "scenes" / "pedestrian-0" / "truth.json").read_text())
    expected = {
        (f["frame"], tuple(f["box_px"])) for w in truth["pedestrians"] for f in w["frames"] if f["frame"] % 10 == 0
    }
    assert expected, "the scenario should show a pedestrian wholly in view in its first 2 s"
    got = {
        (int(s.name.rsplit("-", 1)[1]), tuple(b[:4]))
        for s in samples for b in s.boxes if b[4] == "person"
    }
    assert got == expected


def test_write_yolo_dataset_drops_a_previous_builds_images(tmp_path) -> None:
    """A rebuild with fewer images leaves only its own images, labels (and no stale cache)."""
    import numpy as np

    image = np.full((40, 80, 3), 90, np.uint8)
    root = tmp_path / "ds"
    many = [Sample(f"old{i}", [(10.0, 10.0, 30.0, 20.0, "car")], image=image) for i in range(4)]
    write_yolo_dataset(root, many, many[:1], ["car"])
    (root / "labels" / "train.cache").write_bytes(b"stale")
    write_yolo_dataset(root, [Sample("new0", [], image=image)], [Sample("v", [], image=image)], ["car"])
    assert sorted(p.name for p in (root / "images" / "train").iterdir()) == ["new0.jpg"]
    assert sorted(p.name for p in (root / "labels").rglob("*") if p.is_file()) == ["new0.txt", "v.txt"]


def test_scene_samples_render_every_configured_camera_view(tmp_path) -> None:
    """With two views each scene is rendered from both: twice the frames, names that say the
    view, and boxes in other pixels for the same vehicles."""
    samples = scene_samples(tmp_path / "scenes", ["default"], [0], 1.0, 10, 0.5, cameras=["kerb", "far-side"])
    assert len(samples) == 6  # frames 0, 10, 20 of 25, from each view
    kerb = [s for s in samples if not s.name.endswith(tuple(f"-far-side-{i:05d}" for i in (0, 10, 20)))]
    far = [s for s in samples if s not in kerb]
    assert len(kerb) == len(far) == 3
    assert all("-far-side-" in s.name for s in far) and len({s.name for s in samples}) == 6
    assert (tmp_path / "scenes" / "default-0-far-side" / "truth.json").is_file()
    assert [b[:4] for b in kerb[0].boxes] != [b[:4] for b in far[0].boxes]


def test_training_config_names_its_camera_views(tmp_path) -> None:
    """The committed multi-view config trains on kerb and far-side (gantry held out); an unknown
    view is refused naming the valid ones."""
    from pathlib import Path

    from detectors.train import load_config

    root = Path(__file__).resolve().parents[2]
    config = load_config(root / "detectors" / "train-vehicles-multiview-cpu.yaml")
    assert config.data.scenes.cameras == ["kerb", "far-side"]
    assert load_config(root / "detectors" / "train-vehicles-cpu.yaml").data.scenes.cameras == ["kerb"]
    text = (root / "detectors" / "train-vehicles-multiview-cpu.yaml").read_text().replace("[kerb, far-side]", "[kerb, drone]")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    with pytest.raises(ValueError, match="drone.*valid views: kerb, far-side, gantry"):
        load_config(bad)

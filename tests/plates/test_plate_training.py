"""Plate-detector training data and config (plates/train_data.py, detectors/train_plates.py),
plate-detector scoring (plates/detector_eval.py) and the fine-tuned plate model when committed.
No training here: these run without torch or ultralytics."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from detectors.boxes import box_iou
from detectors.train_data import Sample, write_yolo_split
from detectors.train_plates import TrainPlatesConfig, load_config
from plates.detector import OnnxPlateDetector
from plates.detector_eval import found_counts
from plates.evaluate import shared_data_dir
from plates.train_data import (
    PLATE_CLASS,
    crop_boxes,
    extra_plates,
    is_held_out,
    kg_samples,
    photo_samples,
    read_openalpr,
    split_openalpr,
    vehicle_crop_window,
)
from plates.types import PlateBox

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "detectors" / "train-plates-cpu.yaml"
FINETUNED = REPO / "models" / "plates-yolov8n-ft.onnx"


def minimal_config(**overrides: object) -> dict:
    raw: dict = {
        "out_dir": "out",
        "checkpoint": "plate.pt",
        "stages": [{"epochs": 1}],
        "data": {"shared_data": "data"},
    }
    raw.update(overrides)
    return raw


def test_holdout_split_is_deterministic_and_near_the_fraction() -> None:
    """The same name always lands on the same side; over 2000 names the held-out share is ~1/3."""
    names = [f"{i:04d}-photo.jpg" for i in range(2000)]
    first = [is_held_out(n, 0.33) for n in names]
    assert first == [is_held_out(n, 0.33) for n in reversed(names)][::-1]
    assert 0.30 < sum(first) / len(names) < 0.36
    assert not any(is_held_out(n, 0.01) and not is_held_out(n, 0.33) for n in names)  # nested


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.2, 1.5])
def test_holdout_fraction_out_of_range_is_refused(fraction: float) -> None:
    """A held-out share of none or all is an error naming the field."""
    with pytest.raises(ValueError, match="holdout_fraction"):
        is_held_out("a.jpg", fraction)


def test_yolo_label_line_of_a_known_box(tmp_path) -> None:
    """A 40x20 px plate at (20, 10) in a 200x100 image is written as class 0, centre and size
    relative to the image."""
    image = np.zeros((100, 200, 3), np.uint8)
    write_yolo_split([Sample("one", [(20.0, 10.0, 60.0, 30.0, PLATE_CLASS)], image=image)], tmp_path, "train", [PLATE_CLASS])
    assert (tmp_path / "labels" / "train" / "one.txt").read_text() == "0 0.200000 0.200000 0.200000 0.200000\n"
    assert cv2.imread(str(tmp_path / "images" / "train" / "one.jpg")).shape == (100, 200, 3)


def test_vehicle_crop_window_holds_the_plate_and_is_vehicle_sized() -> None:
    """Every window contains the plate, stays inside the image and is 4-7 plates wide unless
    the image edge cuts it."""
    plate = (600.0, 400.0, 660.0, 430.0)
    rng = np.random.default_rng(0)
    for _ in range(200):
        x1, y1, x2, y2 = vehicle_crop_window(plate, (1280, 720), rng, (4.0, 7.0))
        assert 0 <= x1 <= 600 and 660 <= x2 <= 1280 and 0 <= y1 <= 400 and 430 <= y2 <= 720
        assert 4 * 60 - 2 <= x2 - x1 <= 7 * 60 + 2
    edge = vehicle_crop_window((0.0, 690.0, 60.0, 720.0), (100, 720), rng, (4.0, 7.0))
    assert edge[0] == 0 and edge[2] == 100 and edge[3] == 720


def test_crop_boxes_shift_and_drop_mostly_hidden_plates() -> None:
    """Boxes move into the window's px; one mostly outside the window is left out."""
    boxes = [(110.0, 120.0, 150.0, 140.0), (195.0, 120.0, 235.0, 140.0)]
    assert crop_boxes(boxes, (100, 100, 200, 200)) == [(10.0, 20.0, 50.0, 40.0)]


def test_extra_plates_keep_only_boxes_away_from_the_labels() -> None:
    """The teacher's box on the labelled plate is dropped, a box elsewhere is kept."""
    label = [(100.0, 100.0, 160.0, 130.0)]
    found = [(102.0, 101.0, 161.0, 129.0), (400.0, 300.0, 450.0, 325.0)]
    assert extra_plates(label, found) == [(400.0, 300.0, 450.0, 325.0)]
    assert extra_plates(label, []) == []


def test_kg_samples_box_the_plate_and_seeds_do_not_repeat() -> None:
    """The box lies inside the image around a light plate; a seed gives the same images twice,
    another seed different ones."""
    train = kg_samples(5, 1, (100.0, 200.0))
    again = kg_samples(5, 1, (100.0, 200.0))
    held = kg_samples(5, 1000, (100.0, 200.0))
    for s in train:
        (x1, y1, x2, y2, name), h, w = s.boxes[0], *s.image.shape[:2]
        assert name == PLATE_CLASS and 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h
        plate = s.image[int(y1) : int(y2), int(x1) : int(x2)]
        assert plate.mean() > s.image.mean()  # the white plate is brighter than the car
    assert all(np.array_equal(a.image, b.image) for a, b in zip(train, again, strict=True))
    assert not any(np.array_equal(a.image, b.image) for a in train for b in held if a.image.shape == b.image.shape)
    assert {s.name for s in train}.isdisjoint(s.name for s in held)


def test_openalpr_split_is_disjoint_and_stable() -> None:
    """On the real openalpr labels: train and held out share no photo, cover all of them, and a
    second read splits the same way; crops of a photo are the same for the same seed."""
    root = shared_data_dir()
    if root is None or not (root / "plates" / "openalpr_us").is_dir():
        pytest.skip("../shared/data/plates/openalpr_us not present")
    photos = read_openalpr(root)
    train, held = split_openalpr(photos, 0.33)
    assert {p.path for p in train}.isdisjoint(p.path for p in held)
    assert len(train) + len(held) == len(photos) and 0.2 < len(held) / len(photos) < 0.45
    assert [p.path for p in held] == [p.path for p in split_openalpr(read_openalpr(root), 0.33)[1]]
    first = photo_samples(train[:2], 2, (4.0, 7.0), seed=0)
    second = photo_samples(train[:2], 2, (4.0, 7.0), seed=0)
    assert [s.name for s in first] == [s.name for s in second] and len(first) == 6
    assert all(np.array_equal(a.image, b.image) for a, b in zip(first, second, strict=True) if a.image is not None)
    assert all(s.boxes for s in first)  # the labelled plate is in the photo and in each crop


def test_read_openalpr_names_a_missing_folder(tmp_path) -> None:
    """No openalpr labels under the shared-data folder is an error naming the folder."""
    with pytest.raises(FileNotFoundError, match="openalpr_us"):
        read_openalpr(tmp_path)


def test_committed_training_config_is_valid() -> None:
    """The committed config loads; its paths are resolved against the config file."""
    config = load_config(CONFIG)
    assert config.checkpoint == (REPO.parent / "shared" / "models" / "plate_detector_yolov8n.pt").resolve()
    assert config.data.kg.train_seed != config.data.kg.holdout_seed
    assert config.train_args.fliplr == 0.0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"data": {"shared_data": "d", "kg": {"train_seed": 3, "holdout_seed": 3}}}, "holdout_seed must differ"),
        ({"data": {"shared_data": "d", "openalpr": {"holdout_fraction": 0}}}, "holdout_fraction"),
        ({"data": {"shared_data": "d", "openalpr": {"crop_width_plates": [7, 4]}}}, "crop_width_plates"),
        ({"eval": {"crop_input_px": [300]}}, "multiples of 32"),
        ({"imgsz": 500}, "imgsz"),
        ({"stages": []}, "stages"),
        ({"epochs": 3}, "epochs"),  # a stray top-level key (it belongs to a stage)
    ],
)
def test_bad_config_is_refused_naming_the_field(tmp_path, overrides: dict, message: str) -> None:
    """Invalid configs fail with the file name and the bad field in the message."""
    import yaml

    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(minimal_config(**overrides)))
    with pytest.raises(ValueError, match=message) as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_minimal_config_takes_the_defaults() -> None:
    """Only the four required keys: defaults hold a held-out third and disjoint KG seeds."""
    config = TrainPlatesConfig.model_validate(minimal_config())
    assert config.data.openalpr.holdout_fraction == 0.33 and config.data.kg.holdout_seed != config.data.kg.train_seed


def test_found_counts_any_and_top_box() -> None:
    """Image 1: the top box misses, the second finds; image 2: the top box finds; a box under
    the score does not count."""
    truth = [np.array([[100.0, 100.0, 160.0, 130.0]]), np.array([[10.0, 10.0, 50.0, 30.0]])]
    predictions = [
        [PlateBox((300.0, 300.0, 360.0, 330.0), 0.9, "yolo"), PlateBox((101.0, 100.0, 159.0, 131.0), 0.6, "yolo")],
        [PlateBox((12.0, 11.0, 50.0, 30.0), 0.2, "yolo")],
    ]
    assert found_counts(predictions, truth, 0.25, 0.3) == (2, 1, 0)
    assert found_counts(predictions, truth, 0.1, 0.3) == (2, 2, 1)


@pytest.mark.skipif(not FINETUNED.is_file(), reason="no fine-tuned plate model committed")
def test_finetuned_plate_model_loads_offline_and_finds_a_kg_plate(no_network) -> None:
    """With every socket connect refused the committed fine-tuned model loads (one plate class)
    and finds the plate of generated KG vehicle fronts at 320 px."""
    detector = OnnxPlateDetector(FINETUNED, input_size=320, intra_op_threads=1)
    for sample in kg_samples(3, 4242, (90.0, 200.0), motorcycle_every=0, prefix="test"):
        (boxes,) = detector.detect([sample.image])
        assert boxes, f"{sample.name}: no plate found"
        assert box_iou(np.array([boxes[0].xyxy]), np.array([sample.boxes[0][:4]]))[0, 0] > 0.5


def test_vehicle_training_config_reads_through_the_same_validator(tmp_path) -> None:
    """detectors.train.load_config (sharing read_yaml_config) still loads the committed vehicle
    config and names a stray key of a bad one."""
    from detectors.train import load_config as load_vehicle_config

    assert load_vehicle_config(REPO / "detectors" / "train-vehicles-cpu.yaml").stages
    path = tmp_path / "v.yaml"
    path.write_text("out_dir: x\nbogus: 1\n")
    with pytest.raises(ValueError, match=r"invalid training config: .*bogus: Extra inputs"):
        load_vehicle_config(path)


@pytest.mark.skipif(shared_data_dir() is None, reason="no ../shared/data (openalpr photos)")
def test_build_dataset_writes_the_split_and_summary(tmp_path) -> None:
    """The plate data set is built from the openalpr training part and generated KG plates:
    every training photo once (no crops, no teacher), 3 KG samples, the held-out photos as val,
    and a rebuild leaves no image of the earlier build."""
    import yaml

    from detectors.train_plates import build_dataset

    def build(kg_samples: int):
        raw = minimal_config(
            out_dir=str(tmp_path / "out"),
            data={
                "shared_data": str(shared_data_dir()),
                "openalpr": {"crops_per_photo": 0, "teacher_min_score": None},
                "kg": {"train_samples": kg_samples},
            },
        )
        return build_dataset(TrainPlatesConfig.model_validate(raw), teacher=None)

    data_yaml, summary = build(3)
    root = data_yaml.parent
    assert yaml.safe_load(data_yaml.read_text())["names"] == {0: "license_plate"}
    assert summary["train_kg_images"] == 3
    assert summary["train_openalpr_images"] == summary["train_openalpr_photos"] > 100
    train = sorted(p.name for p in (root / "images" / "train").iterdir())
    assert len(train) == summary["train_images"]
    assert len(list((root / "images" / "val").iterdir())) == len(summary["holdout_openalpr"]) > 40
    _, again = build(1)
    assert len(list((root / "images" / "train").iterdir())) == again["train_images"] == summary["train_images"] - 2


@pytest.mark.parametrize("trainer", ["detectors.train", "detectors.train_plates"])
def test_trainers_exit_2_on_a_bad_config_or_a_missing_checkpoint(tmp_path, caplog, trainer: str) -> None:
    """Both trainers' main returns 2, before any training, for an invalid config and for a
    checkpoint that is not a file."""
    import importlib

    import yaml

    main = importlib.import_module(trainer).main
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(minimal_config(stages=[])))
    assert main(["--config", str(bad)]) == 2
    missing = tmp_path / "missing.yaml"
    missing.write_text(yaml.safe_dump(minimal_config()))  # checkpoint plate.pt beside it: absent
    caplog.clear()
    assert main(["--config", str(missing)]) == 2
    assert f"checkpoint not found: {tmp_path / 'plate.pt'}" in caplog.text
    assert not (tmp_path / "out").exists()

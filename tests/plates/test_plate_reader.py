"""The plate reader end to end on generated Kyrgyz plates, with the real models (offline)."""

from __future__ import annotations


import cv2
import numpy as np
import pytest

from detectors.base import ModelFileError
from detectors.boxes import box_iou
from plates.detector import DEFAULT_PLATE_MODEL, FallbackPlateDetector, HaarPlateDetector, OnnxPlateDetector
from plates.reader import PlateReader, PlateReaderSettings
from plates.synth import CameraLook, random_kg_plate, sample_plate, sample_track
from plates.types import VehicleCrop


@pytest.fixture(scope="module")
def reader() -> PlateReader:
    return PlateReader.create(intra_op_threads=1)


def crops_of(frames) -> list[VehicleCrop]:
    return [VehicleCrop(f.image, i, i / 25.0) for i, f in enumerate(frames)]


def test_reads_a_track_of_a_car(reader) -> None:
    """Five views of a car approaching: read, KG, display with spaces, high confidence."""
    rng = np.random.default_rng(1)
    frames = sample_track(rng, "01 472 KMX", "car", 5, (110.0, 200.0))
    result = reader.read_track(crops_of(frames))
    assert (result.status, result.text, result.display, result.country, result.grammar) == (
        "read",
        "01472KMX",
        "01 472 KMX",
        "KG",
        "kg_2016",
    )
    assert result.confidence >= 0.6 and len(result.char_confidences) == 8
    assert 1 <= len(result.crops_used) <= 4 and len(result.boxes) == len(result.crops_used)


def test_reads_a_two_line_motorcycle_plate(reader) -> None:
    """A two-line plate (region + digits over the letters, "KG" caption beside them)."""
    rng = np.random.default_rng(2)
    frames = sample_track(rng, "07 208 OX", "motorcycle", 4, (70.0, 100.0))
    result = reader.read_track(crops_of(frames))
    assert (result.text, result.grammar) == ("07208OX", "kg_2016_short")


def test_reads_most_generated_plates_from_one_view(reader) -> None:
    """One vehicle crop each, plates 110-200 px wide: at least 9 of 10 read exactly."""
    rng = np.random.default_rng(3)
    exact = 0
    for _ in range(10):
        text = random_kg_plate(rng, "car")
        look = CameraLook(width_px=float(rng.uniform(110, 200)), yaw_deg=float(rng.uniform(-15, 15)))
        sample = sample_plate(rng, text, "car", look, vehicle=True)
        exact += reader.read_track([VehicleCrop(sample.image)]).text == text.replace(" ", "")
    assert exact >= 9


def test_no_plate_and_unreadable(reader) -> None:
    """A crop without a plate: no_plate. A plate too blurred to read: not 'read'."""
    empty = np.full((240, 320, 3), 120, np.uint8)
    assert reader.read_track([VehicleCrop(empty)]).status == "no_plate"
    rng = np.random.default_rng(4)
    look = CameraLook(width_px=150.0, blur_sigma_px=6.0, noise_std=10.0)
    blurred = sample_plate(rng, "03 555 TTT", "car", look, vehicle=True)
    result = reader.read_track([VehicleCrop(blurred.image)])
    assert result.status in ("unreadable", "no_plate") or result.text != "03555TTT" or result.confidence < 0.9


def test_read_track_validates_input(reader) -> None:
    """Crops must be VehicleCrop; an empty track has no plate."""
    with pytest.raises(ValueError, match=r"crops\[0\]: expected a VehicleCrop"):
        reader.read_track([np.zeros((10, 10, 3), np.uint8)])
    assert reader.read_track([]).status == "no_plate"
    with pytest.raises(ValueError, match=r"image: expected \(H, W, 3\) uint8"):
        VehicleCrop(np.zeros((10, 10), np.uint8))


def test_plate_text_never_reaches_the_log(reader, caplog) -> None:
    """Reading logs counts and timings, never the plate."""
    rng = np.random.default_rng(5)
    frames = sample_track(rng, "02 345 HOP", "car", 2, (120.0, 160.0))
    with caplog.at_level("DEBUG"):
        result = reader.read_track(crops_of(frames))
    assert result.text == "02345HOP"
    assert all("02345HOP" not in r.getMessage() and "02 345 HOP" not in r.getMessage() for r in caplog.records)


def test_settings_are_validated() -> None:
    """Unknown countries and out-of-range thresholds are refused with the field named."""
    with pytest.raises(ValueError, match="did you mean 'KG'"):
        PlateReaderSettings(countries=("kg",))
    with pytest.raises(ValueError, match="min_confidence"):
        PlateReaderSettings(min_confidence=1.5)
    with pytest.raises(ValueError, match="extra"):
        PlateReaderSettings(min_confidense=0.5)


def test_models_load_and_run_with_the_network_blocked(no_network) -> None:
    """Nothing downloads at run time: with every socket connect refused, both models load and read."""
    offline = PlateReader.create(intra_op_threads=1)
    rng = np.random.default_rng(6)
    sample = sample_plate(rng, "08 123 CAT", "car", CameraLook(width_px=170.0), vehicle=True)
    assert offline.read_track([VehicleCrop(sample.image)]).text == "08123CAT"


def test_plate_model_contract() -> None:
    """The committed ONNX plate model: one class, dynamic input, boxes on a vehicle crop."""
    detector = OnnxPlateDetector(DEFAULT_PLATE_MODEL, input_size=320)
    rng = np.random.default_rng(7)
    sample = sample_plate(rng, "01 123 ABC", "car", CameraLook(width_px=160.0), vehicle=True)
    (boxes,) = detector.detect([sample.image])
    assert boxes and boxes[0].source == "yolo"
    truth = np.concatenate([sample.plate_quad.min(axis=0), sample.plate_quad.max(axis=0)])[None]
    assert box_iou(np.array([boxes[0].xyxy]), truth)[0, 0] > 0.5


def test_bad_model_files(tmp_path) -> None:
    """A missing or non-ONNX model file is a ModelFileError naming the path."""
    with pytest.raises(ModelFileError, match="nope.onnx"):
        OnnxPlateDetector(tmp_path / "nope.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(ModelFileError, match="junk.onnx"):
        OnnxPlateDetector(junk)
    with pytest.raises(ValueError, match="multiple of 32"):
        OnnxPlateDetector(DEFAULT_PLATE_MODEL, input_size=300)


def test_haar_fallback_only_when_the_model_finds_nothing() -> None:
    """The fallback detector asks Haar only for images the first detector found nothing in."""
    strict = OnnxPlateDetector(DEFAULT_PLATE_MODEL, input_size=320, conf_threshold=0.99)
    rng = np.random.default_rng(8)
    sample = sample_plate(
        rng, "01 123 ABC", "car", CameraLook(width_px=200.0, yaw_deg=0.0, pitch_deg=0.0), vehicle=True
    )
    grey = cv2.cvtColor(cv2.cvtColor(sample.image, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    (haar_boxes,) = HaarPlateDetector().detect([grey])
    (boxes,) = FallbackPlateDetector([strict, HaarPlateDetector()]).detect([grey])
    assert [b.source for b in boxes] == ["haar"] * len(haar_boxes)


def test_small_text_is_never_an_automatic_read(reader) -> None:
    """A plate only ~60 px wide (text ~14 px) may be guessed, but its status is not 'read'."""
    rng = np.random.default_rng(9)
    frames = sample_track(rng, "04 321 MOP", "car", 4, (55.0, 65.0))
    result = reader.read_track(crops_of(frames))
    assert result.status in ("unreadable", "no_plate")
    if result.status == "unreadable" and result.text is not None and result.confidence >= 0.7:
        assert "px needed for an automatic read" in result.reason


def test_resolve_plate_model_names_files_and_errors(tmp_path) -> None:
    """None is the default; committed names with or without .onnx; a file as it is; else an error."""
    from detectors.base import ModelFileError
    from plates.detector import DEFAULT_PLATE_MODEL, FINETUNED_PLATE_MODEL, resolve_plate_model

    assert resolve_plate_model(None) == DEFAULT_PLATE_MODEL
    assert resolve_plate_model("plates-yolov8n-ft") == FINETUNED_PLATE_MODEL
    assert resolve_plate_model("plates-yolov8n.onnx") == DEFAULT_PLATE_MODEL
    own = tmp_path / "mine.onnx"
    own.write_bytes(b"x")
    assert resolve_plate_model(own) == own
    with pytest.raises(ModelFileError, match="plate model not found: vehicles-yolov5n-coco"):
        resolve_plate_model("vehicles-yolov5n-coco")  # a vehicle model is not a plate model
    with pytest.raises(ModelFileError, match="not found: missing/plates-yolov8n-ft"):
        resolve_plate_model("missing/plates-yolov8n-ft")  # a path that is not there is not a name


def test_reader_create_uses_the_named_plate_model() -> None:
    """PlateReader.create(model=...) puts that ONNX file behind the detector."""
    from plates.detector import FINETUNED_PLATE_MODEL

    reader = PlateReader.create(model="plates-yolov8n-ft", with_haar=False)
    assert reader.detector.model_path == FINETUNED_PLATE_MODEL

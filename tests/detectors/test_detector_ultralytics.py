"""The ultralytics backend: offline loading, class selection, real plates found (skipped without
ultralytics/torch; runs in the training environment: PYTHONPATH=. .venv-train/bin/python -m pytest)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from detectors.base import ModelFileError
from detectors.boxes import box_iou
from detectors.ultralytics_yolo import ultralytics_available

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
PLATE_MODEL = SHARED / "models" / "plate_detector_yolov8n.pt"
PLATES = SHARED / "data" / "plates" / "openalpr_us"

REASON = ultralytics_available()
needs_ultralytics = pytest.mark.skipif(REASON is not None, reason=f"ultralytics backend: {REASON}")
needs_plates = pytest.mark.skipif(
    not (PLATE_MODEL.is_file() and PLATES.is_dir()), reason=f"no plate model/data under {SHARED}"
)


@pytest.mark.skipif(REASON is None, reason="ultralytics is installed here")
def test_without_ultralytics_the_error_says_what_to_install(tmp_path: Path) -> None:
    """Without torch/ultralytics, building the backend is a ValueError naming what is missing."""
    from detectors.registry import create_detector

    with pytest.raises(ValueError, match=r"detector 'ultralytics' cannot run: .*not installed"):
        create_detector("ultralytics", model_path=tmp_path / "m.pt")


@needs_ultralytics
def test_missing_model_names_the_path(tmp_path: Path) -> None:
    """A missing model file is a ModelFileError naming the path."""
    from detectors.ultralytics_yolo import UltralyticsDetector

    with pytest.raises(ModelFileError, match=r"not found: .*absent\.pt"):
        UltralyticsDetector(tmp_path / "absent.pt")


@needs_ultralytics
@needs_plates
@pytest.mark.shared_data
def test_class_not_in_model_is_refused() -> None:
    """Asking for a class the model lacks names it and suggests the closest."""
    from detectors.ultralytics_yolo import UltralyticsDetector

    with pytest.raises(
        ValueError, match=r"has no class 'license plate'.*did you mean 'license_plate'"
    ):
        UltralyticsDetector(PLATE_MODEL, classes=("license plate",), device="cpu")


@needs_ultralytics
@needs_plates
@pytest.mark.shared_data
def test_finds_plates_on_real_photos() -> None:
    """The plate model through the backend finds the labelled plate (IoU >= 0.3) in most of
    8 openalpr photos, boxes in frame px, one batch call."""
    from detectors.ultralytics_yolo import UltralyticsDetector

    detector = UltralyticsDetector(PLATE_MODEL, classes=None, device="cpu", max_batch=4)
    assert detector.class_names == ("license_plate",) and detector.half is False
    images = sorted(PLATES.glob("*.jpg"))[:8]
    frames = [cv2.imread(str(p)) for p in images]
    results = detector.detect(frames)
    hits = 0
    for path, result in zip(images, results, strict=True):
        _, x, y, w, h, _ = path.with_suffix(".txt").read_text().split("\t")
        truth = np.array(
            [[float(x), float(y), float(x) + float(w), float(y) + float(h)]], np.float32
        )
        if len(result) and box_iou(result.xyxy, truth).max() >= 0.3:
            hits += 1
    assert hits >= 5, hits

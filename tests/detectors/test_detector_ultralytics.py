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


@needs_ultralytics
def test_checkpoint_rebuilt_from_committed_onnx_finds_what_the_onnx_finds(tmp_path: Path) -> None:
    """detectors.pt_from_onnx rebuilds models/vehicles-yolov5nu-ft.onnx as an ultralytics
    checkpoint (raw outputs within 1e-3); through the backend, letterboxed by ultralytics on the
    CPU or batched on the inference device (the GPU path, run here on the CPU), it finds the
    same vehicles as the ONNX backend on frames of a committed sample video, at two frame sizes."""
    from bench.gpu import agreement
    from detectors.models import resolve_model
    from detectors.onnx_yolo import OnnxYoloDetector
    from detectors.pt_from_onnx import main as rebuild_main
    from detectors.ultralytics_yolo import UltralyticsDetector

    onnx_model = resolve_model("vehicles-yolov5nu-ft")
    pt = tmp_path / "ft.pt"
    assert rebuild_main([str(onnx_model), str(pt)]) == 0
    capture = cv2.VideoCapture(str(Path(__file__).resolve().parents[2] / "sample_videos" / "day-default-s1" / "scene.mp4"))
    frames = []
    for i in range(48):
        ok, frame = capture.read()
        assert ok
        if i % 6 == 0:
            frames.append(frame)
    capture.release()
    reference = OnnxYoloDetector(onnx_model, agnostic_nms=True)
    on_cpu = UltralyticsDetector(pt, device="cpu", agnostic_nms=True, max_batch=4, preprocess_on_device=False)
    batched = UltralyticsDetector(pt, device="cpu", agnostic_nms=True, max_batch=4, preprocess_on_device=True)
    a = agreement(on_cpu, reference, frames)
    assert a["boxes_reference"] >= 20 and a["matched_share"] >= 0.95 and a["mean_iou"] >= 0.9, a
    b = agreement(batched, on_cpu, frames)
    assert b["matched_share"] == 1.0 and b["mean_iou"] >= 0.99, b
    cropped = [f[:600, 100:1100].copy() for f in frames]  # another size and aspect ratio
    c = agreement(batched, on_cpu, cropped)
    assert c["boxes_reference"] > 0 and c["matched_share"] == 1.0 and c["mean_iou"] >= 0.99, c
    # The bench times the same steps one by one (on the CPU here, on CUDA in bench/gpu.sh).
    from bench.gpu import device_path_stages

    stages = device_path_stages(batched, frames, batch=4, rounds=1)
    assert set(stages) == {"upload", "letterbox", "forward", "nms"} and all(v > 0 for v in stages.values())


def test_rebuilding_a_file_that_is_not_an_ultralytics_export_exits_2(tmp_path: Path, capsys) -> None:
    """The COCO model (exported from the YOLOv5 code base, not ultralytics) and a missing file are
    refused with exit 2, naming the file."""
    pytest.importorskip("onnx")
    from detectors.models import COCO_VEHICLE_MODEL
    from detectors.pt_from_onnx import main as rebuild_main

    if REASON is not None:
        pytest.skip(f"ultralytics backend: {REASON}")
    assert rebuild_main([str(COCO_VEHICLE_MODEL), str(tmp_path / "x.pt")]) == 2
    assert COCO_VEHICLE_MODEL.name in capsys.readouterr().err
    assert rebuild_main([str(tmp_path / "absent.onnx"), str(tmp_path / "x.pt")]) == 2
    assert not (tmp_path / "x.pt").exists()


@needs_ultralytics
def test_cpu_training_keeps_the_configured_torch_threads(tmp_path: Path) -> None:
    """ultralytics' select_device() sets torch's threads to CPU count - 1 for CPU training (one
    thread on a 2-core machine); after start_run it keeps the config's ``threads``."""
    import torch
    from ultralytics.utils.torch_utils import select_device

    from detectors.train import RunConfig, SharedData, Stage, start_run

    before = torch.get_num_threads()
    try:
        for threads in (2, 3):
            config = RunConfig(
                out_dir=tmp_path / "run",
                checkpoint=tmp_path / "none.pt",
                threads=threads,
                stages=[Stage(epochs=1)],
                data=SharedData(shared_data=tmp_path),
            )
            start_run(config)
            select_device("cpu", verbose=False)
            assert torch.get_num_threads() == threads
    finally:
        torch.set_num_threads(before)

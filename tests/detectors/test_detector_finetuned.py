"""The fine-tuned vehicle model (models/vehicles-yolov5nu-ft.onnx): loads offline in the onnx
backend with its own five classes (vehicles and person) and finds the vehicles of a committed sample scene."""

from __future__ import annotations


from detectors.boxes import box_iou
from detectors.models import COCO_VEHICLE_MODEL, FINETUNED_VEHICLE_MODEL, resolve_model
from detectors.onnx_yolo import OnnxYoloDetector
from detectors.quantize import read_frames, sample_video_paths


def test_finetuned_model_loads_offline_and_finds_the_sample_vehicles(no_network) -> None:
    """With every socket connect refused the model loads; on day and night sample frames most
    of the COCO model's confident vehicles (>= 0.5) are found again (IoU >= 0.5, any class)."""
    assert resolve_model("vehicles-yolov5nu-ft") == FINETUNED_VEHICLE_MODEL
    options = dict(intra_op_threads=1, agnostic_nms=True, providers=["CPUExecutionProvider"])
    tuned = OnnxYoloDetector(FINETUNED_VEHICLE_MODEL, **options)
    assert set(tuned.model_names) == {"car", "motorcycle", "bus", "truck", "person"}
    coco = OnnxYoloDetector(COCO_VEHICLE_MODEL, **options)
    found = total = 0
    for video in sample_video_paths():
        for frame in read_frames(video, 50, 5):
            ref, got = coco.detect([frame])[0], tuned.detect([frame])[0]
            sure = ref.confidence >= 0.5
            if not sure.any():
                continue
            total += int(sure.sum())
            if len(got):
                found += int((box_iou(ref.xyxy[sure], got.xyxy).max(axis=1) >= 0.5).sum())
    assert total >= 10, f"only {total} confident COCO boxes to compare"
    assert found / total >= 0.8, f"fine-tuned model found {found} of {total} confident COCO vehicles"

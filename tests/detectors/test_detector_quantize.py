"""The int8 vehicle model: loads offline, finds the fp32 model's boxes, and is reproducible."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from detectors.boxes import box_iou
from detectors.models import (
    COCO_VEHICLE_MODEL,
    FINETUNED_INT8_VEHICLE_MODEL,
    FINETUNED_VEHICLE_MODEL,
    INT8_VEHICLE_MODEL,
    resolve_model,
)
from detectors.onnx_yolo import OnnxYoloDetector
from detectors.quantize import (
    QuantizeSettings,
    float_node_names,
    quantize_detector,
    read_frames,
    sample_video_paths,
)

#: IoU an int8 box must reach with its fp32 twin (same class). Confident fp32 boxes (>= 0.4) are
#: matched at IoU 0.86-0.99, mean 0.93, on the committed scenes' frames.
MIN_IOU = 0.8
#: fp32 boxes at least this confident are compared; of them, at least SHARE must have an int8
#: twin, and every one at least SURE. int8 scores near the 0.25 operating threshold move with the
#: CPU's int8 kernels: on an AVX2-only AMD EPYC (2026-11-27) 171 of 177 such boxes on every 25th
#: frame of both sample scenes had a twin (0.966; the missed ones scored 0.43-0.66 in fp32),
#: every box >= 0.7 did; on the machine the model was made on, all of them did.
CONFIDENT = 0.4
SHARE = 0.95
SURE = 0.7


def _sample_frames() -> list[np.ndarray]:
    """Every 25th frame of each committed sample scene (day and night), 20 per scene."""
    videos = sample_video_paths()
    assert videos, "no committed sample_videos/*/scene.mp4"
    return [frame for video in videos for frame in read_frames(video, 25, 20)]


def _assert_boxes_agree(fp32: OnnxYoloDetector, int8: OnnxYoloDetector, frames: list[np.ndarray]) -> None:
    confs, matched = [], []
    for index, frame in enumerate(frames):
        ref, got = fp32.detect([frame])[0], int8.detect([frame])[0]
        # Box counts: the committed model differs by at most 1 a frame here, the test's 4-frame rebuild by 2.
        assert abs(len(got) - len(ref)) <= 2, f"frame {index}: fp32 {len(ref)} boxes, int8 {len(got)}"
        confident = ref.confidence >= CONFIDENT
        if not confident.any():
            continue
        iou = box_iou(ref.xyxy[confident], got.xyxy) if len(got) else np.zeros((int(confident.sum()), 1))
        same_class = ref.class_id[confident][:, None] == got.class_id[None, :] if len(got) else np.zeros_like(iou, bool)
        best = np.where(same_class, iou, 0.0).max(axis=1)
        confs.extend(ref.confidence[confident].tolist())
        matched.extend((best >= MIN_IOU).tolist())
        missed_sure = (best < MIN_IOU) & (ref.confidence[confident] >= SURE)
        assert not missed_sure.any(), f"frame {index}: fp32 boxes >= {SURE} without an int8 twin: {ref.xyxy[confident][missed_sure].round()}"
    assert len(confs) >= 50, f"only {len(confs)} confident fp32 boxes to compare"
    share = float(np.mean(matched))
    assert share >= SHARE, f"{share:.3f} of {len(confs)} fp32 boxes >= {CONFIDENT} have an int8 twin (need {SHARE})"


def test_int8_model_loads_offline_and_agrees_with_fp32(no_network) -> None:
    """With every socket connect refused the int8 model loads, and confident fp32 boxes have an
    int8 box of the same class at IoU >= 0.8 on day and night sample frames (see SHARE, SURE)."""
    assert INT8_VEHICLE_MODEL.is_file(), f"missing committed model {INT8_VEHICLE_MODEL}"
    options = dict(intra_op_threads=1, agnostic_nms=True, providers=["CPUExecutionProvider"])
    fp32 = OnnxYoloDetector(COCO_VEHICLE_MODEL, **options)
    int8 = OnnxYoloDetector(INT8_VEHICLE_MODEL, **options)
    assert int8.model_names == fp32.model_names
    assert int8.dynamic_hw, "the int8 model must keep dynamic height/width (rectangular letterbox)"
    _assert_boxes_agree(fp32, int8, _sample_frames())


def test_fine_tuned_int8_model_loads_offline_and_agrees_with_its_fp32(no_network) -> None:
    """The committed int8 copy of the default model: loads with the network blocked, resolves by
    name, records its source, and agrees with the fp32 default as the COCO pair does."""
    assert resolve_model("vehicles-yolov5nu-ft-int8") == FINETUNED_INT8_VEHICLE_MODEL
    options = dict(intra_op_threads=1, agnostic_nms=True, providers=["CPUExecutionProvider"])
    fp32 = OnnxYoloDetector(FINETUNED_VEHICLE_MODEL, **options)
    int8 = OnnxYoloDetector(FINETUNED_INT8_VEHICLE_MODEL, **options)
    assert int8.model_names == fp32.model_names and int8.dynamic_hw
    onnx = pytest.importorskip("onnx")
    meta = {p.key: p.value for p in onnx.load(str(FINETUNED_INT8_VEHICLE_MODEL)).metadata_props}
    assert json.loads(meta["quantization"])["source_model"] == FINETUNED_VEHICLE_MODEL.name
    _assert_boxes_agree(fp32, int8, _sample_frames())


def test_int8_model_is_quantized_and_says_how() -> None:
    """The committed file holds int8 weights and records its calibration in the metadata."""
    onnx = pytest.importorskip("onnx")
    model = onnx.load(str(INT8_VEHICLE_MODEL))
    ops = {node.op_type for node in model.graph.node}
    assert "DequantizeLinear" in ops or "QLinearConv" in ops
    meta = {p.key: p.value for p in model.metadata_props}
    record = json.loads(meta["quantization"])
    assert record["source_model"] == COCO_VEHICLE_MODEL.name
    assert record["calibration_frames"] > 0
    assert INT8_VEHICLE_MODEL.stat().st_size < COCO_VEHICLE_MODEL.stat().st_size / 2


def test_quantize_detector_rebuilds_an_agreeing_model(tmp_path: Path) -> None:
    """The documented command's function, on a 4-frame calibration, writes a model that agrees
    with fp32 like the committed one (the quantization is reproducible offline)."""
    out = quantize_detector(
        COCO_VEHICLE_MODEL,
        tmp_path / "int8.onnx",
        settings=QuantizeSettings(every_nth_frame=100, max_frames_per_video=2),
    )
    options = dict(intra_op_threads=1, agnostic_nms=True, providers=["CPUExecutionProvider"])
    _assert_boxes_agree(
        OnnxYoloDetector(COCO_VEHICLE_MODEL, **options),
        OnnxYoloDetector(out, **options),
        _sample_frames(),
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (dict(quant_format="int4"), "quant_format"),
        (dict(calibration="mse"), "calibration"),
        (dict(every_nth_frame=0), "every_nth_frame"),
    ],
)
def test_quantize_settings_refuse_bad_values(settings: dict, message: str) -> None:
    """A bad setting is refused with its name in the message."""
    with pytest.raises(ValueError, match=message):
        QuantizeSettings(**settings)


def test_decode_tail_stays_float() -> None:
    """Only the head's output convolutions of /model.24/ are quantized; its decode math is not."""
    names = float_node_names(COCO_VEHICLE_MODEL, keep_head_float=False)
    assert names and all(n.startswith("/model.24/") for n in names)
    assert not any(n.endswith("/Conv") for n in names)
    with_head = float_node_names(COCO_VEHICLE_MODEL, keep_head_float=True)
    assert len([n for n in with_head if n.endswith("/Conv")]) == 3


def test_ultralytics_head_keeps_its_dfl_float() -> None:
    """In the fine-tuned model's anchor-free head the DFL convolution (box decoding) stays float;
    the class and box branches' convolutions are quantized."""
    names = float_node_names(FINETUNED_VEHICLE_MODEL, keep_head_float=False)
    assert "/model.24/dfl/conv/Conv" in names
    assert [n for n in names if n.endswith("/Conv")] == ["/model.24/dfl/conv/Conv"]
    with_head = float_node_names(FINETUNED_VEHICLE_MODEL, keep_head_float=True)
    # the 1x1 box and class output convolutions of three scales, not the 3x3 blocks before them
    assert sorted(n for n in with_head if n.endswith("/Conv")) == sorted(
        ["/model.24/dfl/conv/Conv"]
        + [f"/model.24/{branch}.{i}/{branch}.{i}.2/Conv" for branch in ("cv2", "cv3") for i in range(3)]
    )


def test_quantize_detector_rebuilds_the_fine_tuned_model_in_int8(tmp_path: Path) -> None:
    """The default (ultralytics-layout) model quantizes, with the default calibration, to a model
    that agrees with it as the COCO int8 does with the COCO model (a 4-frame calibration, enough
    for the COCO model, loses a confident box here)."""
    out = quantize_detector(FINETUNED_VEHICLE_MODEL, tmp_path / "ft-int8.onnx")
    options = dict(intra_op_threads=1, agnostic_nms=True, providers=["CPUExecutionProvider"])
    fp32 = OnnxYoloDetector(FINETUNED_VEHICLE_MODEL, **options)
    int8 = OnnxYoloDetector(out, **options)
    assert int8.model_names == fp32.model_names and int8.dynamic_hw
    _assert_boxes_agree(fp32, int8, _sample_frames())

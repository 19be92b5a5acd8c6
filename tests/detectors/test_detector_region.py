"""Detection cropped to the region of interest: geometry, batching, and the committed model."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from detectors.boxes import box_iou
from detectors.models import COCO_VEHICLE_MODEL
from detectors.onnx_yolo import OnnxYoloDetector
from detectors.region import Region, RegionDetector, crop_input_size, region_of_interest
from pipeline.config import load_camera_config

SAMPLES = Path(__file__).resolve().parents[2] / "sample_videos"


def test_region_of_interest_pads_and_clips() -> None:
    """The polygons' bounding box grows by the pad and stops at the frame's edges; no polygon
    means the whole frame."""
    polys = [np.array([[100, 200], [300, 200], [300, 400]]), np.array([[1250, 650], [1279, 719]])]
    assert region_of_interest(polys, 1280, 720, 50) == Region(50, 150, 1280, 720)
    assert region_of_interest([], 1280, 720, 50) == Region(0, 0, 1280, 720)


@pytest.mark.parametrize(
    ("polygons", "pad", "message"),
    [
        ([np.array([[10, 10], [20, 20]])], -1, "pad_px"),
        ([np.array([[2000, 10], [2100, 20]])], 0, "outside"),
        ([np.array([[np.nan, 10], [20, 20]])], 0, "finite"),
    ],
)
def test_region_of_interest_refuses_bad_input(polygons, pad, message) -> None:
    """A negative pad, polygons off the frame or NaN coordinates fail, naming the problem."""
    with pytest.raises(ValueError, match=message):
        region_of_interest(polygons, 1280, 720, pad)


def test_crop_input_size_keeps_the_frame_scale() -> None:
    """A 640x360 crop of a 1280x720 frame at 640 gets letterbox size 320 (scale 0.5 like the
    frame); sizes round up to the stride."""
    assert crop_input_size(Region(0, 0, 640, 360), 1280, 720, 640, 32) == 320
    assert crop_input_size(Region(0, 0, 650, 360), 1280, 720, 640, 32) == 352
    assert crop_input_size(Region(0, 0, 10, 10), 1280, 720, 640, 32) == 32


def test_region_detector_needs_a_dynamic_model(tiny_yolo_onnx) -> None:
    """A fixed-size model cannot letterbox crops at their own scale: refused with the reason."""
    fixed = OnnxYoloDetector(tiny_yolo_onnx(static_size=320), input_size=320)
    with pytest.raises(ValueError, match="dynamic input"):
        RegionDetector(fixed, Region(0, 0, 100, 100), (640, 360))
    dynamic = OnnxYoloDetector(tiny_yolo_onnx())
    with pytest.raises(ValueError, match="does not fit"):
        RegionDetector(dynamic, Region(0, 0, 700, 100), (640, 360))
    with pytest.raises(ValueError, match="input_size"):
        dynamic.detect([np.zeros((64, 64, 3), np.uint8)], input_size=100)


def test_region_boxes_are_in_frame_px(tiny_yolo_onnx) -> None:
    """The tiny model predicts one box at a fixed place in its input; through the region detector
    it lands offset by the region's corner, in frame px."""
    model = tiny_yolo_onnx(row={0: 64.0, 1: 48.0, 2: 32.0, 3: 32.0, 4: 0.9, 7: 0.9})
    det = OnnxYoloDetector(model, agnostic_nms=True, border_px=0)
    region = Region(320, 180, 960, 540)
    rd = RegionDetector(det, region, (1280, 720))
    assert rd.input_size == 320
    frame = np.full((720, 1280, 3), 100, np.uint8)
    (inner,) = det.detect([frame[180:540, 320:960]], input_size=320)
    (outer,) = rd.detect([frame])
    assert len(outer) == len(inner) >= 1
    np.testing.assert_allclose(outer.xyxy, inner.xyxy + np.array([320, 180, 320, 180], np.float32))
    with pytest.raises(ValueError, match="1280x720"):
        rd.detect([np.zeros((360, 640, 3), np.uint8)])


def _sample_frames(scene: str, indices: list[int]) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(SAMPLES / scene / "scene.mp4"))
    out, k = [], 0
    while len(out) < len(indices):
        ok, img = cap.read()
        if not ok:
            break
        if k in indices:
            out.append(img)
        k += 1
    cap.release()
    return out


@pytest.fixture(scope="module")
def committed() -> OnnxYoloDetector:
    return OnnxYoloDetector(COCO_VEHICLE_MODEL, agnostic_nms=True, intra_op_threads=1)


@pytest.fixture(scope="module")
def sample_region() -> Region:
    cfg = load_camera_config(SAMPLES / "day-default-s1" / "camera.yaml")
    polygons = [x.polygon_px for x in (*cfg.lanes, *cfg.zones)] + [ln.points_px for ln in cfg.lines]
    return region_of_interest(polygons, 1280, 720, 0.08 * 720)


def test_batched_equals_unbatched_with_region(committed, sample_region) -> None:
    """Four frames in one inference call give the same boxes as four calls of one frame,
    through the region detector as well as on whole frames (batching across cameras or
    segments changes nothing but the cost)."""
    frames = _sample_frames("day-default-s1", [0, 100, 200, 300])
    rd = RegionDetector(committed, sample_region, (1280, 720))
    for det in (committed, rd):
        batched = det.detect(frames)
        for frame, b in zip(frames, batched, strict=True):
            (single,) = det.detect([frame])
            assert len(single) == len(b)
            np.testing.assert_allclose(single.xyxy, b.xyxy, atol=0.05)
            np.testing.assert_allclose(single.confidence, b.confidence, atol=1e-4)


def test_region_finds_the_vehicles_of_the_whole_frame(committed, sample_region) -> None:
    """On sample frames the cropped detector finds every vehicle the whole-frame detector finds
    with confidence >= 0.5 inside the region (IoU >= 0.7), on a smaller network input."""
    frames = _sample_frames("day-default-s1", [0, 120, 240, 360, 480])
    rd = RegionDetector(committed, sample_region, (1280, 720))
    cw, ch = rd.canvas()
    fw, fh = committed.canvas_for(1280, 720)
    assert cw * ch < 0.85 * fw * fh
    found = 0
    for full, crop in zip(committed.detect(frames), rd.detect(frames), strict=True):
        r = sample_region
        sure = full.xyxy[(full.confidence >= 0.5) & (full.xyxy[:, 0] > r.x1) & (full.xyxy[:, 1] > r.y1)]
        if len(sure) == 0:
            continue
        iou = box_iou(sure, crop.xyxy)
        assert (iou.max(axis=1) >= 0.7).all(), (sure, crop.xyxy)
        found += len(sure)
    assert found >= 5

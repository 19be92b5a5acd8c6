"""The model-free motion detector: moving blobs found, static scenes empty, deterministic."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from detectors.boxes import box_iou
from detectors.motion import MotionDetector
from detectors.registry import create_detector

VIDEOS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "videos"


ENTERS = 30  # the vehicle drives in at this frame, after the background was learnt


def _scene(
    n_frames: int, moving: bool = True, size: tuple[int, int] = (320, 240)
) -> tuple[list, list]:
    """A textured static road and (when ``moving``) a 48x28 px 'vehicle' that enters at frame
    ``ENTERS`` and drives 4 px a frame.

    Returns frames (BGR uint8) and the true box of each frame (x1, y1, x2, y2 px; None before
    the vehicle is in view).
    """
    width, height = size
    rng = np.random.default_rng(7)
    background = (rng.integers(90, 140, (height, width, 1)) + np.zeros((1, 1, 3))).astype(np.uint8)
    background = cv2.GaussianBlur(background, (5, 5), 0)
    # A textured body (real vehicles are not flat colour: a flat patch moving over itself looks
    # static inside, to any background model).
    body = rng.integers(0, 256, (28, 48, 3)).astype(np.uint8)
    body[6:20, 8:30] = (220, 220, 220)
    frames, boxes = [], []
    for i in range(n_frames):
        frame = background.copy()
        x1, y1 = 10 + 4 * (i - ENTERS), height // 2 - 14
        box = (x1, y1, x1 + 48, y1 + 28) if moving and i >= ENTERS else None
        if box is not None:
            frame[y1 : y1 + 28, x1 : x1 + 48] = body
        frames.append(frame)
        boxes.append(box)
    return frames, boxes


def test_finds_the_moving_vehicle_in_every_frame() -> None:
    """Every frame with the vehicle in view has one box on it (IoU >= 0.7); the empty road
    before it has none; batches of any size give the same."""
    frames, truth = _scene(80)
    detector = MotionDetector()
    results = (
        detector.detect(frames[:4]) + detector.detect(frames[4:5]) + detector.detect(frames[5:])
    )
    assert all(len(r) == 0 for r in results[:ENTERS])
    for result, box in zip(results[ENTERS:], truth[ENTERS:], strict=True):
        assert len(result) == 1, result
        assert box_iou(result.xyxy, np.array([box], np.float32))[0, 0] >= 0.7
        assert result.class_names == ("car",) and 0.5 < result.confidence[0] <= 1.0


def test_static_scene_gives_no_boxes() -> None:
    """A scene where nothing moves gives no boxes at all."""
    frames, _ = _scene(60, moving=False)
    assert [len(r) for r in MotionDetector().detect(frames)] == [0] * 60


def test_deterministic() -> None:
    """Two detectors fed the same frames return identical boxes."""
    frames, _ = _scene(60)
    a = MotionDetector().detect(frames)
    b = MotionDetector().detect(frames)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.xyxy, y.xyxy)
        np.testing.assert_array_equal(x.confidence, y.confidence)


def test_frame_size_change_restarts_the_background() -> None:
    """A new frame size starts a new background model (warm-up again), and reset() does too."""
    frames, _ = _scene(20)
    detector = MotionDetector(warmup_frames=5)
    detector.detect(frames)
    other, _ = _scene(3, size=(640, 480))
    assert [len(r) for r in detector.detect(other)] == [0, 0, 0]
    detector.reset()
    assert len(detector.detect(frames[:1])[0]) == 0


def test_boxes_in_frame_px_when_downscaled() -> None:
    """A frame wider than the working width is shrunk internally; boxes come back in frame px."""
    frames, truth = _scene(60)
    big = [cv2.resize(f, None, fx=4, fy=4, interpolation=cv2.INTER_NEAREST) for f in frames]
    results = MotionDetector(work_width_px=320).detect(big)
    expected = np.array([truth[-1]], np.float32) * 4
    assert box_iou(results[-1].xyxy, expected).max() >= 0.7


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"class_name": ""}, r"class_name: expected a non-empty string"),
        ({"work_width_px": 10}, r"work_width_px: expected >= 64, got 10"),
        ({"min_area_frac": 0.6, "max_area_frac": 0.5}, r"expected 0 <= min < max <= 1"),
        ({"open_px": 0}, r"open_px, close_px: expected >= 1 px"),
        ({"warmup_frames": -1}, r"warmup_frames: expected >= 0"),
        ({"learning_rate": 0.0}, r"learning_rate: expected a value in \(0, 1\] or None, got 0.0"),
    ],
)
def test_bad_options(options: dict, message: str) -> None:
    """Bad options raise ValueError saying what was expected and what came."""
    with pytest.raises(ValueError, match=message):
        MotionDetector(**options)


def test_bad_frame_names_its_index() -> None:
    """A frame that is not BGR uint8 is a ValueError naming its index."""
    with pytest.raises(ValueError, match=r"frames\[1\]: expected \(H, W, 3\) uint8 BGR image"):
        MotionDetector().detect([np.zeros((10, 10, 3), np.uint8), np.zeros((10, 10), np.uint8)])


def test_registry_builds_it_with_a_class_name() -> None:
    """The registry name 'motion' builds the detector, options passed through."""
    detector = create_detector("motion", class_name="vehicle")
    assert isinstance(detector, MotionDetector) and detector.class_names == ("vehicle",)


@pytest.mark.shared_data
@pytest.mark.skipif(not (VIDEOS / "bgslibrary_video.avi").is_file(), reason=f"no clips in {VIDEOS}")
def test_finds_cars_on_a_real_highway_clip() -> None:
    """On a real fixed highway camera clip it boxes moving cars (measured: 1-5 boxes a frame
    from frame ~60 on, at ~3 ms a frame)."""
    capture = cv2.VideoCapture(str(VIDEOS / "bgslibrary_video.avi"))
    frames = []
    while len(frames) < 150:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    results = MotionDetector().detect(frames)
    counts = [len(r) for r in results[100:]]
    assert sum(c > 0 for c in counts) >= 0.8 * len(counts), counts
    heights = np.concatenate([r.xyxy[:, 3] - r.xyxy[:, 1] for r in results[100:]])
    assert np.median(heights) > 20  # vehicle-sized, not specks

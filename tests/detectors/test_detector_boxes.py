"""Pure box geometry: IoU, NMS, letterbox round trip."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.boxes import Letterbox, box_iou, nms


def test_iou_known_values() -> None:
    """Identical boxes give 1, disjoint 0, half-overlap 1/3."""
    a = np.array([[0, 0, 10, 10]], np.float32)
    b = np.array([[0, 0, 10, 10], [20, 20, 30, 30], [5, 0, 15, 10], [0, 0, 0, 0]], np.float32)
    np.testing.assert_allclose(box_iou(a, b), [[1.0, 0.0, 1 / 3, 0.0]])


def test_nms_suppresses_overlap_within_class_only() -> None:
    """Overlapping same-class boxes collapse to the best; another class at the same place stays."""
    xyxy = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.6], np.float32)
    classes = np.array([0, 0, 1, 0])
    assert nms(xyxy, scores, classes, 0.5).tolist() == [0, 2, 3]
    assert nms(xyxy, scores, None, 0.5).tolist() == [0, 3]


@pytest.mark.parametrize(("iou_threshold", "expected"), [(0.9, [1, 0]), (0.5, [1])])
def test_nms_threshold(iou_threshold: float, expected: list[int]) -> None:
    """Boxes overlapping by IoU 0.68 both survive a 0.9 threshold; at 0.5 only the best does."""
    xyxy = np.array([[0, 0, 10, 10], [1, 1, 11, 11]], np.float32)
    assert nms(xyxy, np.array([0.5, 0.9]), None, iou_threshold).tolist() == expected


def test_nms_empty_and_max_detections() -> None:
    """No boxes give no indices; max_detections caps the kept count, best first."""
    assert nms(np.zeros((0, 4)), np.zeros(0)).shape == (0,)
    xyxy = np.array([[i * 20, 0, i * 20 + 10, 10] for i in range(5)], np.float32)
    assert nms(xyxy, np.arange(5) / 10, None, 0.5, max_detections=2).tolist() == [4, 3]


@pytest.mark.parametrize(
    ("width", "height", "size"),
    [
        (640, 480, 640),
        (1920, 1080, 640),
        (375, 500, 640),
        (320, 240, 640),
        (101, 977, 320),
        (640, 640, 640),
    ],
)
def test_letterbox_round_trip(width: int, height: int, size: int) -> None:
    """Frame px -> input px -> frame px returns the same boxes; padding is centred."""
    box = Letterbox.fit(width, height, size)
    assert max(box.resized_w, box.resized_h) == size
    assert 0 <= box.pad_left <= size - box.resized_w and 0 <= box.pad_top <= size - box.resized_h
    assert abs((size - box.resized_w) - 2 * box.pad_left) <= 1
    rng = np.random.default_rng(width * height)
    xy1 = rng.uniform(0, [width * 0.8, height * 0.8], size=(20, 2))
    xy2 = xy1 + rng.uniform(1, [width * 0.2, height * 0.2], size=(20, 2))
    xyxy = np.concatenate([xy1, xy2], axis=1).astype(np.float32)
    inside = box.to_input(xyxy)
    assert (inside >= 0).all() and (inside <= size).all()
    np.testing.assert_allclose(box.to_frame(inside), xyxy, atol=1e-2)


def test_letterbox_to_frame_clips() -> None:
    """Boxes reaching into the padding are clipped to the frame."""
    box = Letterbox.fit(640, 480, 640)  # 80 px grey bars top and bottom
    out = box.to_frame(np.array([[-5, 0, 700, 640]], np.float32))
    np.testing.assert_allclose(out, [[0, 0, 640, 480]])


def test_letterbox_rejects_empty_frame() -> None:
    """A zero-size frame is a ValueError naming the sizes."""
    with pytest.raises(ValueError, match="frame 0x10"):
        Letterbox.fit(0, 10, 640)


@pytest.mark.parametrize(
    ("frame_wh", "size", "border", "canvas_wh", "pad_lt"),
    [
        ((1920, 1080), 640, 0, (640, 384), (0, 12)),
        ((1920, 1080), 640, 32, (704, 448), (32, 44)),
        ((640, 480), 640, 0, (640, 480), (0, 0)),
        ((100, 1000), 320, 0, (32, 320), (0, 0)),
    ],
)
def test_letterbox_fit_rect(
    frame_wh: tuple[int, int],
    size: int,
    border: int,
    canvas_wh: tuple[int, int],
    pad_lt: tuple[int, int],
) -> None:
    """fit_rect keeps the square's scale and centres the frame on the smallest aligned canvas."""
    box = Letterbox.fit_rect(*frame_wh, size, stride=32, border=border)
    square = Letterbox.fit(*frame_wh, size)
    assert (box.canvas_w, box.canvas_h) == canvas_wh
    assert (box.pad_left, box.pad_top) == pad_lt
    assert (box.scale, box.resized_w, box.resized_h) == (
        square.scale,
        square.resized_w,
        square.resized_h,
    )
    xyxy = np.array([[10.0, 20.0, 50.0, 60.0]], np.float32)
    np.testing.assert_allclose(box.to_frame(box.to_input(xyxy)), xyxy, atol=1e-3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"canvas": (320, 640)},
            r"canvas: expected at least the scaled frame 640x480 px, got 320x640",
        ),
    ],
)
def test_letterbox_rejects_small_canvas(kwargs: dict, message: str) -> None:
    """A canvas smaller than the scaled frame is refused with both sizes in the message."""
    with pytest.raises(ValueError, match=message):
        Letterbox.fit(640, 480, 640, **kwargs)


def test_letterbox_fit_rect_rejects_negative_border() -> None:
    """A negative border is a ValueError."""
    with pytest.raises(ValueError, match=r"border: expected >= 0 px, got -1"):
        Letterbox.fit_rect(640, 480, 640, border=-1)

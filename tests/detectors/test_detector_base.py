"""Detections: validation messages, empty, filter, supervision adapter."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.base import Detections, Detector

NAMES = ("car", "bus")


def make(n: int = 2, **overrides: object) -> Detections:
    fields = {
        "xyxy": np.array([[0, 0, 10, 10], [5, 5, 20, 30]], dtype=np.float32)[:n],
        "confidence": np.array([0.9, 0.4], dtype=np.float32)[:n],
        "class_id": np.array([0, 1], dtype=np.int32)[:n],
        "class_names": NAMES,
    }
    fields.update(overrides)
    return Detections(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"xyxy": np.zeros((2, 5), np.float32)},
            r"xyxy: expected \(N, 4\) float32 array, got shape \(2, 5\)",
        ),
        (
            {"xyxy": np.zeros((2, 4), np.float64)},
            r"xyxy: expected \(N, 4\) float32 array, got shape \(2, 4\) dtype float64",
        ),
        ({"xyxy": [[0, 0, 1, 1]] * 2}, r"xyxy: expected \(N, 4\) float32 array, got list"),
        (
            {"confidence": np.zeros(3, np.float32)},
            r"confidence: expected \(2,\) float32 array to match xyxy, got shape \(3,\)",
        ),
        (
            {"class_id": np.zeros(2, np.int64)},
            r"class_id: expected \(2,\) int32 array to match xyxy, got shape \(2,\) dtype int64",
        ),
        ({"class_id": np.array([0, 2], np.int32)}, r"class_id: expected indices in \[0, 2\)"),
        (
            {"confidence": np.array([0.5, 1.5], np.float32)},
            r"confidence: expected values in \[0, 1\]",
        ),
        ({"xyxy": np.array([[10, 0, 0, 10], [0, 0, 1, 1]], np.float32)}, r"x1 <= x2"),
        ({"xyxy": np.array([[0, 0, np.nan, 10], [0, 0, 1, 1]], np.float32)}, r"finite"),
        ({"class_names": ["car", "bus"]}, r"class_names: expected a tuple of str"),
    ],
)
def test_detections_rejects_bad_fields(overrides: dict, message: str) -> None:
    """Each malformed field raises ValueError saying what was expected and what came."""
    with pytest.raises(ValueError, match=message):
        make(**overrides)


def test_empty_has_no_boxes_and_keeps_names() -> None:
    """Detections.empty gives zero rows of the right dtypes and the vocabulary."""
    det = Detections.empty(["car"])
    assert len(det) == 0
    assert det.xyxy.shape == (0, 4) and det.xyxy.dtype == np.float32
    assert det.class_names == ("car",)


def test_filter_by_mask_and_by_index() -> None:
    """filter keeps the selected rows in both bool-mask and index form."""
    det = make()
    assert det.filter(np.array([False, True])).class_name(0) == "bus"
    assert len(det.filter(np.array([], dtype=np.int64))) == 0
    with pytest.raises(ValueError, match=r"mask: expected \(2,\) bool array"):
        det.filter(np.array([True]))


def test_to_supervision_carries_class_names() -> None:
    """to_supervision copies boxes, scores, ids and puts names in data['class_name']."""
    sv_det = make().to_supervision()
    assert list(sv_det.data["class_name"]) == ["car", "bus"]
    np.testing.assert_array_equal(sv_det.class_id, [0, 1])
    assert len(Detections.empty(NAMES).to_supervision()) == 0


def test_frozen() -> None:
    """Detections cannot be reassigned after construction."""
    with pytest.raises(AttributeError):
        make().class_names = ("x",)  # type: ignore[misc]


def test_protocol_is_structural() -> None:
    """Any object with class_names and detect() satisfies Detector."""

    class Fake:
        class_names = NAMES

        def detect(self, frames):  # noqa: ANN001, ANN202
            return [Detections.empty(NAMES) for _ in frames]

    assert isinstance(Fake(), Detector)

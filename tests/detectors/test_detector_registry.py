"""Detector registry: lazy table, bad-name message with did-you-mean."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from detectors.base import ModelFileError
from detectors.registry import DETECTORS, create_detector, detector_names


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "onx",
            r"unknown detector 'onx': expected one of \['motion', 'onnx', 'ultralytics'\]; "
            r"did you mean 'onnx'\?",
        ),
        (
            "yolo-gpu-xyz",
            r"unknown detector 'yolo-gpu-xyz': expected one of \['motion', 'onnx', 'ultralytics'\]$",
        ),
        ("motio", r"did you mean 'motion'\?"),
        ("", r"unknown detector '': expected one of"),
    ],
)
def test_unknown_name_lists_valid_names(name: str, message: str) -> None:
    """A bad name raises ValueError naming it, listing valid names, with a hint when close."""
    with pytest.raises(ValueError, match=message):
        create_detector(name)


def test_every_entry_resolves_to_a_class() -> None:
    """Each table entry is an importable 'module:Class'."""
    from detectors.registry import resolve_detector_class

    for name in detector_names():
        assert isinstance(resolve_detector_class(name), type), DETECTORS[name]


def test_create_passes_options_through(tmp_path: Path) -> None:
    """Options reach the backend: a missing model path surfaces as the backend's error."""
    missing = tmp_path / "nope.onnx"
    with pytest.raises(ModelFileError, match="nope.onnx"):
        create_detector("onnx", model_path=missing)


def test_import_is_lazy() -> None:
    """Importing the registry imports no backend (nor onnxruntime)."""
    code = (
        "import sys, detectors.registry; "
        "print('onnxruntime' in sys.modules, 'detectors.onnx_yolo' in sys.modules, "
        "'ultralytics' in sys.modules, 'torch' in sys.modules)"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["False"] * 4

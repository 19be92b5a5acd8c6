"""Detector backends by name: an explicit table ``name -> "module:Class"``, imported lazily.

Importing this module imports no backend, so choosing ``motion`` never loads onnxruntime.
"""

from __future__ import annotations

import difflib
import importlib
from typing import Any

from detectors.base import Detector

#: Every implemented backend. Add a line here when a backend lands; nothing registers itself.
DETECTORS: dict[str, str] = {
    "onnx": "detectors.onnx_yolo:OnnxYoloDetector",
    "motion": "detectors.motion:MotionDetector",
    "ultralytics": "detectors.ultralytics_yolo:UltralyticsDetector",
}


def detector_names() -> list[str]:
    """The registered backend names, sorted."""
    return sorted(DETECTORS)


def resolve_detector_class(name: str) -> type:
    """The class registered as ``name``.

    Raises:
        ValueError: ``name`` is not registered; the message lists valid names and the closest one.
    """
    target = DETECTORS.get(name) if isinstance(name, str) else None
    if target is None:
        valid = detector_names()
        close = difflib.get_close_matches(str(name), valid, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown detector {name!r}: expected one of {valid}{hint}")
    module_name, _, class_name = target.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def create_detector(name: str, **options: Any) -> Detector:
    """Build the detector registered as ``name`` with backend-specific keyword ``options``.

    Example:
        ``create_detector("onnx", model_path=DEFAULT_VEHICLE_MODEL, conf_threshold=0.3)``

    Raises:
        ValueError: unknown ``name`` (with a did-you-mean) or a bad option value.
        TypeError: an option the backend does not take.
    """
    return resolve_detector_class(name)(**options)

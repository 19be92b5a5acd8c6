"""Detector backends by name: an explicit table ``name -> "module:Class"``, imported lazily.

Importing this module imports no backend, so choosing ``motion`` never loads onnxruntime.
"""

from __future__ import annotations

from typing import Any

from detectors.base import Detector
from safecity.plugins import LazyRegistry

#: Every implemented backend. Add a line here when a backend lands; nothing registers itself.
DETECTORS: dict[str, str] = {
    "onnx": "detectors.onnx_yolo:OnnxYoloDetector",
    "motion": "detectors.motion:MotionDetector",
    "ultralytics": "detectors.ultralytics_yolo:UltralyticsDetector",
}

_REGISTRY = LazyRegistry("detector", DETECTORS)


def detector_names() -> list[str]:
    """The registered backend names, sorted."""
    return _REGISTRY.names()


def resolve_detector_class(name: str) -> type:
    """The class registered as ``name``.

    Raises:
        ValueError: ``name`` is not registered; the message lists valid names and the closest one.
    """
    return _REGISTRY.resolve(name)


def create_detector(name: str, **options: Any) -> Detector:
    """Build the detector registered as ``name`` with backend-specific keyword ``options``.

    Example:
        ``create_detector("onnx", model_path=COCO_VEHICLE_MODEL, conf_threshold=0.3)``

    Raises:
        ValueError: unknown ``name`` (with a did-you-mean) or a bad option value.
        TypeError: an option the backend does not take.
    """
    return resolve_detector_class(name)(**options)

"""Where the project's committed model files live (resolved from the package, not the cwd)."""

from __future__ import annotations

from pathlib import Path

#: ``<repo>/models``: committed ONNX models and their model cards.
MODELS_DIR = Path(__file__).resolve().parents[1] / "models"

#: COCO-pretrained YOLOv5n (v6.1) exported by :mod:`detectors.export_yolov5`; see its model card
#: ``models/vehicles-yolov5n-coco.md`` for data, figures and licence (AGPL-3.0).
DEFAULT_VEHICLE_MODEL = MODELS_DIR / "vehicles-yolov5n-coco.onnx"

#: The same network with int8 weights and activations (``python -m detectors.quantize``): 1.6x
#: the detector frames per CPU second, opt-in (``--model``); measured trade-off in the model card
#: and ``docs/performance.md``.
INT8_VEHICLE_MODEL = MODELS_DIR / "vehicles-yolov5n-coco-int8.onnx"

"""The YOLOv5 checkpoint exporter: torch stays optional, the export reproduces the committed model."""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from detectors.models import COCO_VEHICLE_MODEL

ROOT = Path(__file__).resolve().parents[2]
CHECKPOINT = ROOT.parent / "shared" / "models" / "yolov5n_coco.pt"


def test_exporter_imports_without_torch() -> None:
    """Importing the exporter (and the runtime) does not import torch; only exporting needs it."""
    code = "import sys, detectors.export_yolov5, detectors.onnx_yolo; print('torch' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_restricted_unpickler_refuses_foreign_globals() -> None:
    """The checkpoint unpickler refuses any global outside its allow-list (no code execution)."""
    pytest.importorskip("torch")
    from detectors.export_yolov5 import _restricted_pickle_module

    unpickler = _restricted_pickle_module().Unpickler(io.BytesIO(pickle.dumps(os.getcwd)))
    with pytest.raises(pickle.UnpicklingError, match="refusing to load global"):
        unpickler.load()


@pytest.mark.shared_data
@pytest.mark.skipif(not CHECKPOINT.is_file(), reason=f"checkpoint not found at {CHECKPOINT}")
def test_export_matches_committed_model(tmp_path: Path) -> None:
    """Re-exporting the checkpoint gives a model with the committed model's outputs."""
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    import onnxruntime as ort

    from detectors.export_yolov5 import export_coco_yolov5n

    out = export_coco_yolov5n(CHECKPOINT, tmp_path / "m.onnx")
    fresh = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    committed = ort.InferenceSession(str(COCO_VEHICLE_MODEL), providers=["CPUExecutionProvider"])
    for height, width in [(640, 640), (384, 640)]:
        batch = np.random.default_rng(1).random((1, 3, height, width), dtype=np.float32)
        np.testing.assert_allclose(
            fresh.run(None, {"images": batch})[0],
            committed.run(None, {"images": batch})[0],
            rtol=1e-4,
            atol=1e-3,
        )


@pytest.mark.shared_data
@pytest.mark.skipif(not CHECKPOINT.is_file(), reason=f"checkpoint not found at {CHECKPOINT}")
def test_static_export_equals_dynamic_at_640(tmp_path: Path) -> None:
    """--static-hw gives a fixed 640x640 input with the same outputs as the dynamic graph."""
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    import onnxruntime as ort

    from detectors.export_yolov5 import export_coco_yolov5n

    out = export_coco_yolov5n(CHECKPOINT, tmp_path / "static.onnx", dynamic_hw=False)
    static = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert static.get_inputs()[0].shape[1:] == [3, 640, 640]
    assert static.get_outputs()[0].shape[1:] == [25200, 85]
    batch = np.random.default_rng(2).random((2, 3, 640, 640), dtype=np.float32)
    dynamic = ort.InferenceSession(str(COCO_VEHICLE_MODEL), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(
        static.run(None, {"images": batch})[0],
        dynamic.run(None, {"images": batch})[0],
        rtol=1e-4,
        atol=1e-3,
    )

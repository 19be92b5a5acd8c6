"""Rebuild the ultralytics checkpoint of a committed ultralytics-exported ONNX model.

The GPU backend (:mod:`detectors.ultralytics_yolo`: CUDA, FP16, TensorRT) loads ``.pt``
checkpoints; the repository commits ONNX only (one file per model, the same weights for every
backend). An ultralytics ONNX export keeps every fused parameter under its module's name
(``model.0.conv.weight``, ``model.0.conv.bias``, ...) and records the architecture's family,
class names and image size in its metadata, so the checkpoint is rebuilt exactly:

1. build the architecture from ultralytics' own YAML (``yolov5nu.yaml`` for
   ``models/vehicles-yolov5nu-ft.onnx``) with the ONNX model's number of classes;
2. fuse it (Conv + BatchNorm into one Conv with a bias, as the export did);
3. load every ONNX initializer by name, refusing any missing, extra or mis-shaped tensor;
4. check that the rebuilt model's raw output equals onnxruntime's on the same input (max
   absolute difference reported; refused above ``tolerance``);
5. save it as an ultralytics checkpoint (``{"model": ..., "train_args": ...}``).

Needs torch and ultralytics (``.venv-train``, or a CUDA machine's torch)::

    python -m detectors.pt_from_onnx models/vehicles-yolov5nu-ft.onnx /tmp/vehicles-yolov5nu-ft.pt
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

import numpy as np

from detectors.base import ModelFileError

#: ultralytics model description of each ONNX ``description`` family we rebuild.
ARCHITECTURES = {"YOLOv5nu": "yolov5nu.yaml", "YOLOv8n": "yolov8n.yaml"}


def _metadata(onnx_model) -> dict[str, str]:
    return {p.key: p.value for p in onnx_model.metadata_props}


def architecture_of(meta: dict[str, str], path: Path) -> str:
    """The ultralytics YAML for an export's ``description`` ("Ultralytics YOLOv5nu model ...")."""
    desc = meta.get("description", "")
    for family, yaml_name in ARCHITECTURES.items():
        if f"Ultralytics {family} model" in desc:
            return yaml_name
    raise ModelFileError(
        f"{path}: not an ultralytics export of a known architecture (description {desc[:80]!r}; "
        f"known: {', '.join(ARCHITECTURES)})"
    )


def rebuild(onnx_path: Path, tolerance: float = 1e-3, seed: int = 0):
    """The fused ultralytics ``DetectionModel`` holding the ONNX model's weights, and the check.

    Returns (model, max_abs_difference against onnxruntime on one random 640x640 input).

    Raises:
        ModelFileError: not a known ultralytics export, a tensor missing/extra/mis-shaped, or the
            outputs differ by more than ``tolerance``.
    """
    from detectors.ultralytics_yolo import prepare_offline_env

    prepare_offline_env()  # before ultralytics is imported: no network, a local font
    import onnx
    import onnxruntime as ort
    import torch
    from onnx import numpy_helper
    from ultralytics.nn.tasks import DetectionModel

    onnx_path = Path(onnx_path)
    proto = onnx.load(str(onnx_path))
    meta = _metadata(proto)
    names = ast.literal_eval(meta.get("names", "{}"))
    if not names:
        raise ModelFileError(f"{onnx_path}: no class names in the ONNX metadata")
    model = DetectionModel(architecture_of(meta, onnx_path), nc=len(names), verbose=False)
    model.names = names
    model.eval()
    model.fuse(verbose=False)
    state = model.state_dict()
    weights = {init.name: numpy_helper.to_array(init) for init in proto.graph.initializer}
    missing = sorted(k for k in state if k not in weights)
    extra = sorted(k for k in weights if k not in state)
    if missing or extra:
        raise ModelFileError(f"{onnx_path}: tensors missing {missing[:5]} / not in the architecture {extra[:5]}")
    for key, value in weights.items():
        if tuple(state[key].shape) != value.shape:
            raise ModelFileError(f"{onnx_path}: {key} has shape {value.shape}, the architecture {tuple(state[key].shape)}")
    model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in weights.items()}, strict=False)
    stride = int(meta.get("stride", "32"))
    model.stride = torch.tensor([8.0, 16.0, 32.0]) if stride == 32 else model.stride

    x = np.random.default_rng(seed).random((1, 3, 640, 640), dtype=np.float32)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    ref = session.run(None, {session.get_inputs()[0].name: x})[0]
    with torch.no_grad():
        out = model(torch.from_numpy(x))
    out = (out[0] if isinstance(out, (list, tuple)) else out).numpy()
    if out.shape != ref.shape:
        raise ModelFileError(f"{onnx_path}: rebuilt output shape {out.shape}, ONNX {ref.shape}")
    diff = float(np.max(np.abs(out - ref)))
    if diff > tolerance:
        raise ModelFileError(f"{onnx_path}: rebuilt model differs from the ONNX by {diff:.3g} (> {tolerance})")
    return model, diff


def save_checkpoint(model, out: Path, source: Path, imgsz: int = 640) -> None:
    """An ultralytics checkpoint ``YOLO(out)`` loads, recording the ONNX it came from."""
    import torch

    out.parent.mkdir(parents=True, exist_ok=True)
    args = {"task": "detect", "imgsz": imgsz, "model": str(source.name)}
    model.args = args
    torch.save({"model": model, "train_args": args, "date": None, "version": "rebuilt from " + source.name}, out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("onnx", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--tolerance", type=float, default=1e-3)
    args = parser.parse_args(argv)
    if not args.onnx.is_file():
        print(f"error: {args.onnx}: no such file", file=sys.stderr)
        return 2
    try:
        model, diff = rebuild(args.onnx, args.tolerance)
    except ModelFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    save_checkpoint(model, args.out, args.onnx)
    print(f"{args.out}: rebuilt from {args.onnx}, max |output - onnxruntime| = {diff:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

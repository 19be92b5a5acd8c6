"""Export the YOLOv8n licence-plate checkpoint to the project's decoded-YOLO ONNX contract.

The checkpoint (``plate_detector_yolov8n.pt``, ultralytics 8.0.112 format, one class
``license_plate``) is loaded with ultralytics, BatchNorm is fused, and the network is wrapped so
its output follows the same contract as the vehicle model (:mod:`detectors.export_yolov5`):

    input ``images``: float32 [N, 3, H, W] RGB 0..1, letterboxed; N, H and W dynamic
        (H and W multiples of 32), so plates can be searched at 320 px on vehicle crops and
        at 640 px on whole frames.
    output ``output``: float32 [N, A, 5 + nc]: cx, cy, w, h (input px), objectness, nc class
        scores. YOLOv8 is anchor-free and has no objectness, so objectness is the best class
        score and the class columns are the class scores divided by it (obj x cls = the
        YOLOv8 class score, which is what :func:`detectors.onnx_yolo.decode_predictions`
        computes).
    metadata_props: ``names`` (JSON list), ``imgsz``, ``stride``, ``strides``, ``format``,
        ``source`` (sha256 of the checkpoint), ``source_file``, ``exporter``, ``licence``.

Needs PyTorch, ultralytics and onnx (``.venv-train``); the runtime never does. ultralytics
phones home unless told not to, so :func:`main` sets ``YOLO_OFFLINE`` and friends before
importing it.

Usage:
    YOLO_CONFIG_DIR=/path/with/Ultralytics/Arial.ttf .venv-train/bin/python -m \
        plates.export_plate_detector --checkpoint ../shared/models/plate_detector_yolov8n.pt \
        --out models/plates-yolov8n.onnx
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from safecity.digests import file_sha256

logger = logging.getLogger(__name__)

OPSET = 17
IMGSZ = 640
OUTPUT_FORMAT = "yolov5-v6-decoded"


def _offline_ultralytics() -> None:
    """Keep ultralytics from downloading fonts, checking versions or sending telemetry."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "False")
    os.environ.setdefault("YOLO_VERBOSE", "False")


def export(checkpoint: Path, out: Path) -> Path:
    """Export ``checkpoint`` to ``out`` and check onnxruntime against PyTorch.

    Raises:
        FileNotFoundError: no checkpoint.
        ValueError: onnxruntime and PyTorch disagree (max abs error over 1e-3 px/score).
    """
    _offline_ultralytics()
    import numpy as np
    import onnx
    import onnxruntime as ort
    import torch
    from ultralytics import YOLO

    if not checkpoint.is_file():
        raise FileNotFoundError(f"checkpoint not found: {checkpoint}")
    yolo = YOLO(str(checkpoint))
    model = yolo.model.float().eval().fuse(verbose=False)
    names_map = model.names
    names = [names_map[k] for k in sorted(names_map)] if isinstance(names_map, dict) else list(names_map)
    head = model.model[-1]
    head.dynamic = True  # rebuild anchors from the traced feature-map shapes: H, W stay dynamic
    head.export = True
    head.format = "onnx"
    strides = [float(s) for s in head.stride.tolist()]

    class _Decoded(torch.nn.Module):
        def __init__(self, net: torch.nn.Module) -> None:
            super().__init__()
            self.net = net

        def forward(self, images: torch.Tensor) -> torch.Tensor:
            y = self.net(images)
            if isinstance(y, (list, tuple)):
                y = y[0]
            y = y.transpose(1, 2)  # [N, 4 + nc, A] -> [N, A, 4 + nc]
            box, cls = y[..., :4], y[..., 4:]
            obj = cls.amax(dim=-1, keepdim=True)
            return torch.cat([box, obj, cls / obj.clamp(min=1e-9)], dim=-1)

    wrapped = _Decoded(model).eval()
    dummy = torch.rand(1, 3, IMGSZ, IMGSZ)
    out.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(
            wrapped,
            (dummy,),
            str(out),
            input_names=["images"],
            output_names=["output"],
            opset_version=OPSET,
            dynamic_axes={"images": {0: "batch", 2: "height", 3: "width"}, "output": {0: "batch", 1: "anchors"}},
            dynamo=False,
        )
    proto = onnx.load(str(out))
    metadata = {
        "names": json.dumps(names),
        "imgsz": str(IMGSZ),
        "stride": str(int(max(strides))),
        "strides": json.dumps(strides),
        "format": OUTPUT_FORMAT,
        "source": file_sha256(checkpoint),
        "source_file": checkpoint.name,
        "exporter": f"plates.export_plate_detector torch {torch.__version__} onnx {onnx.__version__}",
        "licence": "AGPL-3.0 (trained with ultralytics); MIT as declared by pyplatex",
    }
    del proto.metadata_props[:]
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.doc_string = "YOLOv8n licence plates, decoded output [N, A, 5+nc]; see metadata_props"
    onnx.checker.check_model(proto)
    onnx.save(proto, str(out))

    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    for size in (320, 640):
        batch = torch.rand(2, 3, size, size)
        with torch.no_grad():
            expected = wrapped(batch).numpy()
        (got,) = session.run(None, {"images": batch.numpy()})
        if got.shape != expected.shape:
            raise ValueError(f"shape mismatch at {size} px: onnx {got.shape} torch {expected.shape}")

        # Compare what the runtime uses: boxes and obj x cls (cls / obj alone is ill-defined
        # where every class score underflows to ~0).
        def used(rows: np.ndarray) -> np.ndarray:
            return np.concatenate([rows[..., :4], rows[..., 4:5] * rows[..., 5:]], axis=-1)

        err = float(np.abs(used(got) - used(expected)).max())
        logger.info("checked size=%d max_abs_error=%.2e", size, err)
        if err > 1e-3:
            raise ValueError(f"onnxruntime and PyTorch disagree at {size} px: max abs error {err}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("models/plates-yolov8n.onnx"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    path = export(args.checkpoint, args.out)
    logger.info("wrote %s sha256=%s bytes=%d", path, file_sha256(path), path.stat().st_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())

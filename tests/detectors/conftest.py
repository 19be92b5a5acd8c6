"""Fixtures of the detector tests: tiny ONNX models with the YOLOv5 decoded-output contract."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

COCO80 = [f"class{i}" for i in range(80)]
for _i, _name in {
    0: "person",
    2: "car",
    3: "motorcycle",
    5: "bus",
    7: "truck",
    9: "traffic light",
}.items():
    COCO80[_i] = _name


def write_tiny_yolo_onnx(
    path: Path,
    static_size: int | None = None,
    anchor_free: bool = False,
    row: dict[int, float] | None = None,
) -> Path:
    """Write a 1-layer model with the YOLOv5 (or ultralytics) output contract.

    A 1x1 convolution with zero weights at stride 32 gives one row per 32 px cell, equal to the
    conv bias: all zeros (never detects) unless ``row`` sets columns, e.g. ``{0: cx, 1: cy, 2: w,
    3: h, 4: obj, 7: car score}``, in which case every cell predicts that same box.

    Args:
        static_size: fix H = W px; None leaves them dynamic.
        anchor_free: ultralytics layout: output [N, 4 + 80, A], ``task`` metadata, names as a
            Python dict literal; else YOLOv5 [N, A, 85] with JSON names.
    """
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    cols = 84 if anchor_free else 85
    h = w = static_size if static_size else None
    in_shape = ["batch", 3, h or "height", w or "width"]
    anchors = (h // 32) * (w // 32) if h and w else "anchors"
    bias = np.zeros(cols, np.float32)
    for column, value in (row or {}).items():
        bias[column] = value
    weight = numpy_helper.from_array(np.zeros((cols, 3, 1, 1), np.float32), "w")
    bias_init = numpy_helper.from_array(bias, "b")
    shape = numpy_helper.from_array(np.array([0, cols, -1], np.int64), "shape")
    nodes = [
        helper.make_node(
            "Conv", ["images", "w", "b"], ["c"], kernel_shape=[1, 1], strides=[32, 32]
        ),
        helper.make_node("Reshape", ["c", "shape"], ["r" if not anchor_free else "output"]),
    ]
    if not anchor_free:
        nodes.append(helper.make_node("Transpose", ["r"], ["output"], perm=[0, 2, 1]))
    out_shape = ["batch", cols, anchors] if anchor_free else ["batch", anchors, cols]
    graph = helper.make_graph(
        nodes,
        "tiny_yolo",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, out_shape)],
        initializer=[weight, bias_init, shape],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    meta = {"stride": "32", "imgsz": str(static_size or 640)}
    if anchor_free:
        meta |= {"task": "detect", "names": str(dict(enumerate(COCO80)))}
    else:
        meta |= {"names": json.dumps(COCO80)}
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="session")
def tiny_yolo_onnx(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Factory: ``tiny_yolo_onnx(static_size=None, anchor_free=False, row=None)`` -> model path."""
    folder = tmp_path_factory.mktemp("tiny_models")

    def make(
        static_size: int | None = None,
        anchor_free: bool = False,
        row: dict[int, float] | None = None,
    ) -> Path:
        name = f"tiny-{static_size or 'dynamic'}-{'af' if anchor_free else 'v5'}-{abs(hash(str(row)))}.onnx"
        return write_tiny_yolo_onnx(folder / name, static_size, anchor_free, row)

    return make

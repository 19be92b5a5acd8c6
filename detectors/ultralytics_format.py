"""Rewrite our YOLOv5 decoded-output ONNX into the layout ultralytics reads, same weights.

ultralytics' detection post-processing expects ``[N, 4 + nc, A]``: cx, cy, w, h, then one score
per class, no objectness (the YOLOv8 head). Our models output ``[N, A, 5 + nc]`` with objectness.
YOLOv5's own NMS scores class k as objectness x class k, so appending
``concat(boxes, obj * cls)`` and a transpose to the graph gives ultralytics exactly the scores
our runtime uses. The benchmark's naive baseline runs the committed model this way, so that it
and our pipeline spend the same network cost.

Needs the ``onnx`` package (training/bench environment), not the runtime.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path


def to_ultralytics_onnx(src: Path, dst: Path, imgsz: int = 640) -> Path:
    """Write ``dst``: the model ``src`` with its output rearranged for ultralytics.

    A model already in ultralytics' layout (metadata ``task: detect``, as ultralytics' own export
    and the committed fine-tuned model) is copied unchanged.

    Args:
        src: ONNX of :mod:`detectors.export_yolov5` (output ``[N, A, 5 + nc]``, ``names``
            metadata), or an ultralytics export.
        dst: where to write; parent folders are created.
        imgsz: the square size ultralytics letterboxes to (its metadata ``imgsz``).

    Returns:
        ``dst``.

    Raises:
        ValueError: ``src`` does not have the expected output or metadata.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    import numpy as np

    model = onnx.load(str(src))
    graph = model.graph
    meta = {p.key: p.value for p in model.metadata_props}
    if meta.get("task") == "detect":
        Path(dst).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        return Path(dst)
    if "names" not in meta or len(graph.output) != 1:
        raise ValueError(
            f"{src}: expected one output and 'names' metadata (a detectors.export_yolov5 model)"
        )
    names = json.loads(meta["names"])
    nc = len(names)
    source = graph.output[0].name

    def const(name: str, values: list[int]) -> str:
        graph.initializer.append(numpy_helper.from_array(np.array(values, np.int64), name))
        return name

    starts_box, ends_box = const("ul_s0", [0]), const("ul_e4", [4])
    starts_obj, ends_obj = const("ul_s4", [4]), const("ul_e5", [5])
    starts_cls, ends_cls = const("ul_s5", [5]), const("ul_end", [5 + nc])
    axis = const("ul_axis2", [2])
    graph.node.extend(
        [
            helper.make_node("Slice", [source, starts_box, ends_box, axis], ["ul_boxes"]),
            helper.make_node("Slice", [source, starts_obj, ends_obj, axis], ["ul_obj"]),
            helper.make_node("Slice", [source, starts_cls, ends_cls, axis], ["ul_cls"]),
            helper.make_node("Mul", ["ul_cls", "ul_obj"], ["ul_scores"]),
            helper.make_node("Concat", ["ul_boxes", "ul_scores"], ["ul_cat"], axis=2),
            helper.make_node("Transpose", ["ul_cat"], ["output0"], perm=[0, 2, 1]),
        ]
    )
    del graph.output[:]
    graph.output.append(
        helper.make_tensor_value_info("output0", TensorProto.FLOAT, ["batch", 4 + nc, "anchors"])
    )
    ultralytics_meta = {
        "description": f"{Path(src).name} rearranged for ultralytics (scores = objectness x class)",
        "task": "detect",
        "stride": meta.get("stride", "32"),
        "batch": "1",
        "imgsz": str([imgsz, imgsz]),
        "names": str({i: n for i, n in enumerate(names)}),
        "args": str({"dynamic": False, "nms": False}),
    }
    del model.metadata_props[:]
    for key, value in ultralytics_meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    dst.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(dst))
    return dst

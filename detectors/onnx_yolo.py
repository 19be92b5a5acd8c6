"""YOLOv5 (decoded-output ONNX) detector run through onnxruntime; no PyTorch.

The model contract is the one :mod:`detectors.export_yolov5` writes: input ``images`` float32
[N, 3, S, S] RGB 0..1, output [N, A, 5 + nc] rows of cx, cy, w, h (input px), objectness and nc
class scores after sigmoid, class names as JSON in the ``names`` metadata.
"""

from __future__ import annotations

import difflib
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from detectors.base import Detections, ModelFileError
from detectors.boxes import Letterbox, nms

logger = logging.getLogger(__name__)

#: Class names this project's pipeline understands (COCO spelling); a detector outputs a subset.
VOCABULARY: tuple[str, ...] = ("car", "bus", "truck", "motorcycle", "person", "traffic light")
DEFAULT_CLASSES: tuple[str, ...] = ("car", "bus", "truck", "motorcycle")
#: Grey YOLOv5 pads letterboxed frames with; the network was trained on it.
PAD_VALUE = 114
#: Most boxes kept per frame after NMS (YOLOv5's default).
MAX_DETECTIONS = 300


def letterbox(frame: np.ndarray, size: int) -> tuple[np.ndarray, Letterbox]:
    """Fit a frame into a ``size`` x ``size`` square, keeping aspect, padding with grey 114.

    Args:
        frame: (H, W, 3) uint8 image.
        size: network input side px.

    Returns:
        The (size, size, 3) uint8 canvas (same channel order as ``frame``) and the transform.
    """
    height, width = frame.shape[:2]
    box = Letterbox.fit(width, height, size)
    if (box.resized_w, box.resized_h) != (width, height):
        interpolation = cv2.INTER_AREA if box.scale < 1 else cv2.INTER_LINEAR
        resized = cv2.resize(frame, (box.resized_w, box.resized_h), interpolation=interpolation)
    else:
        resized = frame
    canvas = np.full((size, size, 3), PAD_VALUE, dtype=np.uint8)
    canvas[
        box.pad_top : box.pad_top + box.resized_h, box.pad_left : box.pad_left + box.resized_w
    ] = resized
    return canvas, box


def decode_predictions(
    rows: np.ndarray,
    class_columns: np.ndarray,
    conf_threshold: float,
    iou_threshold: float,
    max_detections: int = MAX_DETECTIONS,
    agnostic: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Turn one image's decoded YOLOv5 rows into kept boxes.

    Each row's score for class k is objectness x class score (YOLOv5 ``non_max_suppression``).
    Only ``class_columns`` compete, so a box is labelled with the best class *we asked for*;
    boxes under ``conf_threshold`` are dropped, then class-aware NMS.

    Args:
        rows: (A, 5 + nc) float32: cx, cy, w, h px, objectness, nc class scores.
        class_columns: (K,) indices of the wanted classes among the nc model classes.
        conf_threshold: minimum obj x cls score kept.
        iou_threshold: NMS overlap threshold.
        max_detections: keep at most this many boxes.
        agnostic: suppress overlaps across classes too (one box per object: a vehicle is not
            both a car and a truck).

    Returns:
        xyxy (M, 4) float32 input px, confidence (M,) float32, class_index (M,) int32 index into
        ``class_columns``; highest confidence first.
    """
    # obj * cls <= obj, so rows under the threshold on objectness alone can go first (cheap).
    rows = rows[rows[:, 4] > conf_threshold]
    if rows.shape[0] == 0:
        return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), np.zeros((0,), np.int32)
    scores = rows[:, 5 + class_columns] * rows[:, 4:5]
    best = scores.argmax(axis=1)
    confidence = scores[np.arange(scores.shape[0]), best]
    keep = confidence > conf_threshold
    rows, best, confidence = rows[keep], best[keep], confidence[keep]
    half_wh = rows[:, 2:4] / 2
    xyxy = np.concatenate([rows[:, 0:2] - half_wh, rows[:, 0:2] + half_wh], axis=1)
    groups = np.zeros_like(best) if agnostic else best
    kept = nms(xyxy, confidence, groups, iou_threshold, max_detections)
    return (
        xyxy[kept].astype(np.float32),
        confidence[kept].astype(np.float32),
        best[kept].astype(np.int32),
    )


def default_providers() -> list[str]:
    """CUDA first when this onnxruntime build has it, then CPU."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    preferred = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return [p for p in preferred if p in available] or ["CPUExecutionProvider"]


def _check_classes(classes: Sequence[str], model_names: Sequence[str], model_path: Path) -> None:
    if isinstance(classes, str) or not classes:
        raise ValueError(f"classes: expected a non-empty sequence of class names, got {classes!r}")
    for name in classes:
        if name not in VOCABULARY:
            hint = difflib.get_close_matches(str(name), VOCABULARY, n=1)
            did_you_mean = f"; did you mean {hint[0]!r}?" if hint else ""
            raise ValueError(
                f"classes: unknown class {name!r}, expected some of {list(VOCABULARY)}{did_you_mean}"
            )
        if name not in model_names:
            raise ModelFileError(f"{model_path}: the model has no class {name!r}")
    if len(set(classes)) != len(classes):
        raise ValueError(f"classes: expected distinct names, got {list(classes)}")


class OnnxYoloDetector:
    """Vehicle (and person / traffic light) detector on a YOLOv5 ONNX model.

    Args:
        model_path: ONNX file written by :mod:`detectors.export_yolov5`.
        classes: output vocabulary, a subset of :data:`VOCABULARY`; ``class_id`` indexes it.
        conf_threshold: minimum objectness x class score, in (0, 1).
        iou_threshold: class-aware NMS overlap threshold, in (0, 1].
        input_size: network input side px; must match the model's ``imgsz`` when the model's
            input is fixed.
        providers: onnxruntime execution providers; default CUDA when available, then CPU.
        intra_op_threads: CPU threads per inference; None lets onnxruntime pick (all cores).
        agnostic_nms: NMS across classes, so one vehicle gets one box (the pipeline's setting).

    Raises:
        ModelFileError: ``model_path`` does not exist.
        ModelFileError: the file is not a usable YOLOv5 ONNX model (message names the path).
        ValueError: a bad option.
    """

    def __init__(
        self,
        model_path: Path,
        *,
        classes: Sequence[str] = DEFAULT_CLASSES,
        conf_threshold: float = 0.25,
        iou_threshold: float = 0.5,
        input_size: int = 640,
        providers: Sequence[str] | None = None,
        intra_op_threads: int | None = None,
        agnostic_nms: bool = False,
    ) -> None:
        import onnxruntime as ort
        from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors

        if not 0.0 < conf_threshold < 1.0:
            raise ValueError(f"conf_threshold: expected a value in (0, 1), got {conf_threshold}")
        if not 0.0 < iou_threshold <= 1.0:
            raise ValueError(f"iou_threshold: expected a value in (0, 1], got {iou_threshold}")
        if input_size <= 0 or input_size % 32:
            raise ValueError(f"input_size: expected a positive multiple of 32 px, got {input_size}")
        if intra_op_threads is not None and intra_op_threads < 1:
            raise ValueError(f"intra_op_threads: expected >= 1 or None, got {intra_op_threads}")

        self.model_path = Path(model_path)
        if not self.model_path.is_file():
            raise ModelFileError(f"detector model not found: {self.model_path}")
        options = ort.SessionOptions()
        if intra_op_threads is not None:
            options.intra_op_num_threads = intra_op_threads
        options.inter_op_num_threads = 1
        self.providers = list(providers) if providers is not None else default_providers()
        load_errors = (
            ort_errors.InvalidProtobuf,
            ort_errors.InvalidGraph,
            ort_errors.Fail,
            ort_errors.NoSuchFile,
            ort_errors.InvalidArgument,
            ort_errors.NotImplemented,
            ort_errors.RuntimeException,
        )
        try:
            self._session = ort.InferenceSession(
                str(self.model_path), sess_options=options, providers=self.providers
            )
        except load_errors as exc:
            raise ModelFileError(f"cannot load detector model {self.model_path}: {exc}") from exc

        self.model_names = self._read_names()
        self.input_size = self._check_io(input_size)
        _check_classes(classes, self.model_names, self.model_path)
        self.class_names: tuple[str, ...] = tuple(classes)
        self._class_columns = np.array([self.model_names.index(c) for c in classes], dtype=np.int64)
        self.conf_threshold = float(conf_threshold)
        self.iou_threshold = float(iou_threshold)
        self.agnostic_nms = bool(agnostic_nms)
        self._input_name = self._session.get_inputs()[0].name
        logger.info(
            "loaded detector model=%s providers=%s classes=%s input_size=%d",
            self.model_path,
            self._session.get_providers(),
            self.class_names,
            self.input_size,
        )

    def _read_names(self) -> tuple[str, ...]:
        meta = self._session.get_modelmeta().custom_metadata_map
        raw = meta.get("names")
        if raw is None:
            raise ModelFileError(f"{self.model_path}: no 'names' in the ONNX metadata")
        try:
            names = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ModelFileError(f"{self.model_path}: 'names' metadata is not JSON: {exc}") from exc
        if isinstance(names, dict):  # ultralytics style {"0": "person", ...}
            names = [names[k] for k in sorted(names, key=int)]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ModelFileError(f"{self.model_path}: 'names' metadata is not a list of names")
        return tuple(names)

    def _check_io(self, input_size: int) -> int:
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelFileError(
                f"{self.model_path}: expected 1 input and 1 output, got {len(inputs)} and {len(outputs)}"
            )
        shape = inputs[0].shape
        if len(shape) != 4 or shape[1] != 3:
            raise ModelFileError(f"{self.model_path}: expected input [N, 3, S, S], got {shape}")
        fixed = [d for d in shape[2:] if isinstance(d, int)]
        if fixed and any(d != input_size for d in fixed):
            raise ValueError(
                f"input_size: the model {self.model_path} takes {shape[2]}x{shape[3]} px, got {input_size}"
            )
        out_shape = outputs[0].shape
        if len(out_shape) != 3 or (
            isinstance(out_shape[2], int) and out_shape[2] != 5 + len(self.model_names)
        ):
            raise ModelFileError(
                f"{self.model_path}: expected output [N, A, {5 + len(self.model_names)}] "
                f"(decoded YOLOv5), got {out_shape}"
            )
        return input_size

    def preprocess(self, frames: Sequence[np.ndarray]) -> tuple[np.ndarray, list[Letterbox]]:
        """Letterbox BGR uint8 frames into one float32 [N, 3, S, S] RGB 0..1 batch."""
        batch = np.empty((len(frames), 3, self.input_size, self.input_size), dtype=np.float32)
        boxes: list[Letterbox] = []
        for i, frame in enumerate(frames):
            if not (
                isinstance(frame, np.ndarray)
                and frame.dtype == np.uint8
                and frame.ndim == 3
                and frame.shape[2] == 3
                and frame.shape[0] > 0
                and frame.shape[1] > 0
            ):
                got = (
                    f"shape {frame.shape} dtype {frame.dtype}"
                    if isinstance(frame, np.ndarray)
                    else type(frame).__name__
                )
                raise ValueError(f"frames[{i}]: expected (H, W, 3) uint8 BGR image, got {got}")
            canvas, box = letterbox(frame, self.input_size)
            # BGR HWC uint8 -> RGB CHW float 0..1, written in place (2.5x faster than slicing ::-1)
            rgb = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB)
            np.multiply(rgb.transpose(2, 0, 1), np.float32(1 / 255), out=batch[i], casting="unsafe")
            boxes.append(box)
        return batch, boxes

    def infer(self, batch: np.ndarray) -> np.ndarray:
        """Raw network output [N, A, 5 + nc] for a preprocessed [N, 3, S, S] batch."""
        (output,) = self._session.run(None, {self._input_name: batch})
        return output

    def detect(self, frames: Sequence[np.ndarray]) -> list[Detections]:
        """Detect in a batch of BGR uint8 frames with one onnxruntime call.

        Returns:
            One :class:`Detections` per frame, boxes in that frame's px, clipped to it.
        """
        if len(frames) == 0:
            return []
        batch, boxes = self.preprocess(frames)
        output = self.infer(batch)
        results = []
        for rows, box in zip(output, boxes, strict=True):
            xyxy, confidence, class_id = decode_predictions(
                rows, self._class_columns, self.conf_threshold, self.iou_threshold, agnostic=self.agnostic_nms
            )
            results.append(
                Detections(
                    xyxy=box.to_frame(xyxy),
                    confidence=confidence,
                    class_id=class_id,
                    class_names=self.class_names,
                )
            )
        return results

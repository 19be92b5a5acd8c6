"""Find licence plates in vehicle crops: the ONNX YOLOv8n plate model, Haar cascade as fallback.

The ONNX model (``models/plates-yolov8n.onnx``, see its model card) follows the decoded-YOLO
contract of :mod:`plates.export_plate_detector`: input ``images`` float32 [N, 3, H, W] RGB 0..1
letterboxed (H, W dynamic multiples of 32), output [N, A, 6] rows cx, cy, w, h (input px),
objectness, class score. OpenCV's ``haarcascade_russian_plate_number.xml`` is used only when
the model finds nothing: it is fast but fires on grilles and text.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from detectors.base import ModelFileError, check_bgr_image
from detectors.boxes import Letterbox, nms, stride_canvas
from detectors.onnx_yolo import letterbox
from detectors.models import MODELS_DIR
from plates.types import PlateBox

logger = logging.getLogger(__name__)

#: The committed plate model (exported by :mod:`plates.export_plate_detector`).
DEFAULT_PLATE_MODEL = MODELS_DIR / "plates-yolov8n.onnx"
#: The same network fine-tuned on openalpr US and generated KG plates (opt-in: better plate
#: finding on held-out photos, one exact read fewer end to end; ``models/plates-yolov8n-ft.md``).
FINETUNED_PLATE_MODEL = MODELS_DIR / "plates-yolov8n-ft.onnx"
#: Names ``--plate-model`` accepts besides a path (the file name with or without ``.onnx``).
KNOWN_PLATE_MODELS: dict[str, Path] = {p.stem: p for p in (DEFAULT_PLATE_MODEL, FINETUNED_PLATE_MODEL)}
HAAR_CASCADE = "haarcascade_russian_plate_number.xml"


@runtime_checkable
class PlateDetector(Protocol):
    """Finds plates in images (vehicle crops or whole frames)."""

    def detect(self, images: Sequence[np.ndarray]) -> list[list[PlateBox]]:
        """Plates in each BGR uint8 (H, W, 3) image, best first, boxes in that image's px."""
        ...


class OnnxPlateDetector:
    """YOLOv8n plate detector run through onnxruntime.

    Args:
        model_path: the ONNX file.
        input_size: longest side px the image is scaled to (multiple of 32); 320 suits vehicle
            crops (a plate is then >= ~40 px wide), 640 whole frames.
        conf_threshold: minimum plate score, in (0, 1).
        iou_threshold: NMS overlap threshold, in (0, 1].
        intra_op_threads: CPU threads per inference; None lets onnxruntime pick.

    Raises:
        ModelFileError: the file is missing, not ONNX, or not a one-class plate model.
        ValueError: a bad option.
    """

    def __init__(
        self,
        model_path: Path = DEFAULT_PLATE_MODEL,
        *,
        input_size: int = 640,
        conf_threshold: float = 0.25,
        iou_threshold: float = 0.5,
        intra_op_threads: int | None = None,
    ) -> None:
        import onnxruntime as ort
        from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors

        if input_size <= 0 or input_size % 32:
            raise ValueError(f"input_size: expected a positive multiple of 32 px, got {input_size}")
        if not 0.0 < conf_threshold < 1.0:
            raise ValueError(f"conf_threshold: expected a value in (0, 1), got {conf_threshold}")
        if not 0.0 < iou_threshold <= 1.0:
            raise ValueError(f"iou_threshold: expected a value in (0, 1], got {iou_threshold}")
        self.model_path = Path(model_path)
        if not self.model_path.is_file():
            raise ModelFileError(f"plate model not found: {self.model_path}")
        options = ort.SessionOptions()
        if intra_op_threads is not None:
            options.intra_op_num_threads = intra_op_threads
        options.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(
                str(self.model_path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except (ort_errors.InvalidProtobuf, ort_errors.InvalidGraph, ort_errors.Fail, ort_errors.NoSuchFile) as exc:
            raise ModelFileError(f"cannot load plate model {self.model_path}: {exc}") from exc
        meta = self._session.get_modelmeta().custom_metadata_map
        try:
            names = json.loads(meta.get("names", "null"))
        except json.JSONDecodeError as exc:
            raise ModelFileError(f"{self.model_path}: 'names' metadata is not JSON: {exc}") from exc
        if names != ["license_plate"]:
            raise ModelFileError(f"{self.model_path}: expected names ['license_plate'], got {names!r}")
        self.input_size = input_size
        self.conf_threshold = conf_threshold
        self.iou_threshold = iou_threshold
        self._input_name = self._session.get_inputs()[0].name

    def _prepare(self, image: np.ndarray) -> tuple[np.ndarray, Letterbox]:
        h, w = image.shape[:2]
        probe = Letterbox.fit(w, h, self.input_size)
        canvas, box = letterbox(image, self.input_size, stride_canvas(probe.resized_w, probe.resized_h, 32))
        rgb = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB)
        return (rgb.transpose(2, 0, 1)[None].astype(np.float32) / np.float32(255.0)), box

    def detect(self, images: Sequence[np.ndarray]) -> list[list[PlateBox]]:
        """Plates in each image, best first (one onnxruntime call per image: sizes differ)."""
        results: list[list[PlateBox]] = []
        for i, image in enumerate(images):
            batch, box = self._prepare(check_bgr_image(image, f"images[{i}]"))
            (output,) = self._session.run(None, {self._input_name: batch})
            rows = output[0]
            scores = rows[:, 4] * rows[:, 5]
            keep = scores > self.conf_threshold
            rows, scores = rows[keep], scores[keep]
            half = rows[:, 2:4] / 2
            xyxy = np.concatenate([rows[:, 0:2] - half, rows[:, 0:2] + half], axis=1)
            kept = nms(xyxy, scores, None, self.iou_threshold, 20)
            frame_xyxy = box.to_frame(xyxy[kept])
            results.append(
                [
                    PlateBox(tuple(float(v) for v in b), float(np.clip(s, 0.0, 1.0)), "yolo")
                    for b, s in zip(frame_xyxy, scores[kept], strict=True)
                    if b[2] > b[0] and b[3] > b[1]
                ]
            )
        return results


class HaarPlateDetector:
    """OpenCV's Russian-plate Haar cascade (ships inside opencv-python; no download).

    Confidence is a fixed 0.3: the cascade gives no calibrated score.
    """

    def __init__(self, min_width_px: int = 40) -> None:
        path = Path(cv2.data.haarcascades) / HAAR_CASCADE
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise ModelFileError(f"cannot load Haar cascade {path}")
        self.min_width_px = min_width_px

    def detect(self, images: Sequence[np.ndarray]) -> list[list[PlateBox]]:
        results = []
        for i, image in enumerate(images):
            gray = cv2.cvtColor(check_bgr_image(image, f"images[{i}]"), cv2.COLOR_BGR2GRAY)
            found = self._cascade.detectMultiScale(
                gray, scaleFactor=1.1, minNeighbors=4, minSize=(self.min_width_px, self.min_width_px // 4)
            )
            boxes = sorted((tuple(map(int, b)) for b in found), key=lambda b: -b[2] * b[3])
            results.append(
                [PlateBox((float(x), float(y), float(x + w), float(y + h)), 0.3, "haar") for x, y, w, h in boxes]
            )
        return results


class FallbackPlateDetector:
    """The first detector that finds anything wins, image by image (YOLO, then Haar)."""

    def __init__(self, detectors: Sequence[PlateDetector]) -> None:
        if not detectors:
            raise ValueError("detectors: expected at least one plate detector")
        self.detectors = tuple(detectors)

    def detect(self, images: Sequence[np.ndarray]) -> list[list[PlateBox]]:
        results = self.detectors[0].detect(images)
        for detector in self.detectors[1:]:
            missing = [i for i, boxes in enumerate(results) if not boxes]
            if not missing:
                break
            found = detector.detect([images[i] for i in missing])
            for i, boxes in zip(missing, found, strict=True):
                if boxes:
                    logger.debug("plate fallback detector=%s image=%d boxes=%d", type(detector).__name__, i, len(boxes))
                results[i] = boxes
        return results


def resolve_plate_model(value: str | Path | None) -> Path:
    """The plate model a ``--plate-model`` value names: None for the default, a file, or a
    committed name (``plates-yolov8n``, ``plates-yolov8n-ft``).

    Raises:
        ModelFileError: neither a file nor a known name (the message lists the names).
    """
    from detectors.models import resolve_model

    return resolve_model(value, KNOWN_PLATE_MODELS, DEFAULT_PLATE_MODEL, "plate model")


def default_plate_detector(input_size: int = 640, with_haar: bool = True) -> PlateDetector:
    """The committed ONNX model, with the Haar cascade as fallback when ``with_haar``."""
    onnx = OnnxPlateDetector(DEFAULT_PLATE_MODEL, input_size=input_size)
    return FallbackPlateDetector([onnx, HaarPlateDetector()]) if with_haar else onnx

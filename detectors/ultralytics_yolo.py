"""YOLO models run through ultralytics, for GPUs: CUDA, half precision, TensorRT where available.

This is the one module that touches ultralytics objects: :func:`to_detections` turns its
``Results`` into our :class:`Detections`. ultralytics and torch are imported only when a detector
is built, so the rest of the project runs without them (``pip install -e .[train]`` brings them).

Models: anything ``ultralytics.YOLO`` loads for detection: a ``.pt`` (e.g. the fine-tuned vehicle
model written by :mod:`detectors.train`, or ``plate_detector_yolov8n.pt``), or its ``.onnx`` /
``.engine`` exports. The YOLOv5-format ONNX of :mod:`detectors.export_yolov5` is not one of them
(its output has an objectness column); run that with the ``onnx`` backend.

ultralytics reaches the network unless told not to: :func:`prepare_offline_env` sets
``YOLO_OFFLINE``, ``YOLO_AUTOINSTALL`` and a ``YOLO_CONFIG_DIR`` holding a local font before the
first import.
"""

from __future__ import annotations

import difflib
import importlib.util
import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from detectors.base import Detections, ModelFileError, check_detector_options, check_frame
from detectors.labels import canonical_name

logger = logging.getLogger(__name__)

DEFAULT_CLASSES: tuple[str, ...] = ("car", "bus", "truck", "motorcycle")
#: Where ultralytics keeps settings (and the font its plotting wants) unless YOLO_CONFIG_DIR is set.
DEFAULT_CONFIG_DIR = Path.home() / ".cache" / "safecity" / "ultralytics"
_FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/TTF/DejaVuSans.ttf"),
)


def prepare_offline_env(config_dir: Path | None = None) -> Path:
    """Make ultralytics work offline: no downloads, no pip installs, a local font.

    Only sets variables that are unset, so an operator's choices win. Call before the first
    ``import ultralytics`` (it reads them at import).

    Returns:
        The YOLO_CONFIG_DIR in effect.
    """
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "False")
    os.environ.setdefault("YOLO_VERBOSE", "False")
    folder = Path(os.environ.setdefault("YOLO_CONFIG_DIR", str(config_dir or DEFAULT_CONFIG_DIR)))
    font = folder / "Ultralytics" / "Arial.ttf"
    if not font.exists():
        source = _find_font()
        if source is not None:
            font.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, font)
        else:
            logger.warning("no local TTF font found; ultralytics plotting may try to download one")
    return folder


def _find_font() -> Path | None:
    for candidate in _FONT_CANDIDATES:
        if candidate.is_file():
            return candidate
    spec = importlib.util.find_spec("matplotlib")
    if spec is not None and spec.origin:
        bundled = Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
        if bundled.is_file():
            return bundled
    return None


def ultralytics_available() -> str | None:
    """None when ultralytics and torch can be imported, else the reason they cannot."""
    missing = [m for m in ("torch", "ultralytics") if importlib.util.find_spec(m) is None]
    if missing:
        return f"{' and '.join(missing)} not installed (pip install -e '.[train]')"
    return None


def to_detections(
    result: Any, class_map: dict[int, int], class_names: tuple[str, ...]
) -> Detections:
    """One ultralytics ``Results`` -> :class:`Detections` (the only place that reads Results).

    Args:
        result: ``ultralytics.engine.results.Results`` of one image.
        class_map: model class id -> index into ``class_names``; other ids are dropped.
        class_names: our vocabulary.
    """
    boxes = result.boxes
    if boxes is None or len(boxes) == 0:
        return Detections.empty(class_names)
    xyxy = boxes.xyxy.float().cpu().numpy().astype(np.float32).reshape(-1, 4)
    conf = boxes.conf.float().cpu().numpy().astype(np.float32).reshape(-1)
    cls = boxes.cls.cpu().numpy().astype(np.int64).reshape(-1)
    keep = np.array([c in class_map for c in cls], dtype=bool)
    height, width = result.orig_shape[:2]
    xyxy = np.clip(xyxy[keep], 0, [width, height, width, height]).astype(np.float32)
    return Detections(
        xyxy=xyxy,
        confidence=np.clip(conf[keep], 0.0, 1.0).astype(np.float32),
        class_id=np.array([class_map[c] for c in cls[keep]], dtype=np.int32),
        class_names=class_names,
    )


def default_device() -> str:
    """``cuda:0`` when torch sees a GPU, else ``cpu``."""
    import torch

    return "cuda:0" if torch.cuda.is_available() else "cpu"


class UltralyticsDetector:
    """A YOLO detector run by ultralytics (GPU first).

    Args:
        model_path: ``.pt``, ``.onnx`` or ``.engine`` file ``ultralytics.YOLO`` loads.
        classes: output vocabulary, names the model has (``motorbike`` matches ``motorcycle``);
            None for every class of the model. Default: the vehicle classes.
        conf_threshold: minimum confidence kept, in (0, 1).
        iou_threshold: NMS overlap threshold, in (0, 1].
        input_size: inference size px (longest side; ultralytics letterboxes to a stride-aligned
            rectangle for ``.pt`` models).
        device: ``cuda:0``, ``cpu``, ...; None picks CUDA when available.
        half: FP16 inference; None = on CUDA only (CPU half is slow or unsupported).
        tensorrt: export a ``.pt`` to a TensorRT engine (next to the model file, reused when it
            exists) and run that; only on CUDA with the ``tensorrt`` package installed, else a
            warning and PyTorch.
        agnostic_nms: NMS across classes, so one vehicle gets one box.
        max_batch: frames per ultralytics call (and the engine's batch size).
        preprocess_on_device: letterbox on the inference device: the uint8 frames are copied
            to it as they are and resized, padded and scaled there, one batch at a time, instead
            of ultralytics' per-frame letterbox on one CPU core (which bounds a GPU at about 390
            1080p frames/s on an H200, docs/performance.md). None = on CUDA only. Frames of a
            batch must share a size; a mixed batch takes ultralytics' own path.

    Raises:
        ModelFileError: the model file is missing or ultralytics cannot load it.
        ValueError: a bad option, a class the model does not have, or ultralytics/torch absent.
    """

    def __init__(
        self,
        model_path: Path,
        *,
        classes: Sequence[str] | None = DEFAULT_CLASSES,
        conf_threshold: float = 0.25,
        iou_threshold: float = 0.5,
        input_size: int = 640,
        device: str | None = None,
        half: bool | None = None,
        tensorrt: bool = False,
        agnostic_nms: bool = False,
        max_batch: int = 16,
        preprocess_on_device: bool | None = None,
    ) -> None:
        check_detector_options(conf_threshold, iou_threshold, input_size)
        if max_batch < 1:
            raise ValueError(f"max_batch: expected >= 1, got {max_batch}")
        if classes is not None and (isinstance(classes, str) or not classes):
            raise ValueError(
                f"classes: expected a non-empty sequence of class names, got {classes!r}"
            )
        reason = ultralytics_available()
        if reason:
            raise ValueError(f"detector 'ultralytics' cannot run: {reason}")
        self.model_path = Path(model_path)
        if not self.model_path.is_file():
            raise ModelFileError(f"detector model not found: {self.model_path}")

        prepare_offline_env()
        from ultralytics import YOLO

        self.device = device or default_device()
        on_cuda = self.device.startswith("cuda")
        # On a GPU frames go to the network in batches; the pipeline then detects every frame
        # (pipeline.run._schedule_for) instead of a per-frame CPU schedule.
        self.batches_on_device = on_cuda
        self.half = on_cuda if half is None else bool(half)
        self.preprocess_on_device = on_cuda if preprocess_on_device is None else bool(preprocess_on_device)
        self.conf_threshold = float(conf_threshold)
        self.iou_threshold = float(iou_threshold)
        self.input_size = int(input_size)
        self.agnostic_nms = bool(agnostic_nms)
        self.max_batch = int(max_batch)
        try:
            model = YOLO(str(self.model_path), task="detect")
        except (
            Exception
        ) as exc:  # ultralytics raises many types for a bad file; all mean "unusable"
            raise ModelFileError(f"cannot load detector model {self.model_path}: {exc}") from exc
        names = model.names
        self.model_names: tuple[str, ...] = (
            tuple(canonical_name(names[k]) for k in sorted(names))
            if isinstance(names, dict)
            else tuple(canonical_name(n) for n in names)
        )
        wanted = self.model_names if classes is None else tuple(canonical_name(c) for c in classes)
        for name in wanted:
            if name not in self.model_names:
                hint = difflib.get_close_matches(name, self.model_names, n=1)
                did_you_mean = f"; did you mean {hint[0]!r}?" if hint else ""
                raise ValueError(
                    f"classes: the model {self.model_path.name} has no class {name!r}{did_you_mean}"
                )
        if len(set(wanted)) != len(wanted):
            raise ValueError(f"classes: expected distinct names, got {list(wanted)}")
        self.class_names: tuple[str, ...] = tuple(wanted)
        self._class_map = {self.model_names.index(n): i for i, n in enumerate(self.class_names)}
        self._model = self._maybe_tensorrt(model, tensorrt, on_cuda, YOLO)
        self._net = None  # the torch module for the device path (a .pt model, not an engine)
        if self.preprocess_on_device and self.engine_path is None and self.model_path.suffix == ".pt":
            self._net = self._device_module(model)
        logger.info(
            "loaded ultralytics detector model=%s device=%s half=%s engine=%s classes=%s",
            self.model_path,
            self.device,
            self.half,
            self.engine_path,
            self.class_names,
        )

    def _maybe_tensorrt(self, model: Any, tensorrt: bool, on_cuda: bool, yolo: Any) -> Any:
        self.engine_path: Path | None = None
        if not tensorrt:
            return model
        if self.model_path.suffix == ".engine":
            self.engine_path = self.model_path
            return model
        if not on_cuda or importlib.util.find_spec("tensorrt") is None:
            logger.warning(
                "tensorrt requested but unavailable device=%s tensorrt_installed=%s; running PyTorch",
                self.device,
                importlib.util.find_spec("tensorrt") is not None,
            )
            return model
        engine = self.model_path.with_suffix(".engine")
        if not engine.exists():
            exported = model.export(
                format="engine",
                half=self.half,
                imgsz=self.input_size,
                device=self.device,
                batch=self.max_batch,
                dynamic=True,
            )
            engine = Path(exported)
        self.engine_path = engine
        return yolo(str(engine), task="detect")

    def detect(self, frames: Sequence[np.ndarray]) -> list[Detections]:
        """Detect in BGR uint8 frames, ``max_batch`` frames per ultralytics call.

        Returns:
            One :class:`Detections` per frame, boxes in that frame's px.
        """
        for i, frame in enumerate(frames):
            check_frame(i, frame)
        out: list[Detections] = []
        for start in range(0, len(frames), self.max_batch):
            chunk = list(frames[start : start + self.max_batch])
            if self.preprocess_on_device and len({f.shape for f in chunk}) == 1:
                out.extend(self._detect_on_device(chunk))
                continue
            results = self._model.predict(
                chunk,
                conf=self.conf_threshold,
                iou=self.iou_threshold,
                imgsz=self.input_size,
                device=self.device,
                half=self.half,
                classes=sorted(self._class_map),
                agnostic_nms=self.agnostic_nms,
                max_det=300,
                verbose=False,
            )
            out.extend(to_detections(r, self._class_map, self.class_names) for r in results)
        return out

    def _device_module(self, model: Any) -> Any:
        """The checkpoint's fused torch module on the device, in FP16 when ``half``."""
        net = model.model
        if hasattr(net, "fuse") and not getattr(net, "is_fused", lambda: True)():
            net = net.fuse(verbose=False)
        net = net.to(self.device).eval()
        return net.half() if self.half else net.float()

    def upload(self, chunk: Sequence[np.ndarray]) -> Any:
        """Same-size uint8 frames into one (B, H, W, C) device tensor, each copied straight in.

        No host-side stack of the batch: at 1080p that copy took twice as long as the upload
        itself on an H200 machine (docs/performance.md).
        """
        import torch

        h, w, c = chunk[0].shape
        batch = torch.empty((len(chunk), h, w, c), dtype=torch.uint8, device=self.device)
        for i, frame in enumerate(chunk):
            batch[i].copy_(torch.from_numpy(np.ascontiguousarray(frame)))
        return batch

    def letterbox_on_device(self, batch: Any) -> tuple[Any, tuple[float, int, int]]:
        """ultralytics' letterbox of an uploaded BGR batch, on its device.

        Flipped to RGB, resized bilinearly (no antialiasing: OpenCV's INTER_LINEAR, as
        ultralytics' letterbox) so the longest side is ``input_size``, padded to a multiple of
        32 with ultralytics' grey (114) split evenly on both sides as its letterbox does (the
        network is not shift invariant: padding only the bottom moved and added boxes), scaled
        to 0..1, FP16 when ``half``.

        Returns:
            ((B, 3, H', W') tensor, (scale, left px, top px)) to map boxes back to the frame.
        """
        import torch.nn.functional as F

        h, w = batch.shape[1:3]
        scale = self.input_size / max(h, w)
        nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
        ph, pw = -(-nh // 32) * 32, -(-nw // 32) * 32
        x = batch.permute(0, 3, 1, 2).flip(1)
        x = x.half() if self.half else x.float()
        x = F.interpolate(x, size=(nh, nw), mode="bilinear", align_corners=False)
        top, left = round((ph - nh) / 2 - 0.1), round((pw - nw) / 2 - 0.1)  # ultralytics LetterBox's split
        x = F.pad(x, (left, pw - nw - left, top, ph - nh - top), value=114.0).div_(255.0).clamp_(0.0, 1.0)
        return x, (scale, left, top)

    def forward(self, x: Any) -> Any:
        """The network's raw (B, 4 + nc, anchors) output for a letterboxed batch (device path)."""
        raw = self._net(x)
        return raw[0] if isinstance(raw, (list, tuple)) else raw

    def batched_nms(self, raw: Any) -> list[np.ndarray]:
        """Per image (N, 6) rows x1 y1 x2 y2 conf class from the raw (B, 4 + nc, anchors) output.

        ultralytics' NMS semantics (each anchor's best class over all classes; kept when above
        ``conf_threshold`` and one of ours; class-aware unless ``agnostic_nms``; at most 300
        per image, best first) in one ``torchvision.ops.batched_nms`` call for the whole batch,
        where ultralytics loops over the images in Python.
        """
        import torch
        from torchvision.ops import batched_nms

        p = raw.transpose(1, 2)  # (B, anchors, 4 + nc)
        scores, cls = p[..., 4:].max(dim=-1)
        wanted = torch.zeros(p.shape[-1] - 4, dtype=torch.bool, device=p.device)
        wanted[sorted(self._class_map)] = True
        image, anchor = ((scores > self.conf_threshold) & wanted[cls]).nonzero(as_tuple=True)
        xywh = p[image, anchor, :4].float()
        boxes = torch.cat([xywh[:, :2] - xywh[:, 2:] / 2, xywh[:, :2] + xywh[:, 2:] / 2], dim=1)
        conf, label = scores[image, anchor].float(), cls[image, anchor]
        groups = image if self.agnostic_nms else image * (p.shape[-1] - 4) + label
        keep = batched_nms(boxes, conf, groups, self.iou_threshold)  # best first
        rows = torch.cat([boxes[keep], conf[keep, None], label[keep, None].float()], dim=1).cpu().numpy()
        owner = image[keep].cpu().numpy()
        return [rows[owner == b][:300] for b in range(p.shape[0])]

    def _detect_on_device(self, chunk: list[np.ndarray]) -> list[Detections]:
        """Upload a same-size batch as uint8 (a quarter of float32's bytes), letterbox it on the
        device (:meth:`letterbox_on_device`), predict, map the boxes back to frame px."""
        import torch

        h, w = chunk[0].shape[:2]
        x, (scale, left, top) = self.letterbox_on_device(self.upload(chunk))
        ph, pw = x.shape[2:]
        if self._net is not None:
            # The model and one batched NMS for the whole batch (torchvision), without the
            # predictor's per-call setup, per-image Results and host copies of every input.
            with torch.inference_mode():
                rows = self.batched_nms(self.forward(x))
        else:  # a TensorRT engine: through the predictor, the batch already letterboxed
            results = self._model.predict(
                x, conf=self.conf_threshold, iou=self.iou_threshold, imgsz=(ph, pw), device=self.device,
                half=self.half, classes=sorted(self._class_map), agnostic_nms=self.agnostic_nms, max_det=300,
                verbose=False,
            )
            rows = [r.boxes.data.float().cpu().numpy() if r.boxes is not None else np.zeros((0, 6), np.float32) for r in results]
        out = []
        for k in rows:
            k = k.reshape(-1, 6)
            cls = k[:, 5].astype(np.int64)
            keep = np.array([c in self._class_map for c in cls], dtype=bool)
            xyxy = np.clip((k[keep, :4] - [left, top, left, top]) / scale, 0, [w, h, w, h]).astype(np.float32)
            out.append(Detections(
                xyxy=xyxy,
                confidence=np.clip(k[keep, 4], 0.0, 1.0).astype(np.float32),
                class_id=np.array([self._class_map[c] for c in cls[keep]], dtype=np.int32),
                class_names=self.class_names,
            ))
        return out

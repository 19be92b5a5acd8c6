"""Int8 static quantization of a YOLO ONNX detector, calibrated on the committed scenes.

Why: the detector is most of a frame's CPU cost (``docs/performance.md``). onnxruntime's
static quantization turns the convolutions into int8 kernels (VNNI on recent x86), calibrated
on frames letterboxed exactly as :class:`detectors.onnx_yolo.OnnxYoloDetector` feeds them, so
the activation ranges are those the pipeline sees. Nothing is downloaded: the calibration
frames come from ``sample_videos/`` (or any videos given).

The decode tail of the head (``/model.24/`` after its convolutions: sigmoid, grid and anchor
arithmetic, concatenation; in an ultralytics head also the DFL) stays float: box coordinates in
px and scores near the 0.25 threshold would lose precision in a uint8 range spanning 0..640 px.
Both the YOLOv5 export of the COCO model and ultralytics' export of the fine-tuned model (the
default) have their head at ``/model.24/``.

Usage (writes the committed int8 model; model card ``models/vehicles-yolov5n-coco.md``)::

    python -m detectors.quantize --out models/vehicles-yolov5n-coco-int8.onnx
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from detectors.base import ModelFileError
from detectors.models import COCO_VEHICLE_MODEL, INT8_VEHICLE_MODEL, MODELS_DIR

logger = logging.getLogger(__name__)

#: Committed scenes whose frames calibrate the activation ranges (day and night lighting).
SAMPLE_VIDEOS_DIR = MODELS_DIR.parent / "sample_videos"


@dataclass(frozen=True)
class QuantizeSettings:
    """What a quantization run does; recorded in the output model's ``quantization`` metadata.

    Attributes:
        input_size: letterbox size px the calibration frames are prepared at (the detector's).
        every_nth_frame: take every n-th frame of each video (consecutive frames are near copies).
        max_frames_per_video: calibration frames per video at most.
        quant_format: ``qdq`` (QuantizeLinear/DequantizeLinear pairs; onnxruntime fuses them
            into int8 kernels) or ``qoperator`` (QLinearConv etc. written out).
        per_channel: one weight scale per output channel (keeps thin channels' precision).
        calibration: ``minmax``, ``entropy`` or ``percentile`` activation-range method.
        keep_head_float: leave the output convolutions of ``/model.24/`` float too (3 in a
            YOLOv5 head, 6 in an ultralytics one; :func:`float_node_names`).
    """

    input_size: int = 640
    every_nth_frame: int = 10
    max_frames_per_video: int = 32
    quant_format: str = "qdq"
    per_channel: bool = True
    calibration: str = "minmax"
    keep_head_float: bool = False

    def __post_init__(self) -> None:
        if self.quant_format not in ("qdq", "qoperator"):
            raise ValueError(f"quant_format: expected 'qdq' or 'qoperator', got {self.quant_format!r}")
        if self.calibration not in ("minmax", "entropy", "percentile"):
            raise ValueError(
                f"calibration: expected 'minmax', 'entropy' or 'percentile', got {self.calibration!r}"
            )
        if self.every_nth_frame < 1 or self.max_frames_per_video < 1:
            raise ValueError(
                "every_nth_frame and max_frames_per_video: expected >= 1, got "
                f"{self.every_nth_frame} and {self.max_frames_per_video}"
            )


def sample_video_paths(root: Path = SAMPLE_VIDEOS_DIR) -> list[Path]:
    """Every ``scene.mp4`` under ``root`` (the committed sample scenes), sorted."""
    return sorted(Path(root).glob("*/scene.mp4"))


def read_frames(video: Path, every_nth: int, max_frames: int) -> Iterator[np.ndarray]:
    """BGR uint8 frames 0, n, 2n, ... of ``video``, at most ``max_frames``.

    Raises:
        ValueError: the video cannot be opened or has no frame.
    """
    capture = cv2.VideoCapture(str(video))
    if not capture.isOpened():
        raise ValueError(f"calibration video {video}: cannot be opened")
    taken = index = 0
    try:
        while taken < max_frames:
            ok, frame = capture.read()
            if not ok:
                break
            if index % every_nth == 0:
                taken += 1
                yield frame
            index += 1
    finally:
        capture.release()
    if taken == 0:
        raise ValueError(f"calibration video {video}: no frame could be read")


class FrameCalibrationReader:
    """onnxruntime ``CalibrationDataReader`` over letterboxed video frames, one frame a call.

    Frames go through the fp32 detector's own ``preprocess`` so calibration sees the runtime's
    letterbox (rectangle plus grey border), colour order and 0..1 scaling.
    """

    def __init__(self, model_path: Path, videos: Sequence[Path], settings: QuantizeSettings) -> None:
        from detectors.onnx_yolo import OnnxYoloDetector

        detector = OnnxYoloDetector(
            model_path, input_size=settings.input_size, providers=["CPUExecutionProvider"]
        )
        self.input_name = detector._input_name
        batches: list[np.ndarray] = []
        for video in videos:
            for frame in read_frames(video, settings.every_nth_frame, settings.max_frames_per_video):
                batch, _ = detector.preprocess([frame])
                batches.append(batch)
        if not batches:
            raise ValueError(f"calibration: no frames from {[str(v) for v in videos]}")
        self.frames = len(batches)
        self._iter = iter(batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._iter, None)
        return None if batch is None else {self.input_name: batch}


def float_node_names(model_path: Path, keep_head_float: bool) -> list[str]:
    """Nodes left in float: the head's decode tail, and its output convolutions if asked.

    The decode tail is every ``/model.24/`` node that is not a convolution (reshape, sigmoid,
    grid/anchor arithmetic, concat). In an ultralytics (anchor-free) head the DFL convolution
    (``/model.24/dfl/``: a fixed 0..15 weighting of a softmax, the box side in stride units)
    belongs to the decode and stays float too: in uint8 it would move every box edge.

    ``keep_head_float`` adds the head's output convolutions: the plain 1x1 ``Conv`` layers that
    write the raw outputs (YOLOv5: ``m.0``-``m.2``, three; ultralytics: ``cv2.i.2`` box and
    ``cv3.i.2`` class, six), not the 3x3 ``Conv``+BN+SiLU blocks before them (exported as
    ``.../conv/Conv``), which hold most of an ultralytics head's multiply-adds.
    """
    import onnx

    graph = onnx.load(str(model_path), load_external_data=False).graph
    names = []
    for node in graph.node:
        if not node.name.startswith("/model.24/"):
            continue
        if node.op_type == "Conv" and "/dfl/" not in node.name:
            if not keep_head_float or "/conv/Conv" in node.name:
                continue
        names.append(node.name)
    return names


def quantize_detector(
    model_path: Path,
    out_path: Path,
    videos: Sequence[Path] | None = None,
    settings: QuantizeSettings | None = None,
) -> Path:
    """Write an int8 (activations uint8, weights int8) copy of a YOLO ONNX detector.

    Args:
        model_path: fp32 ONNX of :mod:`detectors.export_yolov5` or an ultralytics export
            (dynamic or fixed H/W).
        out_path: where to write the int8 model; its metadata is the fp32 model's plus
            ``quantization`` (JSON: settings, calibration videos and frame count).
        videos: calibration videos; default the committed ``sample_videos/*/scene.mp4``.
        settings: see :class:`QuantizeSettings`.

    Returns:
        ``out_path``.

    Raises:
        ModelFileError: ``model_path`` missing.
        ValueError: no calibration video or frame.
    """
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    settings = settings or QuantizeSettings()
    model_path, out_path = Path(model_path), Path(out_path)
    if not model_path.is_file():
        raise ModelFileError(f"detector model not found: {model_path}")
    videos = list(videos) if videos is not None else sample_video_paths()
    if not videos:
        raise ValueError(f"calibration: no videos given and none under {SAMPLE_VIDEOS_DIR}")
    reader = FrameCalibrationReader(model_path, videos, settings)
    method = {
        "minmax": CalibrationMethod.MinMax,
        "entropy": CalibrationMethod.Entropy,
        "percentile": CalibrationMethod.Percentile,
    }[settings.calibration]
    with tempfile.TemporaryDirectory(prefix="safecity-quant-") as tmp:
        # ONNX shape inference + graph optimisation first (onnxruntime's advice for static quantization).
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(model_path), str(prepared), skip_symbolic_shape=True)  # dynamic H/W: symbolic inference is incomplete
        quantize_static(
            str(prepared),
            str(out_path),
            reader,
            quant_format=QuantFormat.QDQ if settings.quant_format == "qdq" else QuantFormat.QOperator,
            per_channel=settings.per_channel,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=method,
            nodes_to_exclude=float_node_names(prepared, settings.keep_head_float),
        )
    source = onnx.load(str(model_path), load_external_data=False)
    model = onnx.load(str(out_path))
    meta = {p.key: p.value for p in source.metadata_props}
    meta["quantization"] = json.dumps(
        {
            "settings": settings.__dict__,
            "source_model": model_path.name,
            "calibration_videos": [str(v.parent.name + "/" + v.name) for v in videos],
            "calibration_frames": reader.frames,
        }
    )
    del model.metadata_props[:]
    for key, value in meta.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(out_path))
    logger.info("wrote int8 detector out=%s frames=%d", out_path, reader.frames)
    return out_path


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m detectors.quantize``: write the int8 detector (see module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=COCO_VEHICLE_MODEL, help="fp32 ONNX model")
    parser.add_argument("--out", type=Path, default=INT8_VEHICLE_MODEL, help="int8 ONNX to write")
    parser.add_argument("--videos", type=Path, nargs="*", help="calibration videos (default: sample_videos/*/scene.mp4)")
    parser.add_argument("--input-size", type=int, default=640)
    parser.add_argument("--every-nth-frame", type=int, default=10)
    parser.add_argument("--max-frames-per-video", type=int, default=32)
    parser.add_argument("--format", choices=("qdq", "qoperator"), default="qdq")
    parser.add_argument("--per-tensor", action="store_true", help="one weight scale per tensor")
    parser.add_argument("--calibration", choices=("minmax", "entropy", "percentile"), default="minmax")
    parser.add_argument("--keep-head-float", action="store_true", help="the head's output convolutions stay float")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    settings = QuantizeSettings(
        input_size=args.input_size,
        every_nth_frame=args.every_nth_frame,
        max_frames_per_video=args.max_frames_per_video,
        quant_format=args.format,
        per_channel=not args.per_tensor,
        calibration=args.calibration,
        keep_head_float=args.keep_head_float,
    )
    try:
        out = quantize_detector(args.model, args.out, args.videos or None, settings)
    except (ModelFileError, ValueError) as exc:
        print(f"error: {exc}")
        return 2
    print(f"{out}  {out.stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

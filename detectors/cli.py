"""``safecity detect``, ``eval-detector`` and ``quantize-detector``: command functions the
``safecity`` app mounts.

Mounted by ``safecity/cli.py``::

    app.command("detect")(detect_cmd)
    app.command("eval-detector")(eval_detector_cmd)
    app.command("quantize-detector")(quantize_detector_cmd)

Exit codes: 0 done, 2 bad input (missing/unreadable path, bad option, model file unusable).
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from safecity.errors import SafeCityError

EXIT_INPUT = 2
#: Confidence the detector runs at for AP: low, so the whole precision-recall curve is scored.
EVAL_CONF = 0.001


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(EXIT_INPUT)


def _parse_classes(classes: str | None) -> tuple[str, ...] | None:
    if classes is None:
        return None
    names = tuple(c.strip() for c in classes.split(",") if c.strip())
    if not names:
        raise ValueError(f"--classes: expected comma-separated class names, got {classes!r}")
    return names


def make_detector(
    backend: str,
    model: Path | None,
    conf_threshold: float,
    classes: Sequence[str] | None = None,
) -> tuple[Any, str]:
    """A still-image detector by backend name, and the model identification to print.

    Args:
        backend: registry name (``onnx``, ``ultralytics``); ``motion`` needs a video and is refused.
        model: model file, or for ``onnx`` a committed model's name
            (:func:`detectors.models.resolve_model`); None for the committed vehicle model
            (``onnx`` only).
        conf_threshold: minimum confidence kept.
        classes: output vocabulary; None for the backend's default (vehicles).

    Raises:
        ValueError: unknown backend (listing the valid ones), a bad option, or ``motion``.
        ModelFileError: the model file is missing or unusable.
    """
    from detectors.models import resolve_model
    from detectors.registry import create_detector, resolve_detector_class

    resolve_detector_class(backend)  # unknown names fail here with the list of valid ones
    if backend == "motion":
        raise ValueError(
            "detector 'motion' models a video's background and cannot run on still images; "
            "use 'onnx' or 'ultralytics'"
        )
    options: dict[str, Any] = {"conf_threshold": conf_threshold}
    if classes is not None:
        options["classes"] = tuple(classes)
    if backend == "onnx":
        options["model_path"] = resolve_model(model)
    elif model is not None:
        options["model_path"] = Path(model)
    elif backend == "ultralytics":
        raise ValueError("detector 'ultralytics' needs --model PATH (a YOLO .pt, .onnx or .engine)")
    detector = create_detector(backend, **options)
    name = f"{backend}:{options['model_path'].name}" if "model_path" in options else backend
    return detector, name


def _round(values: Sequence[float], ndigits: int) -> list[float]:
    return [round(float(v), ndigits) for v in values]


def detect_cmd(
    path: Annotated[
        Path, typer.Argument(help="an image file, or a folder searched recursively for images")
    ],
    json_out: Annotated[
        bool, typer.Option("--json", help="print one JSON document instead of text")
    ] = False,
    model: Annotated[
        Optional[Path],
        typer.Option("--model", help="model file, or for onnx a committed model's name (vehicles-yolov5nu-ft, vehicles-yolov5nu-ft-int8, vehicles-yolov5n-coco, vehicles-yolov5n-coco-int8; default the first)"),
    ] = None,
    conf: Annotated[
        float, typer.Option("--conf", min=0.001, max=0.999, help="minimum confidence")
    ] = 0.25,
    detector: Annotated[
        str, typer.Option("--detector", help="backend: onnx or ultralytics")
    ] = "onnx",
    classes: Annotated[
        Optional[str],
        typer.Option(
            "--classes", help="comma-separated classes, e.g. car,bus,truck,motorcycle,person"
        ),
    ] = None,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, max=64, help="images per inference call")
    ] = 4,
) -> None:
    """Print the boxes found in each image: x1 y1 x2 y2 (px), class name, confidence."""
    import cv2

    from detectors.labels import list_images

    try:
        images = list_images(path)
        det, model_name = make_detector(detector, model, conf, _parse_classes(classes))
    except (SafeCityError, ValueError) as exc:
        _fail(str(exc))
    documents: list[dict[str, Any]] = []
    unreadable: list[Path] = []
    for start in range(0, len(images), batch_size):
        chunk = images[start : start + batch_size]
        frames = [(p, cv2.imread(str(p), cv2.IMREAD_COLOR)) for p in chunk]
        for p, frame in frames:
            if frame is None:
                unreadable.append(p)
                typer.echo(f"error: {p}: cannot read the image", err=True)
        readable = [(p, f) for p, f in frames if f is not None]
        for (p, frame), found in zip(readable, det.detect([f for _, f in readable]), strict=True):
            doc = {
                "path": str(p),
                "width": int(frame.shape[1]),
                "height": int(frame.shape[0]),
                "boxes": [
                    {
                        "xyxy_px": _round(found.xyxy[i], 1),
                        "class_name": found.class_name(i),
                        "confidence": round(float(found.confidence[i]), 4),
                    }
                    for i in range(len(found))
                ],
            }
            if json_out:
                documents.append(doc)
            else:
                _print_image(doc)
    if json_out:
        print(
            json.dumps(
                {
                    "model": model_name,
                    "conf_threshold": conf,
                    "images": documents,
                    "unreadable": [str(p) for p in unreadable],
                },
                ensure_ascii=False,
            )
        )
    if unreadable:
        raise typer.Exit(EXIT_INPUT)


def _print_image(doc: dict[str, Any]) -> None:
    out = sys.stdout
    out.write(f"{doc['path']}  {doc['width']}x{doc['height']}  {len(doc['boxes'])} boxes\n")
    for box in doc["boxes"]:
        x1, y1, x2, y2 = box["xyxy_px"]
        out.write(
            f"  {x1:.1f} {y1:.1f} {x2:.1f} {y2:.1f} {box['class_name']} {box['confidence']:.3f}\n"
        )


def _nan_to_none(value: float) -> float | None:
    return None if isinstance(value, float) and math.isnan(value) else value


def eval_detector_cmd(
    images: Annotated[Path, typer.Option("--images", help="folder of the labelled images")],
    labels: Annotated[
        Path,
        typer.Option(
            "--labels", help="ground truth: a COCO json file or a folder of YOLO txt files"
        ),
    ],
    json_out: Annotated[
        bool, typer.Option("--json", help="print one JSON document instead of a table")
    ] = False,
    model: Annotated[
        Optional[Path],
        typer.Option("--model", help="model file, or for onnx a committed model's name (vehicles-yolov5nu-ft, vehicles-yolov5nu-ft-int8, vehicles-yolov5n-coco, vehicles-yolov5n-coco-int8; default the first)"),
    ] = None,
    conf: Annotated[
        float,
        typer.Option(
            "--conf", min=0.001, max=0.999, help="operating threshold of recall and precision"
        ),
    ] = 0.25,
    detector: Annotated[
        str, typer.Option("--detector", help="backend: onnx or ultralytics")
    ] = "onnx",
    label_names: Annotated[
        Optional[Path],
        typer.Option(
            "--label-names",
            help="YOLO txt only: class names one per line (default: classes.txt beside the labels, else COCO ids)",
        ),
    ] = None,
    small_px: Annotated[
        float,
        typer.Option("--small-px", min=1, help="'small' = ground truth under this height, px"),
    ] = 32.0,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, max=64, help="images per inference call")
    ] = 4,
) -> None:
    """Score a detector on labelled images: AP50 and recall/precision per class, all and small."""
    from detectors.labels import load_labelled_set
    from detectors.scoring import score_labelled_set

    try:
        items = load_labelled_set(images, labels, label_names)
        det, model_name = make_detector(
            detector, model, EVAL_CONF, _all_model_classes(detector, model)
        )
        report = score_labelled_set(
            det, items, threshold=conf, small_px=small_px, batch_size=batch_size
        )
    except (SafeCityError, ValueError) as exc:
        _fail(str(exc))
    if json_out:
        document = {"model": model_name, **report.to_dict()}
        print(json.dumps(document, ensure_ascii=False, indent=2))
        return
    _print_scores(report, model_name)


def _all_model_classes(backend: str, model: Path | None) -> tuple[str, ...] | None:
    """Every class of our vocabulary the model knows (so person/traffic light can be scored)."""
    if backend != "onnx":
        return None
    from detectors.models import resolve_model
    from detectors.onnx_yolo import VOCABULARY, read_model_names

    names = read_model_names(resolve_model(model))
    return tuple(n for n in VOCABULARY if n in names) or None


def _print_scores(report: Any, model_name: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"{model_name} on {report.images} images (AP50 over all scores; recall/precision at {report.threshold})",
        title_justify="left",
    )
    for col in (
        "class",
        "size",
        "GT boxes",
        "AP50",
        f"recall @{report.threshold}",
        f"precision @{report.threshold}",
    ):
        table.add_column(col, justify="left" if col in ("class", "size") else "right")

    def fmt(x: float) -> str:
        return "-" if math.isnan(x) else f"{x:.3f}"

    for row in report.rows:
        table.add_row(
            row.name, row.size, str(row.n_gt), fmt(row.ap50), fmt(row.recall), fmt(row.precision)
        )
    console = Console()
    console.print(table)
    if report.not_scored:
        console.print(
            f"not scored (the detector has no such class): {', '.join(report.not_scored)}",
            highlight=False,
        )


def quantize_detector_cmd(
    model: Annotated[
        Optional[Path],
        typer.Option(
            "--model",
            help="fp32 YOLOv5 ONNX detector to quantize: a file or a committed model's name "
            "(default: the repository's models/vehicles-yolov5n-coco.onnx)",
        ),
    ] = None,
    out: Annotated[
        Optional[Path],
        typer.Option(
            "--out",
            help="int8 ONNX model to write, replaced if present "
            "(default: the repository's models/vehicles-yolov5n-coco-int8.onnx)",
        ),
    ] = None,
    videos: Annotated[
        Optional[list[Path]],
        typer.Option(
            "--video",
            help="calibration video; repeatable (default: every sample_videos/*/scene.mp4)",
        ),
    ] = None,
    input_size: Annotated[
        int, typer.Option("--input-size", min=32, help="letterbox size px of the calibration frames")
    ] = 640,
    every_nth_frame: Annotated[
        int, typer.Option("--every-nth-frame", min=1, help="take every n-th frame of each video")
    ] = 10,
    max_frames_per_video: Annotated[
        int, typer.Option("--max-frames-per-video", min=1, help="calibration frames per video at most")
    ] = 32,
    quant_format: Annotated[
        str,
        typer.Option(
            "--format",
            help="qdq (QuantizeLinear/DequantizeLinear pairs, fused by onnxruntime) or qoperator (QLinearConv etc.)",
        ),
    ] = "qdq",
    per_tensor: Annotated[
        bool,
        typer.Option("--per-tensor", help="one weight scale per tensor (default: per output channel)"),
    ] = False,
    calibration: Annotated[
        str, typer.Option("--calibration", help="activation ranges: minmax, entropy or percentile")
    ] = "minmax",
    keep_head_float: Annotated[
        bool,
        typer.Option("--keep-head-float", help="leave the head's output convolutions float too (3 in a YOLOv5 head, 6 in an ultralytics one)"),
    ] = False,
) -> None:
    """Write an int8 copy of a YOLOv5 ONNX detector, calibrated on video frames (detectors.quantize).

    With the defaults it rebuilds the committed models/vehicles-yolov5n-coco-int8.onnx (model
    card models/vehicles-yolov5n-coco.md). The YOLOv5 decode tail always stays float.
    """
    from detectors.models import COCO_VEHICLE_MODEL, INT8_VEHICLE_MODEL, resolve_model
    from detectors.quantize import QuantizeSettings, quantize_detector

    out = out if out is not None else INT8_VEHICLE_MODEL
    try:
        model_path = resolve_model(model, default=COCO_VEHICLE_MODEL)
        settings = QuantizeSettings(
            input_size=input_size,
            every_nth_frame=every_nth_frame,
            max_frames_per_video=max_frames_per_video,
            quant_format=quant_format,
            per_channel=not per_tensor,
            calibration=calibration,
            keep_head_float=keep_head_float,
        )
        for video in videos or ():
            if not video.is_file():
                raise ValueError(f"calibration video not found: {video}")
        if not out.parent.is_dir():
            raise ValueError(f"--out: folder {out.parent} does not exist")
        written = quantize_detector(model_path, out, videos or None, settings)
    except (SafeCityError, ValueError) as exc:
        _fail(str(exc))
    typer.echo(f"{written}  {written.stat().st_size / 1e6:.1f} MB")

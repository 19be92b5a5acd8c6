"""Measure a detector on the labelled vehicle sets of ``shared/data`` and time it.

Reads ``vehicles/ngsim_us101`` (COCO json, class ``car``) and ``vehicles/coco128_vehicles`` (YOLO
txt, COCO ids), runs the ONNX detector once per set at a low threshold (0.001, so AP sees the
whole precision-recall curve) and reports AP50 plus recall/precision at the operating threshold,
per class, for all boxes and for small ones (< 32 px high). The figures in the model card come
from here.

A third, recall-only set is real street CCTV of two-wheelers: ``videos/hanoi_labeled_frames``
(32 frames of an intersection camera, 640x480, with boxes drawn around *riders*, person and
motorcycle together, and many riders left unboxed). Its labels are incomplete, so neither AP nor
precision means anything there; :func:`rider_recall` counts a boxed rider as found when a
``motorcycle`` or ``person`` detection at the operating threshold overlaps it (IoU >= 0.3, one
detection per rider). It is the only labelled real traffic-camera view of persons here.

Usage:
    python -m detectors.measure --data ../shared/data [--model models/vehicles-yolov5nu-ft.onnx]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np

from detectors.base import Detections
from detectors.boxes import box_iou
from detectors.evaluate import ClassScore, GroundTruth, evaluate
from detectors.labels import (  # noqa: F401 - re-exported: measure's readers moved there
    COCO_IDS,
    LabelledImage,
    read_coco_json,
    read_yolo_txt,
)
from detectors.models import DEFAULT_VEHICLE_MODEL
from detectors.onnx_yolo import OnnxYoloDetector, read_model_names

logger = logging.getLogger(__name__)

VEHICLES: tuple[str, ...] = ("car", "bus", "truck", "motorcycle")
SMALL_HEIGHT_PX = 32.0
EVAL_CONF = 0.001
#: Rider boxes span person and motorcycle; either one alone covers roughly half to two thirds of
#: it, so a match needs less overlap than the usual 0.5.
RIDER_IOU = 0.3
RIDER_CLASSES: tuple[str, ...] = ("motorcycle", "person")


def data_sets(data: Path) -> dict[str, list[LabelledImage]]:
    """The labelled vehicle sets under ``data`` (``shared/data``), by name."""
    ngsim = data / "vehicles" / "ngsim_us101"
    coco = data / "vehicles" / "coco128_vehicles"
    sets = {
        "ngsim_us101": [
            item
            for seq in sorted(ngsim.glob("Sequence*"))
            for item in read_coco_json(seq / "annotations" / "GT.json", seq / "images")
        ],
    }
    for split in ("train2017", "val2017"):
        sets[f"coco128_vehicles/{split}"] = read_yolo_txt(
            coco / "images" / split, coco / "labels" / split, COCO_IDS
        )
    return sets


def rider_set(data: Path) -> list[LabelledImage]:
    """The boxed riders of ``videos/hanoi_labeled_frames`` (class ``rider``); [] when absent."""
    root = data / "videos" / "hanoi_labeled_frames"
    if not (root / "images").is_dir():
        return []
    return read_yolo_txt(root / "images", root / "labels", {0: "rider"})


def rider_recall(
    predictions: Sequence[Detections],
    items: Sequence[LabelledImage],
    threshold: float,
    iou: float = RIDER_IOU,
) -> dict[str, dict[str, float]]:
    """Share of boxed riders found, for all riders and for small ones (< 32 px high).

    Per image, (rider, detection) pairs of a ``motorcycle``/``person`` detection at ``threshold``
    or more with IoU >= ``iou`` are matched greedily, highest IoU first, each detection to one
    rider at most. Recall only: the labels leave riders unboxed, so unmatched detections say
    nothing.
    """
    counts = {"all": [0, 0], "small": [0, 0]}
    for det, item in zip(predictions, items, strict=True):
        keep = det.confidence >= threshold
        keep &= np.isin(det.class_id, [det.class_names.index(n) for n in RIDER_CLASSES if n in det.class_names])
        boxes = det.xyxy[keep]
        gt = item.truth.xyxy
        found = np.zeros(len(gt), bool)
        if len(gt) and len(boxes):
            overlap = box_iou(gt, boxes)
            used = np.zeros(len(boxes), bool)
            for flat in np.argsort(-overlap, axis=None):
                r, d = np.unravel_index(flat, overlap.shape)
                if overlap[r, d] < iou:
                    break
                if not found[r] and not used[d]:
                    found[r] = used[d] = True
        small = (gt[:, 3] - gt[:, 1]) < SMALL_HEIGHT_PX
        for size, mask in (("all", np.ones(len(gt), bool)), ("small", small)):
            counts[size][0] += int(mask.sum())
            counts[size][1] += int(found[mask].sum())
    return {
        size: {"riders": n, "found": k, "recall": (k / n) if n else float("nan")}
        for size, (n, k) in counts.items()
    }


def batches(items: Sequence[LabelledImage], size: int) -> Iterator[list[LabelledImage]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def predict(
    detector: OnnxYoloDetector, items: Sequence[LabelledImage], batch_size: int = 4
) -> list[Detections]:
    """Run the detector over the images in batches."""
    out: list[Detections] = []
    for chunk in batches(items, batch_size):
        out.extend(detector.detect([cv2.imread(str(item.path)) for item in chunk]))
    return out


def as_vehicle(det: Detections) -> Detections:
    """Every vehicle class relabelled ``car``: scores localisation when class labels are coarse.

    The US-101 set labels every vehicle ``car``, so a pickup the model calls ``truck`` would
    otherwise count as a miss and a false positive.
    """
    keep = np.isin(
        det.class_id, [det.class_names.index(n) for n in VEHICLES if n in det.class_names]
    )
    kept = det.filter(keep)
    return Detections(kept.xyxy, kept.confidence, np.zeros(len(kept), np.int32), ("car",))


def score_set(
    predictions: list[Detections],
    items: Sequence[LabelledImage],
    classes: Sequence[str],
    threshold: float,
) -> dict[str, list[ClassScore]]:
    """All-size and small-object scores of one set."""
    truths = [item.truth for item in items]
    small = (0.0, SMALL_HEIGHT_PX)
    return {
        "all": evaluate(predictions, truths, classes, threshold=threshold),
        "small": evaluate(predictions, truths, classes, threshold=threshold, height_range_px=small),
    }


def time_detector(
    model: Path,
    frame: np.ndarray,
    threads: int,
    runs: int = 30,
    rectangular: bool | None = None,
    border_px: int = 32,
) -> dict[str, object]:
    """Median ms of one ``detect([frame])`` call (pre + inference + post) and of the session alone.

    ``rectangular`` and ``border_px`` go to :class:`OnnxYoloDetector`.
    """
    return time_layouts(model, frame, threads, [(rectangular, border_px)], runs)[0]


def time_layouts(
    model: Path,
    frame: np.ndarray,
    threads: int,
    layouts: Sequence[tuple[bool | None, int]],
    runs: int = 30,
) -> list[dict[str, object]]:
    """Time several letterbox layouts (``rectangular``, ``border_px``) on one frame, interleaved.

    The layouts take turns call by call, so load from other processes on a shared machine hits
    them alike and the ratios stay meaningful even when the absolute times drift.

    Returns:
        Per layout: threads, frame and input size, median and minimum ms of ``detect([frame])``
        (letterbox + inference + decode/NMS) and the median ms of the session call alone.
    """
    detectors = [
        OnnxYoloDetector(
            model,
            intra_op_threads=threads,
            providers=["CPUExecutionProvider"],
            rectangular=rect,
            border_px=border,
        )
        for rect, border in layouts
    ]
    batches = [d.preprocess([frame])[0] for d in detectors]
    for detector in detectors:  # warm-up: first runs allocate
        for _ in range(3):
            detector.detect([frame])
    end_to_end: list[list[float]] = [[] for _ in detectors]
    session_only: list[list[float]] = [[] for _ in detectors]
    for _ in range(runs):
        for k, detector in enumerate(detectors):
            t0 = time.perf_counter()
            detector.detect([frame])
            t1 = time.perf_counter()
            detector.infer(batches[k])
            t2 = time.perf_counter()
            end_to_end[k].append((t1 - t0) * 1000)
            session_only[k].append((t2 - t1) * 1000)
    return [
        {
            "rectangular": detector.rectangular,
            "border_px": detector.border_px if detector.rectangular else 0,
            "threads": threads,
            "frame_wh": [int(frame.shape[1]), int(frame.shape[0])],
            "input_wh": [int(batches[k].shape[3]), int(batches[k].shape[2])],
            "detect_ms_median": statistics.median(end_to_end[k]),
            "session_ms_median": statistics.median(session_only[k]),
            "detect_ms_min": min(end_to_end[k]),
        }
        for k, detector in enumerate(detectors)
    ]


def _fmt(x: float) -> str:
    return "-" if x != x else f"{x:.3f}"  # NaN -> "-"


def markdown_table(set_name: str, scores: dict[str, list[ClassScore]]) -> str:
    at = scores["all"][0].threshold
    lines = [
        f"| set | class | size | GT boxes | AP50 (conf >= {EVAL_CONF}) | AP50 @{at} "
        f"| recall @{at} | precision @{at} |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for size, rows in scores.items():
        for row in rows:
            cells = [set_name, row.name, size, str(row.n_gt)]
            cells += [_fmt(v) for v in (row.ap50, row.ap50_at_threshold, row.recall, row.precision)]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="shared/data folder")
    parser.add_argument("--model", type=Path, default=DEFAULT_VEHICLE_MODEL)
    parser.add_argument("--threshold", type=float, default=0.25, help="operating confidence")
    parser.add_argument(
        "--threads", type=int, nargs="*", default=[1, 2], help="thread counts to time"
    )
    parser.add_argument(
        "--letterbox",
        choices=("auto", "square"),
        default="auto",
        help="auto: the smallest stride-aligned rectangle when the model allows; square: always "
        "the input_size square (to compare)",
    )
    parser.add_argument(
        "--border-px", type=int, default=32, help="grey border of a rectangular canvas, px"
    )
    parser.add_argument(
        "--timing-frame",
        type=Path,
        action="append",
        default=[],
        help="extra image or video (first frame) to time on, e.g. a 16:9 clip; repeatable",
    )
    parser.add_argument("--timing-runs", type=int, default=30, help="timed calls per layout")
    parser.add_argument(
        "--timing-only", action="store_true", help="skip the data sets; time the layouts only"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of markdown")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    if not (args.data / "vehicles").is_dir():
        logger.error("no vehicles data under data=%s", args.data)
        return 2

    # the classes of these sets that the model has: a fine-tune without `traffic light` is
    # measured on the rest instead of refused
    wanted = VEHICLES + ("person", "traffic light")
    names = read_model_names(args.model)
    classes = tuple(c for c in wanted if c in names)
    if not classes:
        logger.error("model=%s has none of the classes %s", args.model, wanted)
        return 2
    rectangular = None if args.letterbox == "auto" else False
    detector = OnnxYoloDetector(
        args.model,
        classes=classes,
        conf_threshold=EVAL_CONF,
        rectangular=rectangular,
        border_px=args.border_px,
    )
    report: dict[str, object] = {
        "model": str(args.model),
        "threshold": args.threshold,
        "letterbox": f"rectangle border {args.border_px} px" if detector.rectangular else "square",
    }
    tables = []
    sets = data_sets(args.data)
    for name, items in ({} if args.timing_only else sets).items():
        t0 = time.perf_counter()
        predictions = predict(detector, items)
        logger.info(
            "predicted set=%s images=%d seconds=%.1f", name, len(items), time.perf_counter() - t0
        )
        per_class = classes if name.startswith("coco128") else ("car",)
        scores = score_set(predictions, items, per_class, args.threshold)
        report[name] = {k: [asdict(s) for s in v] for k, v in scores.items()}
        tables.append(markdown_table(name, scores))
        vehicle_scores = score_set(
            [as_vehicle(p) for p in predictions],
            [LabelledImage(i.path, truth_as_vehicle(i.truth)) for i in items],
            ("car",),
            args.threshold,
        )
        report[f"{name} (any vehicle)"] = {
            k: [asdict(s) for s in v] for k, v in vehicle_scores.items()
        }
        tables.append(markdown_table(f"{name} (any vehicle class = car)", vehicle_scores))

    riders = [] if args.timing_only else rider_set(args.data)
    if riders:
        scores_r = rider_recall(predict(detector, riders), riders, args.threshold)
        report["hanoi_riders (recall only)"] = scores_r
        tables.append(
            f"| set | size | riders | found @{args.threshold} (motorcycle or person, IoU >= {RIDER_IOU}) | recall |\n"
            "|---|---|---|---|---|\n"
            + "\n".join(
                f"| hanoi_riders | {size} | {r['riders']} | {r['found']} | {_fmt(r['recall'])} |"
                for size, r in scores_r.items()
            )
        )

    frames = [cv2.imread(str(sets["ngsim_us101"][0].path))]
    frames += [read_first_frame(path) for path in args.timing_frame]
    layouts = [(False, 0)] + ([(True, 0), (True, 32)] if detector.dynamic_hw else [])
    timings = [
        row
        for frame in frames
        for threads in args.threads
        for row in time_layouts(args.model, frame, threads, layouts, runs=args.timing_runs)
    ]
    report["timing"] = timings
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print("\n\n".join(tables))
        print("\ntiming:\n" + "\n".join(json.dumps(t) for t in timings))
    return 0


def read_first_frame(path: Path) -> np.ndarray:
    """An image file, or the first frame of a video file, as BGR uint8.

    Raises:
        ValueError: neither readable as an image nor as a video.
    """
    image = cv2.imread(str(path))
    if image is not None:
        return image
    capture = cv2.VideoCapture(str(path))
    try:
        ok, frame = capture.read()
    finally:
        capture.release()
    if not ok or frame is None:
        raise ValueError(f"{path}: not a readable image or video")
    return frame


def truth_as_vehicle(truth: GroundTruth) -> GroundTruth:
    """Ground truth of every vehicle class relabelled ``car`` (pairs with :func:`as_vehicle`)."""
    keep = np.isin(
        truth.class_id, [truth.class_names.index(n) for n in VEHICLES if n in truth.class_names]
    )
    return GroundTruth(truth.xyxy[keep], np.zeros(int(keep.sum()), np.int64), ("car",))


if __name__ == "__main__":
    sys.exit(main())

"""Measure a detector on the labelled vehicle sets of ``shared/data`` and time it.

Reads ``vehicles/ngsim_us101`` (COCO json, class ``car``) and ``vehicles/coco128_vehicles`` (YOLO
txt, COCO ids), runs the ONNX detector once per set at a low threshold (0.001, so AP sees the
whole precision-recall curve) and reports AP50 plus recall/precision at the operating threshold,
per class, for all boxes and for small ones (< 32 px high). The figures in the model card come
from here.

Usage:
    python -m detectors.measure --data ../shared/data [--model models/vehicles-yolov5n-coco.onnx]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from detectors.base import Detections
from detectors.evaluate import ClassScore, GroundTruth, evaluate
from detectors.models import DEFAULT_VEHICLE_MODEL
from detectors.onnx_yolo import OnnxYoloDetector

logger = logging.getLogger(__name__)

#: COCO ids of the classes our vocabulary uses (YOLO txt labels of coco128 use these).
COCO_IDS: dict[int, str] = {
    0: "person",
    2: "car",
    3: "motorcycle",
    5: "bus",
    7: "truck",
    9: "traffic light",
}
VEHICLES: tuple[str, ...] = ("car", "bus", "truck", "motorcycle")
SMALL_HEIGHT_PX = 32.0
EVAL_CONF = 0.001


@dataclass(frozen=True)
class LabelledImage:
    """An image file and its ground truth."""

    path: Path
    truth: GroundTruth


def read_coco_json(annotations: Path, images_dir: Path) -> list[LabelledImage]:
    """Images of a COCO json file with their boxes (crowd boxes dropped), by category name."""
    data = json.loads(annotations.read_text())
    names = {c["id"]: c["name"] for c in data["categories"]}
    vocab = tuple(sorted(set(names.values())))
    boxes: dict[int, list[tuple[list[float], int]]] = {im["id"]: [] for im in data["images"]}
    for ann in data["annotations"]:
        if ann.get("iscrowd", 0):
            continue
        x, y, w, h = ann["bbox"]
        boxes[ann["image_id"]].append(
            ([x, y, x + w, y + h], vocab.index(names[ann["category_id"]]))
        )
    out = []
    for im in sorted(data["images"], key=lambda im: im["file_name"]):
        rows = boxes[im["id"]]
        out.append(
            LabelledImage(
                path=images_dir / im["file_name"],
                truth=GroundTruth(
                    xyxy=np.array([r[0] for r in rows], dtype=np.float64).reshape(-1, 4),
                    class_id=np.array([r[1] for r in rows], dtype=np.int64),
                    class_names=vocab,
                ),
            )
        )
    return out


def read_yolo_txt(
    images_dir: Path, labels_dir: Path, class_ids: dict[int, str]
) -> list[LabelledImage]:
    """Images with YOLO txt labels (class cx cy w h, normalised); keeps only ``class_ids``."""
    vocab = tuple(class_ids.values())
    out = []
    for image_path in sorted(images_dir.glob("*.jpg")):
        label_path = labels_dir / f"{image_path.stem}.txt"
        height, width = cv2.imread(str(image_path), cv2.IMREAD_UNCHANGED).shape[:2]
        rows = []
        if label_path.is_file():
            for line in label_path.read_text().splitlines():
                parts = line.split()
                if len(parts) != 5 or int(parts[0]) not in class_ids:
                    continue
                cx, cy, w, h = (float(v) for v in parts[1:])
                rows.append(
                    (
                        [
                            (cx - w / 2) * width,
                            (cy - h / 2) * height,
                            (cx + w / 2) * width,
                            (cy + h / 2) * height,
                        ],
                        vocab.index(class_ids[int(parts[0])]),
                    )
                )
        out.append(
            LabelledImage(
                path=image_path,
                truth=GroundTruth(
                    xyxy=np.array([r[0] for r in rows], dtype=np.float64).reshape(-1, 4),
                    class_id=np.array([r[1] for r in rows], dtype=np.int64),
                    class_names=vocab,
                ),
            )
        )
    return out


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


def time_detector(model: Path, frame: np.ndarray, threads: int, runs: int = 30) -> dict[str, float]:
    """Median ms of one ``detect([frame])`` call (pre + inference + post) and of the session alone."""
    detector = OnnxYoloDetector(model, intra_op_threads=threads, providers=["CPUExecutionProvider"])
    batch, _ = detector.preprocess([frame])
    for _ in range(3):  # warm-up: first runs allocate
        detector.detect([frame])
    end_to_end, session_only = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        detector.detect([frame])
        t1 = time.perf_counter()
        detector.infer(batch)
        t2 = time.perf_counter()
        end_to_end.append((t1 - t0) * 1000)
        session_only.append((t2 - t1) * 1000)
    return {
        "threads": threads,
        "detect_ms_median": statistics.median(end_to_end),
        "session_ms_median": statistics.median(session_only),
        "detect_ms_min": min(end_to_end),
    }


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
    parser.add_argument("--json", action="store_true", help="print JSON instead of markdown")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    if not (args.data / "vehicles").is_dir():
        logger.error("no vehicles data under data=%s", args.data)
        return 2

    classes = VEHICLES + ("person", "traffic light")
    detector = OnnxYoloDetector(args.model, classes=classes, conf_threshold=EVAL_CONF)
    report: dict[str, object] = {"model": str(args.model), "threshold": args.threshold}
    tables = []
    sets = data_sets(args.data)
    for name, items in sets.items():
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

    frame = cv2.imread(str(sets["ngsim_us101"][0].path))
    timings = [time_detector(args.model, frame, threads) for threads in args.threads]
    report["timing"] = timings
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print("\n\n".join(tables))
        print(f"\ntiming on a {frame.shape[1]}x{frame.shape[0]} frame: {json.dumps(timings)}")
    return 0


def truth_as_vehicle(truth: GroundTruth) -> GroundTruth:
    """Ground truth of every vehicle class relabelled ``car`` (pairs with :func:`as_vehicle`)."""
    keep = np.isin(
        truth.class_id, [truth.class_names.index(n) for n in VEHICLES if n in truth.class_names]
    )
    return GroundTruth(truth.xyxy[keep], np.zeros(int(keep.sum()), np.int64), ("car",))


if __name__ == "__main__":
    sys.exit(main())

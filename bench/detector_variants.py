"""Detector variants side by side: frames per CPU second and box agreement with the default.

Why: an int8 model or a smaller input is only worth having if it is cheaper *and* finds the
same boxes; both are measured here in one run on the same frames, interleaved (variant A frame
1, variant B frame 1, ...) so load from other jobs on a shared machine hits every variant alike.

Usage::

    python -m bench.detector_variants --frames 60 \
        --variant fp32-640=models/vehicles-yolov5n-coco.onnx:640 \
        --variant int8-640=models/vehicles-yolov5n-coco-int8.onnx:640 \
        --variant fp32-512=models/vehicles-yolov5n-coco.onnx:512 [--json]

The first variant is the reference: ratios and agreement are against it. Agreement: of the
reference's boxes (confidence >= 0.25), the share matched by a variant box of the same class
at IoU >= 0.5 (recall vs reference) and the mean IoU of the matches; plus the variant's boxes
the reference does not have (extra).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.timing import cpu_seconds
from detectors.base import Detections
from detectors.boxes import box_iou
from detectors.quantize import read_frames, sample_video_paths


@dataclass(frozen=True)
class Variant:
    """A detector variant: a label, an ONNX model and the letterbox size px."""

    label: str
    model: Path
    input_size: int

    @classmethod
    def parse(cls, text: str) -> Variant:
        """``LABEL=MODEL:SIZE``, e.g. ``int8-640=models/x-int8.onnx:640``.

        Raises:
            ValueError: malformed text (names what was expected).
        """
        label, sep, rest = text.partition("=")
        model, sep2, size = rest.rpartition(":")
        if not sep or not sep2 or not label or not size.isdigit():
            raise ValueError(f"--variant: expected LABEL=MODEL.onnx:SIZE, got {text!r}")
        return cls(label, Path(model), int(size))


def match_boxes(reference: Detections, other: Detections, iou_min: float) -> tuple[int, int, list[float]]:
    """Greedy same-class matching of ``other`` to ``reference`` boxes.

    Returns:
        (reference boxes matched, other boxes unmatched, IoUs of the matches).
    """
    if len(reference) == 0 or len(other) == 0:
        return 0, len(other), []
    iou = box_iou(reference.xyxy, other.xyxy)
    same = reference.class_id[:, None] == other.class_id[None, :]
    iou = np.where(same, iou, 0.0)
    matched: list[float] = []
    used_ref: set[int] = set()
    used_other: set[int] = set()
    for flat in np.argsort(-iou, axis=None):
        r, o = np.unravel_index(flat, iou.shape)
        if iou[r, o] < iou_min:
            break
        if r in used_ref or o in used_other:
            continue
        used_ref.add(int(r))
        used_other.add(int(o))
        matched.append(float(iou[r, o]))
    return len(matched), len(other) - len(used_other), matched


def run(variants: Sequence[Variant], frames: list[np.ndarray], threads: int, iou_min: float) -> list[dict]:
    """Time each variant on every frame (interleaved) and score it against the first."""
    from detectors.registry import create_detector

    detectors = [
        create_detector(
            "onnx", model_path=v.model, input_size=v.input_size, agnostic_nms=True,
            intra_op_threads=threads, providers=["CPUExecutionProvider"],
        )
        for v in variants
    ]
    for det in detectors:  # warm-up: first calls allocate
        det.detect(frames[:1])
    cpu = [0.0] * len(variants)
    outputs: list[list[Detections]] = [[] for _ in variants]
    for frame in frames:
        for i, det in enumerate(detectors):
            start = cpu_seconds()
            outputs[i].append(det.detect([frame])[0])
            cpu[i] += cpu_seconds() - start
    rows = []
    ref_boxes = sum(len(d) for d in outputs[0])
    for i, v in enumerate(variants):
        hit = extra = 0
        ious: list[float] = []
        for ref, other in zip(outputs[0], outputs[i], strict=True):
            h, e, m = match_boxes(ref, other, iou_min)
            hit, extra, ious = hit + h, extra + e, ious + m
        rate = len(frames) / cpu[i]
        rows.append({
            "variant": v.label, "model": str(v.model), "input_size": v.input_size,
            "canvas_wh": list(detectors[i].canvas_for(frames[0].shape[1], frames[0].shape[0])),
            "frames_per_cpu_s": round(rate, 2),
            "vs_reference": round(rate / (len(frames) / cpu[0]), 3),
            "boxes": sum(len(d) for d in outputs[i]),
            "reference_recall": round(hit / ref_boxes, 4) if ref_boxes else None,
            "mean_iou": round(float(np.mean(ious)), 4) if ious else None,
            "extra_boxes": extra,
        })
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bench.detector_variants``: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", action="append", required=True, help="LABEL=MODEL.onnx:SIZE (first = reference)")
    parser.add_argument("--videos", type=Path, nargs="*", help="default: sample_videos/*/scene.mp4")
    parser.add_argument("--frames", type=int, default=60, help="frames per video (every 5th)")
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads")
    parser.add_argument("--iou", type=float, default=0.5, help="IoU for a box to agree")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        variants = [Variant.parse(t) for t in args.variant]
    except ValueError as exc:
        print(f"error: {exc}")
        return 2
    frames = [f for v in (args.videos or sample_video_paths()) for f in read_frames(v, 5, args.frames)]
    rows = run(variants, frames, args.threads, args.iou)
    if args.json:
        print(json.dumps({"frames": len(frames), "threads": args.threads, "variants": rows}, indent=1))
        return 0
    print(f"{len(frames)} frames, {args.threads} thread(s); ratios vs {variants[0].label}")
    for r in rows:
        print(
            f"{r['variant']:>14} {r['canvas_wh'][0]}x{r['canvas_wh'][1]}  {r['frames_per_cpu_s']:6.1f} f/cpu-s"
            f"  x{r['vs_reference']:.2f}  boxes {r['boxes']}  recall-vs-ref {r['reference_recall']}"
            f"  mean IoU {r['mean_iou']}  extra {r['extra_boxes']}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

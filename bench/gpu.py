"""GPU throughput: how many real-time camera streams one GPU's detector keeps up with.

Run by ``bench/gpu.sh`` on a CUDA machine (it cannot run on a machine without one)::

    python -m bench.gpu --video scene-1920x1080.mp4 --camera camera.yaml [--json]

Measures, on frames of the video held in memory (decode runs on the CPU cores and is measured
by ``safecity bench``):

- onnxruntime with the CUDA execution provider, the committed ONNX model, batches of 1, 8, 32
  frames (one inference call each; frames of many cameras batched together);
- ultralytics on CUDA with FP16 (``.pt`` checkpoint), letterboxed by ultralytics on one CPU
  core or batched on the GPU (``preprocess_on_device``), and its TensorRT engine when the
  ``tensorrt`` package is installed, same batches; each path's boxes compared with the ONNX
  model on the CPU (``agreement``);
- the share of frames the pipeline sends to a GPU detector: every frame (a detector that batches
  on a GPU is not scheduled frame by frame, ``pipeline.run._schedule_for``), unless
  ``--detected-share`` says otherwise.

Streams per GPU (detector-bound) = best detector frames/s / (25 x detected share). It assumes
decode keeps up (NVDEC or enough CPU cores): the CPU figures of ``safecity bench`` say how many
cores that takes.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

STREAM_FPS = 25.0
BATCHES = (1, 8, 32, 64)


def _frames(video: Path, n: int) -> list:
    from bench.timing import read_frames

    frames = read_frames(video, n)
    if not frames:
        raise SystemExit(f"error: {video}: no decodable frame")
    while len(frames) < n:
        frames = frames + frames[: n - len(frames)]
    return frames


def _throughput(detector, frames: list, batch: int, rounds: int = 3) -> float:
    """Frames per wall second of ``detector.detect`` in calls of ``batch`` frames (after warm-up)."""
    detector.detect(frames[:batch])
    best = 0.0
    for _ in range(rounds):
        t0 = time.perf_counter()
        for start in range(0, len(frames) - batch + 1, batch):
            detector.detect(frames[start : start + batch])
        done = (len(frames) // batch) * batch
        best = max(best, done / (time.perf_counter() - t0))
    return best


def agreement(test, reference, frames: list, min_iou: float = 0.7) -> dict:
    """How far ``test``'s boxes agree with ``reference``'s on ``frames`` (same class, IoU >= min_iou).

    Greedy one-to-one matching by IoU per frame; returns the boxes of each, the matched count,
    matched / the larger count, and the mean IoU of the matches. The GPU path's check that it
    finds what the CPU path finds.
    """
    import numpy as np

    from detectors.boxes import box_iou

    matched = n_test = n_ref = 0
    ious: list[float] = []
    for a, b in zip(test.detect(frames), reference.detect(frames)):
        n_test, n_ref = n_test + len(a.xyxy), n_ref + len(b.xyxy)
        iou = box_iou(a.xyxy, b.xyxy)
        same = np.array([[a.class_names[i] == b.class_names[j] for j in b.class_id] for i in a.class_id], dtype=bool)
        iou = np.where(same.reshape(iou.shape), iou, 0.0)
        while iou.size and iou.max() >= min_iou:
            i, j = np.unravel_index(int(np.argmax(iou)), iou.shape)
            ious.append(float(iou[i, j]))
            matched += 1
            iou[i, :] = 0.0
            iou[:, j] = 0.0
    return {
        "boxes_test": n_test, "boxes_reference": n_ref, "matched": matched,
        "matched_share": round(matched / max(n_test, n_ref, 1), 3),
        "mean_iou": round(sum(ious) / len(ious), 3) if ious else None,
    }


def device_path_stages(det, frames: list, batch: int, rounds: int = 5) -> dict:
    """Milliseconds per batch of each step of the detector's device path (best of ``rounds``).

    upload (each uint8 frame into one device tensor), letterbox (on the device), forward (the
    network), nms (one batched NMS and the copy of the boxes back to the host): the steps of
    ``UltralyticsDetector._detect_on_device``, called one by one.
    """
    import torch

    def sync() -> None:
        if str(det.device).startswith("cuda"):
            torch.cuda.synchronize()

    chunk = frames[:batch]
    best: dict[str, float] = {}
    for _ in range(rounds):
        t = [time.perf_counter()]
        uploaded = det.upload(chunk)
        sync()
        t.append(time.perf_counter())
        x, _ = det.letterbox_on_device(uploaded)
        sync()
        t.append(time.perf_counter())
        with torch.inference_mode():
            raw = det.forward(x)
            sync()
            t.append(time.perf_counter())
            det.batched_nms(raw)
        t.append(time.perf_counter())
        for name, a, b in zip(("upload", "letterbox", "forward", "nms"), t, t[1:]):
            best[name] = min(best.get(name, 1e9), (b - a) * 1000)
    return {k: round(v, 2) for k, v in best.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--video", type=Path, required=True)
    parser.add_argument("--camera", type=Path, required=True)
    parser.add_argument("--model", type=Path, default=None, help="ONNX model (default: the committed one)")
    parser.add_argument("--pt", type=Path, default=None, help="ultralytics .pt for the FP16/TensorRT rows")
    parser.add_argument("--frames", type=int, default=256)
    parser.add_argument(
        "--detected-share", type=float, default=None,
        help="share of frames the default schedule detects on this video, measured elsewhere "
        "(bench.gpu's own CPU pipeline run needs the whole runtime environment); default: measure it here",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    import onnxruntime as ort

    from detectors.models import DEFAULT_VEHICLE_MODEL
    from detectors.onnx_yolo import OnnxYoloDetector

    model = args.model or DEFAULT_VEHICLE_MODEL
    frames = _frames(args.video, args.frames)
    report: dict = {
        "video": str(args.video),
        "size": [frames[0].shape[1], frames[0].shape[0]],
        "providers": ort.get_available_providers(),
        "detector_fps": {},
        "skipped": {},
    }
    try:
        import torch

        report["device"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA (torch)"
    except ImportError:
        report["device"] = "torch not installed"
    if "CUDAExecutionProvider" in ort.get_available_providers():
        det = OnnxYoloDetector(model, agnostic_nms=True, providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
        for b in BATCHES:
            report["detector_fps"][f"onnxruntime CUDA, batch {b}"] = round(_throughput(det, frames, b), 1)
    else:
        report["skipped"]["onnxruntime CUDA"] = "CUDAExecutionProvider missing: pip install onnxruntime-gpu"
    if args.pt is not None:
        try:
            from detectors.ultralytics_yolo import UltralyticsDetector

            variants = (
                ("ultralytics CUDA FP16, CPU letterbox", False, False),
                ("ultralytics CUDA FP16, device letterbox", False, True),
                ("ultralytics TensorRT FP16, device letterbox", True, True),
            )
            reference = OnnxYoloDetector(model, agnostic_nms=True, providers=["CPUExecutionProvider"])
            for name, trt, on_device in variants:
                if trt and importlib.util.find_spec("tensorrt") is None:
                    # The detector would fall back to PyTorch: that row would repeat the one above.
                    report["skipped"][name] = "tensorrt package not installed"
                    continue
                try:
                    det = UltralyticsDetector(args.pt, device="cuda:0", half=True, tensorrt=trt, agnostic_nms=True,
                                              max_batch=max(BATCHES), preprocess_on_device=on_device)
                    rows = {f"{name}, batch {b}": round(_throughput(det, frames, b), 1) for b in BATCHES}
                    report.setdefault("agreement_with_onnx_cpu", {})[name] = agreement(det, reference, frames[:32])
                    if on_device and getattr(det, "_net", None) is not None:
                        report.setdefault("device_path_ms_per_batch", {})[f"{name}, batch 32"] = device_path_stages(det, frames, 32)
                except (ValueError, RuntimeError) as exc:  # no CUDA device, no TensorRT
                    report["skipped"][name] = str(exc).splitlines()[0]
                    continue
                report["detector_fps"].update(rows)
        except ImportError as exc:
            report["skipped"]["ultralytics"] = str(exc)
    else:
        report["skipped"]["ultralytics"] = "no --pt checkpoint given"
    from bench.timing import decode_only

    dec = decode_only(args.video, args.frames)
    report["decode_one_core_fps"] = round(dec.frames / max(dec.cpu_s, 1e-9), 1)  # CPU cores a GPU's streams need
    if args.detected_share is not None:
        if not 0.0 < args.detected_share <= 1.0:
            raise SystemExit(f"error: --detected-share: expected 0 < share <= 1, got {args.detected_share}")
        share = {"share": args.detected_share, "measured": "given with --detected-share"}
    else:
        share = {"share": 1.0, "measured": "every frame: a detector that batches on a GPU is not scheduled (pipeline.run._schedule_for)"}
    report["schedule"] = share
    best = max(report["detector_fps"].values(), default=None)
    report["streams_per_gpu_every_frame"] = round(best / STREAM_FPS, 1) if best else None
    report["streams_per_gpu_default_schedule"] = round(best / (STREAM_FPS * share["share"]), 1) if best else None
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"device: {report['device']}; video {report['size'][0]}x{report['size'][1]}")
        for k, v in report["detector_fps"].items():
            print(f"  {k:40s} {v:8.1f} frames/s")
        for k, v in report["skipped"].items():
            print(f"  {k:40s} skipped: {v}")
        print(f"decode (OpenCV) on one CPU core: {report['decode_one_core_fps']} frames/s")
        print(f"detected share with the default schedule: {share['share']} ({share})")
        print(f"real-time {STREAM_FPS:.0f} fps streams per GPU: every frame {report['streams_per_gpu_every_frame']}, "
              f"default schedule {report['streams_per_gpu_default_schedule']} (detector-bound; decode on CPU/NVDEC)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""GPU throughput: how many real-time camera streams one GPU's detector keeps up with.

Run by ``bench/gpu.sh`` on a CUDA machine (it cannot run on a machine without one)::

    python -m bench.gpu --video scene-1920x1080.mp4 --camera camera.yaml [--json]

Measures, on frames of the video held in memory (decode runs on the CPU cores and is measured
by ``safecity bench``):

- onnxruntime with the CUDA execution provider, the committed ONNX model, batches of 1, 8, 32
  frames (one inference call each; frames of many cameras batched together);
- ultralytics on CUDA with FP16 (``.pt`` checkpoint), and its TensorRT engine when the
  ``tensorrt`` package is installed, same batches;
- the share of frames the default detection schedule sends to the detector on this video
  (``pipeline.run.ProcessOptions``: stride, motion gate), from one CPU pipeline run.

Streams per GPU (detector-bound) = best detector frames/s / (25 x detected share). It assumes
decode keeps up (NVDEC or enough CPU cores): the CPU figures of ``safecity bench`` say how many
cores that takes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

STREAM_FPS = 25.0
BATCHES = (1, 8, 32)


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


def detected_share(video: Path, camera: Path, model: Path) -> dict:
    """Run the pipeline once with the default options (CPU) and count what the schedule did."""
    from detectors.registry import create_detector
    from pipeline.config import load_camera_config
    from pipeline.run import ProcessOptions, process_video

    det = create_detector("onnx", model_path=model, agnostic_nms=True, providers=["CPUExecutionProvider"])
    config = load_camera_config(camera)
    result = process_video(
        video, config, hashlib.sha256(camera.read_bytes()).hexdigest(), det, "gpu-bench",
        Path(tempfile.mkdtemp(prefix="safecity-gpu-bench-")), ProcessOptions(),
    )
    counts = dict(result.schedule_counts)
    counts["frames"] = result.frames
    counts["share"] = round(counts.get("detected", result.frames) / max(1, result.frames), 3)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--video", type=Path, required=True)
    parser.add_argument("--camera", type=Path, required=True)
    parser.add_argument("--model", type=Path, default=None, help="ONNX model (default: the committed one)")
    parser.add_argument("--pt", type=Path, default=None, help="ultralytics .pt for the FP16/TensorRT rows")
    parser.add_argument("--frames", type=int, default=256)
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

            for trt in (False, True):
                name = "ultralytics TensorRT FP16" if trt else "ultralytics CUDA FP16"
                try:
                    det = UltralyticsDetector(args.pt, device="cuda:0", half=True, tensorrt=trt, agnostic_nms=True, max_batch=max(BATCHES))
                except (ValueError, RuntimeError) as exc:
                    report["skipped"][name] = str(exc)
                    continue
                for b in BATCHES:
                    report["detector_fps"][f"{name}, batch {b}"] = round(_throughput(det, frames, b), 1)
        except ImportError as exc:
            report["skipped"]["ultralytics"] = str(exc)
    else:
        report["skipped"]["ultralytics"] = "no --pt checkpoint given"
    share = detected_share(args.video, args.camera, model)
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
        print(f"detected share with the default schedule: {share['share']} ({share})")
        print(f"real-time {STREAM_FPS:.0f} fps streams per GPU: every frame {report['streams_per_gpu_every_frame']}, "
              f"default schedule {report['streams_per_gpu_default_schedule']} (detector-bound; decode on CPU/NVDEC)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

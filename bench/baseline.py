"""The naive baseline: ultralytics ``SpeedEstimator`` (``model.track`` on every frame) on a video.

Run as its own process, usually with the training environment's Python (it needs ultralytics,
torch and onnx, which the runtime does not)::

    .venv-train/bin/python -m bench.baseline --video scene.mp4 --model models/vehicles-yolov5n-coco.onnx

The model is the same ONNX our pipeline runs (a YOLOv5 export is rewritten for ultralytics'
output layout by :mod:`detectors.ultralytics_format`; an ultralytics export goes as it is), so
both spend the same network cost; ultralytics then letterboxes every frame to its 640 square,
tracks (its default tracker), estimates speeds and draws, frame by frame, as its documentation
shows. Decoding is inside the timed loop, as it is in our pipeline. Prints one JSON object: frames, wall_s, cpu_s, fps, fps_per_core.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path


def run_baseline(video: Path, model: Path, max_frames: int | None, threads: int | None) -> dict:
    """Time the SpeedEstimator over the video; the JSON-ready result."""
    from bench.timing import Timing, cpu_seconds
    from detectors.ultralytics_format import to_ultralytics_onnx
    from detectors.ultralytics_yolo import prepare_offline_env

    prepare_offline_env()
    import cv2
    import torch
    from ultralytics import __version__ as ultralytics_version
    from ultralytics import solutions

    if threads:
        torch.set_num_threads(threads)
    converted = to_ultralytics_onnx(
        model, Path(tempfile.mkdtemp(prefix="safecity-baseline-")) / "model.onnx"
    )
    rewritten = converted.read_bytes() != Path(model).read_bytes()
    capture = cv2.VideoCapture(str(video))
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    estimator = solutions.SpeedEstimator(model=str(converted), show=False, verbose=False, fps=fps)
    ok, first = capture.read()
    if not ok:
        raise ValueError(f"{video}: no decodable frame")
    estimator(first)  # warm-up: loads the session, builds the tracker
    frames = 0
    cpu0, wall0 = cpu_seconds(), time.perf_counter()
    while max_frames is None or frames < max_frames:
        ok, frame = capture.read()
        if not ok:
            break
        estimator(frame)
        frames += 1
    timing = Timing(frames, time.perf_counter() - wall0, cpu_seconds() - cpu0)
    capture.release()
    return {
        **timing.to_dict(),
        "ultralytics": ultralytics_version,
        "torch_threads": torch.get_num_threads(),
        "model": f"{model.name} (rewritten for ultralytics)" if rewritten else model.name,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--video", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True, help="YOLOv5 decoded-output ONNX")
    parser.add_argument("--frames", type=int, default=None, help="at most this many frames")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    args = parser.parse_args(argv)
    print(json.dumps(run_baseline(args.video, args.model, args.frames, args.threads)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

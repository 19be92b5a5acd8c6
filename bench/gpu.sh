#!/usr/bin/env bash
# The benchmark on a CUDA machine: streams per GPU (bench/gpu.py) and the CPU figures
# (safecity bench) of the same machine, both written under OUT (default ./gpu-bench-out).
#
#   bench/gpu.sh [OUT]
#
# Needs: an NVIDIA GPU with its driver; `pip install onnxruntime-gpu` in .venv for the CUDA
# execution provider; for the ultralytics rows .venv-train (torch with CUDA, ultralytics, and
# `tensorrt` for the TensorRT row). Nothing is downloaded at run time: the scene is generated,
# the models are the committed ones (.pt: ../shared/models/yolov5n_coco.pt unless PT is set).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-gpu-bench-out}
PY=${PY:-.venv/bin/python}
TRAIN_PY=${TRAIN_PY:-.venv-train/bin/python}
PT=${PT:-../shared/models/yolov5n_coco.pt}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
"$PY" -c "import onnxruntime as o; p=o.get_available_providers(); print(p); assert 'CUDAExecutionProvider' in p, 'pip install onnxruntime-gpu'"

# A generated 1080p scene with its camera config (the CPU bench writes both).
"$(dirname "$PY")/safecity" bench --seconds 10 --json --work-dir "$OUT/work" > "$OUT/cpu-bench.json"
VIDEO=$(ls "$OUT"/work/scene*-1920x1080.mp4 | head -1)
CAMERA=$(ls "$OUT"/work/*-1920x1080.yaml | head -1)

# onnxruntime CUDA (runtime venv) and ultralytics FP16 / TensorRT (training venv, if present).
PYTHONPATH=. "$PY" -m bench.gpu --video "$VIDEO" --camera "$CAMERA" --json > "$OUT/gpu-onnx.json"
if [ -x "$TRAIN_PY" ] && [ -f "$PT" ]; then
  YOLO_OFFLINE=1 PYTHONPATH=. "$TRAIN_PY" -m bench.gpu --video "$VIDEO" --camera "$CAMERA" --pt "$PT" --json > "$OUT/gpu-ultralytics.json" || echo "ultralytics rows failed (see above)"
fi
for f in "$OUT"/gpu-*.json; do
  "$PY" - "$f" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
print(sys.argv[1], d.get("device"))
for k, v in d["detector_fps"].items():
    print(f"  {k:40s} {v:8.1f} frames/s")
for k, v in d["skipped"].items():
    print(f"  {k:40s} skipped: {v}")
print("  streams per GPU: every frame", d["streams_per_gpu_every_frame"], "| default schedule", d["streams_per_gpu_default_schedule"])
PYEOF
done

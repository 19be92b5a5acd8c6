#!/usr/bin/env bash
# The benchmark on a CUDA machine: streams per GPU (bench/gpu.py), written under OUT (default
# ./gpu-bench-out), with the CPU figures (safecity bench) of the same machine when the project's
# runtime venv is there.
#
#   bench/gpu.sh [OUT]
#
# Environment (all optional):
#   PY        python with the project's runtime (default .venv/bin/python, else python3)
#   TRAIN_PY  python with torch (CUDA) and ultralytics (default .venv-train/bin/python, else python3)
#   PT        ultralytics checkpoint for the FP16/TensorRT rows (default: rebuilt from the
#             committed models/vehicles-yolov5nu-ft.onnx by detectors.pt_from_onnx, checked
#             against onnxruntime)
#   VIDEO, CAMERA  a 1080p video and its camera.yaml (default: the generated scene that
#             `safecity bench` writes, which needs the runtime venv)
#   DETECTED_SHARE the share of VIDEO's frames the detector sees (default 1.0: the pipeline gives
#             a GPU detector every frame, in batches)
#
# For the onnxruntime CUDA rows `pip install onnxruntime-gpu`; for TensorRT the `tensorrt`
# package. Rows whose package is missing are reported as skipped, with the reason. Nothing is
# downloaded at run time.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-gpu-bench-out}
if [ -x .venv/bin/python ]; then PY=${PY:-.venv/bin/python}; else PY=${PY:-python3}; fi
if [ -x .venv-train/bin/python ]; then TRAIN_PY=${TRAIN_PY:-.venv-train/bin/python}; else TRAIN_PY=${TRAIN_PY:-python3}; fi
export YOLO_OFFLINE=1 YOLO_AUTOINSTALL=False PYTHONPATH=.${PYTHONPATH:+:$PYTHONPATH}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
"$PY" -c "import onnxruntime as o; p=o.get_available_providers(); print('onnxruntime providers:', p)"

if [ -z "${VIDEO:-}" ]; then
  # A generated 1080p scene with its camera config (the CPU bench writes both).
  "$(dirname "$PY")/safecity" bench --seconds 10 --json --work-dir "$OUT/work" > "$OUT/cpu-bench.json"
  VIDEO=$(ls "$OUT"/work/scene*-1920x1080.mp4 | head -1)
  CAMERA=$(ls "$OUT"/work/*-1920x1080.yaml | head -1)
fi
SHARE_ARGS=()
if [ -n "${DETECTED_SHARE:-}" ]; then SHARE_ARGS=(--detected-share "$DETECTED_SHARE"); fi
if [ -z "${PT:-}" ]; then
  PT="$OUT/vehicles-yolov5nu-ft.pt"
  "$TRAIN_PY" -m detectors.pt_from_onnx models/vehicles-yolov5nu-ft.onnx "$PT" || PT=""
fi

# onnxruntime CUDA (runtime python), on the committed fine-tuned model so every row runs one model.
"$PY" -m bench.gpu --video "$VIDEO" --camera "$CAMERA" --model models/vehicles-yolov5nu-ft.onnx "${SHARE_ARGS[@]}" --json > "$OUT/gpu-onnx.json"
# ultralytics FP16 / TensorRT (torch python).
if [ -n "$PT" ]; then
  "$TRAIN_PY" -m bench.gpu --video "$VIDEO" --camera "$CAMERA" --model models/vehicles-yolov5nu-ft.onnx --pt "$PT" "${SHARE_ARGS[@]}" --json > "$OUT/gpu-ultralytics.json" || echo "ultralytics rows failed (see above)"
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
for k, v in d.get("agreement_with_onnx_cpu", {}).items():
    print(f"  agreement with the ONNX model on the CPU, {k}: {v}")
for k, v in d.get("device_path_ms_per_batch", {}).items():
    print(f"  device path ms per batch, {k}: {v}")
print("  decode (OpenCV) on one CPU core:", d.get("decode_one_core_fps"), "frames/s")
print("  streams per GPU: every frame", d["streams_per_gpu_every_frame"], "| default schedule", d["streams_per_gpu_default_schedule"])
PYEOF
done

"""``safecity bench``: the command function the ``safecity`` app mounts.

Mounted by ``safecity/cli.py``::

    app.command("bench")(bench_cmd)

Exit codes: 0 measured, 2 bad input (unreadable video or camera config, missing model).
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Optional

import typer

from safecity.errors import SafeCityError

EXIT_INPUT = 2


def bench_cmd(
    video: Annotated[
        Optional[Path],
        typer.Option("--video", help="video to measure (default: a generated scene)"),
    ] = None,
    camera: Annotated[
        Optional[Path],
        typer.Option("--camera", help="its camera.yaml (default: a generic calibration)"),
    ] = None,
    seconds: Annotated[
        float,
        typer.Option("--seconds", min=1.0, max=600.0, help="length of the generated scene, s"),
    ] = 10.0,
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON document")] = False,
    model: Annotated[
        Optional[Path],
        typer.Option("--model", help="ONNX vehicle model: a file or a committed model's name (vehicles-yolov5nu-ft, vehicles-yolov5nu-ft-int8, vehicles-yolov5n-coco, vehicles-yolov5n-coco-int8; default the first)"),
    ] = None,
    threads: Annotated[
        int, typer.Option("--threads", min=1, max=64, help="onnxruntime threads of our detector")
    ] = 1,
    baseline_python: Annotated[
        Optional[Path],
        typer.Option(
            "--baseline-python",
            help="Python with ultralytics for the naive baseline (default: this one, else .venv-train)",
        ),
    ] = None,
    work_dir: Annotated[
        Optional[Path],
        typer.Option(
            "--work-dir",
            help="folder for the generated/resized videos (default: a new temporary one)",
        ),
    ] = None,
) -> None:
    """Measure decode, detector, full pipeline and the naive ultralytics baseline; print ratios."""
    from bench.run import BenchSettings, run_bench
    from detectors.base import ModelFileError
    from detectors.models import resolve_model

    if video is not None and not video.is_file():
        typer.echo(f"error: {video}: video file not found", err=True)
        raise typer.Exit(EXIT_INPUT)
    try:
        model_path = resolve_model(model)
    except ModelFileError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_INPUT) from None
    folder = work_dir or Path(tempfile.mkdtemp(prefix="safecity-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    settings = BenchSettings(video, camera, seconds, model_path, threads, baseline_python)

    def step(text: str) -> None:
        if not json_out:
            typer.echo(f"... {text}", err=True)

    try:
        report = run_bench(settings, folder, on_step=step)
    except (SafeCityError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_INPUT) from exc
    document = report.to_dict()
    document["command"] = "safecity " + " ".join(sys.argv[1:]) if sys.argv else "safecity bench"
    if json_out:
        print(json.dumps(document, indent=2))
        return
    _print_text(document)


def _fmt(x: float | None, digits: int = 2) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _print_text(doc: dict) -> None:
    m, s = doc["machine"], doc["source"]
    lines = [
        f"machine: {m['cpu']}, {m['cores']} cores (load {m['load_avg_1m_at_start']} at start), onnxruntime {m['onnxruntime']}, detector threads {m['detector_threads']}",
        f"video: {s['video']} ({s['origin']}), {s['width']}x{s['height']} @ {s['fps']:.2f} fps, {s['frames']} frames",
        "",
        f"{'measurement':42s} {'frames':>6s} {'fps (wall)':>10s} {'fps / CPU core':>14s}",
    ]

    def row(name: str, t: dict) -> str:
        return f"{name:42s} {t['frames']:6d} {_fmt(t['fps'], 1):>10s} {_fmt(t['fps_per_core'], 1):>14s}"

    for label, t in doc["decode_only"].items():
        w, h = doc["sizes"][label]
        lines.append(row(f"(a) decode only, {label} {w}x{h}", t))
    for label, t in doc["detector_only"].items():
        lines.append(row(f"(b) detector only, {label}", t))
    for name, t in doc["steps"].items():
        lines.append(row(f"(c) source, {name}", t))
    for label, t in doc["every_frame_pipeline"].items():
        w, h = doc["sizes"][label]
        lines.append(row(f"(c) every frame, {label} {w}x{h}", t))
    for label, t in doc["pipeline"].items():
        w, h = doc["sizes"][label]
        lines.append(row(f"(c) full pipeline, {label} {w}x{h}", t))
    for label, t in doc["pipeline_with_evidence"].items():
        lines.append(row(f"(c) + evidence files, {label}", t))
    for label, t in doc.get("pipeline_with_plates", {}).items():
        lines.append(row(f"(c) + evidence files + plates, {label}", t))
    base = doc["baseline"]
    if base.get("status") == "ran":
        lines.append(row("(d) naive ultralytics SpeedEstimator", base["timing"]))
    else:
        lines.append(f"(d) naive ultralytics baseline {base.get('status')}: {base.get('reason')}")
    opts = ", ".join(f"{k}={v}" for k, v in doc["options"].items())
    lines += ["", f"(c) full pipeline options: {opts}", "", "ratios:"]
    lines += [f"  {k}: {_fmt(v)}" for k, v in doc["ratios"].items()]
    lines += [
        "",
        "(c) figures are decode..rules (the run's own clock); '+ evidence files' adds the stills and",
        "H.264 clips of every violation, a cost per violation, not per frame; '+ plates' also reads",
        f"the plate of every violating vehicle ({doc.get('plates', {}).get('violations')} violations, "
        f"{doc.get('plates', {}).get('plates_read')} plates read), as `safecity process` does.",
    ]
    print("\n".join(lines))

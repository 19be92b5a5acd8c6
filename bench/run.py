"""One benchmark run: every measurement on the same video and model, and the ratios between them.

(a) decode only; (b) the detector alone at batch 1 and 4; (c) the full pipeline
(``pipeline.run.process_video``) at the video's own resolution and on 1080p and 720p copies, as
frames/s and real-time 25 fps streams per CPU core; (d) the naive ultralytics baseline, in a
subprocess with a Python that has ultralytics (skipped, with the reason, when there is none).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import platform
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bench.sources import Source, from_video, generated_scene, resized, shared_clip
from bench.timing import Timing, decode_only, detector_only, full_pipeline, read_frames

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
SHARED_VIDEOS = REPO.parent / "shared" / "data" / "videos"
#: Frame rate the "real-time streams" figures are for.
STREAM_FPS = 25.0
#: (label, width, height) of the resized pipeline runs.
RESOLUTIONS = (("1080p25", 1920, 1080), ("720p25", 1280, 720))
#: The steps measured one by one on the source video, each adding one thing to the one
#: before; the last is the default ``ProcessOptions`` (a CPU detector's schedule). (label,
#: ProcessOptions overrides).
STEPS: tuple[tuple[str, dict], ...] = (
    ("every frame (before)", {"detect_stride": 1, "motion_gate": False, "roi_crop": False, "flow": False}),
    ("+ region crop", {"detect_stride": 1, "motion_gate": False, "roi_crop": True, "flow": False}),
    ("+ stride 3 with prediction", {"detect_stride": 3, "motion_gate": False, "roi_crop": True, "flow": False}),
    ("+ motion gate", {"detect_stride": 3, "motion_gate": True, "roi_crop": True, "flow": False}),
    ("+ optical flow", {"detect_stride": 3, "motion_gate": True, "roi_crop": True, "flow": True}),
)
BEFORE = STEPS[0][0]
#: The options of the "(c) full pipeline" rows and the headline ratios: the last step.
SCHEDULED = STEPS[-1][1]


@dataclass(frozen=True)
class BenchSettings:
    """What to measure.

    Attributes:
        video: a video file; None generates a scene (or falls back to a shared clip).
        camera: its camera.yaml; None writes a generic calibration for a ``video``.
        seconds: length of the generated scene, s.
        model: the ONNX vehicle model.
        threads: onnxruntime intra-op threads of our detector (1 = one stream per core).
        baseline_python: Python with ultralytics for (d); None tries this one, then
            ``.venv-train/bin/python`` of the repo.
        detector_frames: frames held in memory for (b).
    """

    video: Path | None
    camera: Path | None
    seconds: float
    model: Path
    threads: int = 1
    baseline_python: Path | None = None
    detector_frames: int = 48


@dataclass
class BenchReport:
    """Everything measured, JSON-ready through :meth:`to_dict`."""

    machine: dict
    source: dict
    decode: dict[str, Timing] = field(default_factory=dict)
    detector: dict[str, Timing] = field(default_factory=dict)
    pipeline: dict[str, Timing] = field(default_factory=dict)
    pipeline_with_evidence: dict[str, Timing] = field(default_factory=dict)
    # The defaults on the source with plates read for every violating vehicle (evidence included),
    # and what that run found: its pair is pipeline_with_evidence["source"] (plates off).
    pipeline_with_plates: dict[str, Timing] = field(default_factory=dict)
    plates: dict = field(default_factory=dict)
    before: dict[str, Timing] = field(default_factory=dict)
    steps: dict[str, Timing] = field(default_factory=dict)
    options: dict = field(default_factory=dict)
    sizes: dict[str, list[int]] = field(default_factory=dict)
    baseline: dict = field(default_factory=dict)

    def ratios(self) -> dict[str, float | None]:
        """The headline ratios (None where a side was not measured)."""
        out: dict[str, float | None] = {}
        for label, run in self.pipeline.items():
            decode = self.decode.get(label)
            out[f"pipeline / decode-only fps ({label})"] = _ratio(
                run.fps_per_core, decode.fps_per_core if decode else None
            )
            out[f"real-time {STREAM_FPS:.0f} fps streams per CPU core ({label})"] = round(
                run.streams_per_core(STREAM_FPS), 2
            )
            before = self.before.get(label)
            if before:
                out[f"pipeline / every-frame pipeline, per CPU second ({label})"] = _ratio(
                    run.fps_per_core, before.fps_per_core
                )
        on, off = self.pipeline_with_plates.get("source"), self.pipeline_with_evidence.get("source")
        if on and off:
            out["plates on / plates off, per CPU second, evidence included (source)"] = _ratio(on.fps_per_core, off.fps_per_core)
            out[f"real-time {STREAM_FPS:.0f} fps streams per CPU core, plates on, evidence included (source)"] = round(
                on.streams_per_core(STREAM_FPS), 2
            )
            out[f"real-time {STREAM_FPS:.0f} fps streams per CPU core, plates off, evidence included (source)"] = round(
                off.streams_per_core(STREAM_FPS), 2
            )
        native = self.pipeline.get("source")
        base = self.baseline.get("timing")
        out["pipeline / naive baseline, per CPU second (source)"] = (
            _ratio(native.fps_per_core, base.fps_per_core) if native and base else None
        )
        out["pipeline / naive baseline, wall-clock fps (source)"] = (
            _ratio(native.fps, base.fps) if native and base else None
        )
        old = self.before.get("source")
        out["every-frame pipeline / naive baseline, per CPU second (source)"] = (
            _ratio(old.fps_per_core, base.fps_per_core) if old and base else None
        )
        return out

    def to_dict(self) -> dict:
        return {
            "machine": self.machine,
            "source": self.source,
            "stream_fps": STREAM_FPS,
            "sizes": self.sizes,
            "decode_only": {k: v.to_dict() for k, v in self.decode.items()},
            "detector_only": {k: v.to_dict() for k, v in self.detector.items()},
            "options": self.options,
            "pipeline": {
                k: v.to_dict() | {"streams_per_core": round(v.streams_per_core(STREAM_FPS), 2)}
                for k, v in self.pipeline.items()
            },
            "pipeline_with_evidence": {k: v.to_dict() for k, v in self.pipeline_with_evidence.items()},
            "pipeline_with_plates": {k: v.to_dict() for k, v in self.pipeline_with_plates.items()},
            "plates": self.plates,
            "every_frame_pipeline": {
                k: v.to_dict() | {"streams_per_core": round(v.streams_per_core(STREAM_FPS), 2)}
                for k, v in self.before.items()
            },
            "steps": {k: v.to_dict() for k, v in self.steps.items()},
            "baseline": {
                k: (v.to_dict() if isinstance(v, Timing) else v) for k, v in self.baseline.items()
            },
            "ratios": self.ratios(),
        }


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def machine_info(threads: int) -> dict:
    import onnxruntime as ort

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_avg_1m_at_start": round(os.getloadavg()[0], 2),
        "onnxruntime": ort.__version__,
        "providers": ort.get_available_providers(),
        "detector_threads": threads,
        "python": platform.python_version(),
    }


def pick_source(settings: BenchSettings, work_dir: Path) -> Source:
    if settings.video is not None:
        return from_video(settings.video, settings.camera, work_dir)
    return generated_scene(work_dir, settings.seconds) or shared_clip(SHARED_VIDEOS, work_dir)


def find_baseline_python(explicit: Path | None) -> tuple[Path | None, str]:
    """The interpreter for the baseline and, when there is none, why."""
    if explicit is not None:
        return (
            (explicit, "")
            if explicit.is_file()
            else (None, f"--baseline-python {explicit} not found")
        )
    if importlib.util.find_spec("ultralytics") and importlib.util.find_spec("torch"):
        return Path(sys.executable), ""
    train = REPO / ".venv-train" / "bin" / "python"
    if train.is_file():
        return train, ""
    return None, (
        "ultralytics/torch not installed in this Python and no .venv-train found; "
        "pass --baseline-python PATH to a Python with ultralytics"
    )


def run_baseline(python: Path, video: Path, model: Path, max_frames: int, threads: int) -> dict:
    """Run :mod:`bench.baseline` in a subprocess; its result, or the reason it failed."""
    cmd = [
        str(python),
        "-m",
        "bench.baseline",
        "--video",
        str(video),
        "--model",
        str(model),
        "--frames",
        str(max_frames),
        "--threads",
        str(threads),
    ]
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    )
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {
            "status": "failed",
            "reason": f"{python} exited {proc.returncode}: {' | '.join(tail)}",
        }
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    timing = Timing(int(result["frames"]), float(result["wall_s"]), float(result["cpu_s"]))
    return {
        "status": "ran",
        "python": str(python),
        "timing": timing,
        **{k: result[k] for k in ("ultralytics", "torch_threads", "model")},
    }


def run_bench(settings: BenchSettings, work_dir: Path, on_step=None) -> BenchReport:
    """Measure (a)-(d); ``on_step(text)`` is told what runs next (for a progress line)."""
    from detectors.registry import create_detector

    step = on_step or (lambda text: logger.info("bench step=%s", text))
    step("preparing the video")
    source = pick_source(settings, work_dir)
    report = BenchReport(
        machine=machine_info(settings.threads),
        source={
            "video": str(source.video),
            "origin": source.origin,
            "width": source.width,
            "height": source.height,
            "fps": source.fps,
            "frames": source.frames,
            "model": str(settings.model),
        },
    )
    variants: dict[str, Source] = {"source": source}
    for label, width, height in RESOLUTIONS:
        step(f"writing the {label} copy")
        variants[label] = (
            source
            if (width, height) == (source.width, source.height)
            else resized(source, width, height, work_dir)
        )
    report.sizes = {k: [v.width, v.height] for k, v in variants.items()}

    detector = create_detector(
        "onnx", model_path=settings.model, agnostic_nms=True, intra_op_threads=settings.threads
    )
    for label, variant in variants.items():
        step(f"decode only ({label})")
        report.decode[label] = decode_only(variant.video)
    step("detector only")
    frames = read_frames(source.video, settings.detector_frames)
    for batch in (1, 4):
        report.detector[f"batch {batch}"] = detector_only(detector, frames, batch)
    from dataclasses import asdict, replace

    from pipeline.run import ProcessOptions

    defaults = ProcessOptions()
    report.options = {
        k: v for k, v in asdict(replace(defaults, **SCHEDULED)).items()
        if k in ("detect_stride", "motion_gate", "max_static_frames", "roi_crop", "roi_pad_frac", "dense_zone", "flow", "batch_size")
    }
    model_name = f"onnx:{settings.model.name}"

    def pipeline_run(variant: Source, options: ProcessOptions, **extra) -> tuple[Timing, Timing]:
        """``full_pipeline`` with a fresh detector; ``extra``: its plate_reader and outcome."""
        pipeline_detector = create_detector(
            "onnx", model_path=settings.model, agnostic_nms=True, intra_op_threads=settings.threads
        )
        return full_pipeline(variant.video, variant.camera, pipeline_detector, model_name, options, **extra)

    for name, overrides in STEPS:
        step(f"full pipeline, source, {name}")
        report.steps[name], with_evidence = pipeline_run(source, replace(defaults, **overrides))
    report.pipeline_with_evidence["source"] = with_evidence
    step("full pipeline, source, defaults + plates")
    from plates.reader import PlateReader

    outcome: dict = {}
    report.pipeline_with_plates["source"] = pipeline_run(
        source, replace(defaults, **SCHEDULED), plate_reader=PlateReader.create(), outcome=outcome
    )[1]
    report.plates = outcome
    report.pipeline["source"] = report.steps[STEPS[-1][0]]
    report.before["source"] = report.steps[BEFORE]
    seen = {(source.video, source.camera): "source"}
    for label, variant in variants.items():
        if label == "source":
            continue
        if (variant.video, variant.camera) in seen:  # the source itself: measured above
            report.pipeline[label] = report.pipeline[seen[(variant.video, variant.camera)]]
            report.before[label] = report.before[seen[(variant.video, variant.camera)]]
            continue
        step(f"full pipeline ({label}), every frame")
        report.before[label] = pipeline_run(variant, replace(defaults, **STEPS[0][1]))[0]
        step(f"full pipeline ({label}), defaults")
        report.pipeline[label], report.pipeline_with_evidence[label] = pipeline_run(variant, replace(defaults, **SCHEDULED))

    python, reason = find_baseline_python(settings.baseline_python)
    if python is None:
        report.baseline = {"status": "skipped", "reason": reason}
    else:
        step("naive ultralytics baseline")
        report.baseline = run_baseline(
            python, source.video, settings.model, source.frames, settings.threads
        )
    return report

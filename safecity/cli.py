"""The ``safecity`` command line."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from safecity.errors import SafeCityError

app = typer.Typer(
    name="safecity",
    help="Safe City video-fixation traffic enforcement: scenes, processing, evaluation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)
out = Console()

EXIT_INPUT = 2  # bad input or configuration
EXIT_FAILED = 1  # a check failed (e.g. evaluation below target)


def _fail(exc: Exception, code: int = EXIT_INPUT) -> None:
    err.print("[bold red]error:[/]", end=" ")
    err.print(str(exc), markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log progress to stderr")] = False) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")


@app.command("generate-scene")
def generate_scene_cmd(
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="folder to write scene.mp4, camera.yaml, truth.json")] = None,
    scenario: Annotated[str, typer.Option(help="scenario name (see --list)")] = "default",
    seed: Annotated[int, typer.Option(help="random seed: plates, colours, exact times and speeds")] = 0,
    duration_s: Annotated[Optional[float], typer.Option("--duration-s", help="override the scenario length, seconds")] = None,
    camera: Annotated[str, typer.Option("--camera", help="site geometry: kerb (default; every training scene), far-side, gantry or mast (held out)")] = "kerb",
    list_: Annotated[bool, typer.Option("--list", help="list the scenarios and exit")] = False,
) -> None:
    """Render a synthetic camera scene with exact ground truth."""
    from scenes.generate import generate_scene, list_scenarios

    if list_:
        for name in list_scenarios():
            out.print(name)
        return
    if out_dir is None:
        _fail(ValueError("--out is required (the folder to write the scene to)"))
    try:
        files = generate_scene(out_dir, scenario=scenario, seed=seed, duration_s=duration_s, camera=camera)
    except (ValueError, SafeCityError) as exc:
        _fail(exc)
    out.print(f"video  {files.video}\ncamera {files.camera}\ntruth  {files.truth}")


@app.command("process")
def process_cmd(
    video: Annotated[Path, typer.Argument(help="video file to process")],
    camera: Annotated[Path, typer.Option("--camera", help="camera config (camera.yaml)")],
    out_dir: Annotated[Path, typer.Option("--out", help="output folder: violations.json, tracks.json, evidence/")],
    db: Annotated[Optional[str], typer.Option("--db", help="SQLAlchemy URL (default: $SAFECITY_DB_URL, else SQLite in the home folder)")] = None,
    detector: Annotated[str, typer.Option("--detector", help="detector backend")] = "onnx",
    model: Annotated[Optional[Path], typer.Option("--model", help="detector model: a file, or a committed model's name (vehicles-yolov5nu-ft, vehicles-yolov5nu-ft-int8, vehicles-yolov5n-coco, vehicles-yolov5n-coco-int8; default the first)")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, max=64, help="frames per inference call")] = 4,
    detect_every: Annotated[int, typer.Option("--detect-every", min=1, max=10, help="decimate: track only every n-th frame (lossy; 1 = all)")] = 1,
    detect_stride: Annotated[Optional[int], typer.Option("--detect-stride", min=1, max=10, help="detect at least every n-th frame, optical flow or the tracker carrying boxes between (default 3; 1 = every frame; a GPU detector always gets every frame; docs/performance.md)")] = None,
    motion_gate: Annotated[Optional[bool], typer.Option("--motion-gate/--no-motion-gate", help="skip frames in which nothing moved (default on)")] = None,
    roi_crop: Annotated[Optional[bool], typer.Option("--roi-crop/--no-roi-crop", help="detect only in the lanes/lines/zones' region (default on)")] = None,
    dense_zone: Annotated[Optional[bool], typer.Option("--dense-zone/--no-dense-zone", help="with a stride, still detect every frame while a vehicle is in the measurement zone (default off; docs/performance.md)")] = None,
    flow: Annotated[Optional[bool], typer.Option("--flow/--no-flow", help="with a stride, measure the frames the detector skips by optical flow from the frame before (default on; --no-flow: predict them, no observation)")] = None,
    local_detect: Annotated[Optional[bool], typer.Option("--local-detect/--no-local-detect", help="with flow, detect a frame forced by new or lost tracks only in a window of the view around them (default off; docs/performance.md)")] = None,
    track_repair: Annotated[bool, typer.Option("--track-repair/--no-track-repair", help="split identity switches and stitch broken tracks in road metres before the rules (docs/tracking.md)")] = True,
    ground_point: Annotated[bool, typer.Option("--ground-point/--no-ground-point", help="put each vehicle point on its centre line across the road, from the camera pose and a vehicle model (docs/tracking.md)")] = True,
    ground_point_along: Annotated[bool, typer.Option("--ground-point-along/--no-ground-point-along", help="with --ground-point, also put it on the modelled bumper nearest the camera along the road")] = True,
    plates: Annotated[bool, typer.Option("--plates/--no-plates", help="read the plate of each violating vehicle")] = True,
    plate_model: Annotated[Optional[str], typer.Option("--plate-model", help="plate-detector model: a file, or a committed name (plates-yolov8n, plates-yolov8n-ft; default the first)")] = None,
    registry: Annotated[Optional[str], typer.Option("--registry", help="match plates in the vehicle registry: sql:URL or http://host:port (default: no match; `safecity registry-match --unmatched` later)")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print only machine-readable JSON")] = False,
) -> None:
    """Detect, track and apply the rules to a video; store violations and evidence."""
    from pipeline.config import load_camera_config
    from pipeline.run import ProcessOptions, process_video, result_document, tracks_document, write_json_atomic
    from exchange.home import init_home
    from pipeline.manifest import EvidenceSigner
    from safecity.composition import build_detector, build_evidence_store, store_result

    try:
        config = load_camera_config(camera)
        config_sha = hashlib.sha256(camera.read_bytes()).hexdigest()
        det, model_name = build_detector(detector, model)
        reader = None
        if plates:
            from plates.reader import PlateReader

            reader = PlateReader.create(model=plate_model)
        home = init_home()  # idempotent: creates keys on first use, never overwrites
        progress_cb, progress_done = _progress(json_out)
        # SAFECITY_EVIDENCE_URL=s3://... puts the evidence there; else the folder under --out.
        evidence_store = build_evidence_store(out_dir / "evidence")
        result = process_video(
            video, config, config_sha, det, model_name, evidence_store,
            ProcessOptions(batch_size=batch_size, detect_every=detect_every, track_repair=track_repair, ground_point=ground_point, ground_point_along=ground_point_along, **_schedule_options(detect_stride, motion_gate, roi_crop, dense_zone, flow, local_detect)), on_progress=progress_cb, plate_reader=reader,
            signer=EvidenceSigner.from_home(home),
        )
        progress_done()
        db_url = db or home.default_db_url
        added, existing = store_result(db_url, result, home, dt.datetime.now(dt.timezone.utc))
        matches = []
        if registry:
            from registry_adapters.matching import match_many

            matches = match_many(db_url, registry, home, ids=[v.id for v in result.violations])
        write_json_atomic(out_dir / "tracks.json", tracks_document(result))
        write_json_atomic(out_dir / "violations.json", result_document(result))
    except (SafeCityError, ValueError) as exc:
        _fail(exc)
    if json_out:
        print(json.dumps(result_document(result), ensure_ascii=False))
        return
    from pipeline.evidence import FolderEvidenceStore

    _print_violations(result, str(out_dir / "evidence") if isinstance(evidence_store, FolderEvidenceStore) else evidence_store.location)
    err.print(
        f"{result.frames} frames in {result.seconds:.1f} s ({result.fps:.1f} fps); "
        f"{len(result.tracks)} tracks; {added} violations stored, {existing} already present",
        highlight=False,
    )
    if registry:
        counts: dict[str, int] = {}
        for m in matches:
            counts[m.status] = counts.get(m.status, 0) + 1
        err.print("registry: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "no violations"), highlight=False)


def _progress(quiet: bool):
    if quiet or not sys.stderr.isatty():
        return None, lambda: None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    bar = Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=err, transient=True)
    task = bar.add_task("frames", total=None)
    bar.start()

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total or None)

    return update, bar.stop


def _print_violations(result, evidence_at: str) -> None:
    table = Table(title=f"{result.camera.id}: {len(result.violations)} violations", title_justify="left")
    for col in ("type", "track", "time (UTC)", "speed km/h", "limit", "signal", "plate", "evidence"):
        table.add_column(col)
    for v in result.violations:
        plate = v.plate_text or (f"? {v.plate_guess} (unreadable)" if v.plate_guess else (v.plate_status or ""))
        table.add_row(
            v.type, str(v.track_id), v.first_time_utc[11:23],
            f"{v.speed_kmh:.1f}" if v.speed_kmh is not None else "",
            f"{v.limit_kmh:.0f}" if v.limit_kmh else "", v.signal_state or "", plate,
            f"{evidence_at}/{v.id}",
        )
    out.print(table)


@app.command("eval")
def eval_cmd(
    truth: Annotated[Path, typer.Option("--truth", help="truth.json of a generated scene")],
    result: Annotated[Path, typer.Option("--result", help="violations.json written by `safecity process` (tracks.json beside it)")],
    json_out: Annotated[bool, typer.Option("--json", help="print only machine-readable JSON")] = False,
) -> None:
    """Score a processing result against a scene's exact ground truth."""
    from evaluation.scoring import evaluate_files

    try:
        report = evaluate_files(truth, result)
    except (SafeCityError, ValueError) as exc:
        _fail(exc)
    if json_out:
        print(json.dumps(report.to_dict(), indent=2))
        return
    from evaluation.report import print_report

    print_report(report, out)


@app.command("eval-suite")
def eval_suite_cmd(
    scenarios: Annotated[str, typer.Option("--scenarios", help="comma-separated scenario names")] = "default,night",
    seeds: Annotated[str, typer.Option("--seeds", help="comma-separated seeds")] = "1,2",
    suite_file: Annotated[Optional[Path], typer.Option(
        "--suite", help="a committed suite definition (e.g. scenes/suites/full.yaml); replaces --scenarios/--seeds")] = None,
    work_dir: Annotated[Path, typer.Option("--work-dir", help="where scenes and runs are written")] = Path("suite-out"),
    duration_s: Annotated[Optional[float], typer.Option("--duration-s", help="override every scenario's length, s")] = None,
    camera: Annotated[str, typer.Option("--camera", help="site geometry of --scenarios' scenes: kerb (default; every training scene), far-side, gantry or mast (held out); a suite file names its own")] = "kerb",
    detect_every: Annotated[int, typer.Option("--detect-every", min=1, max=10, help="decimate: track only every n-th frame (lossy; 1 = all)")] = 1,
    detect_stride: Annotated[Optional[int], typer.Option("--detect-stride", min=1, max=10, help="detect at least every n-th frame, optical flow or the tracker carrying boxes between (default 3; 1 = every frame; a GPU detector always gets every frame; docs/performance.md)")] = None,
    motion_gate: Annotated[Optional[bool], typer.Option("--motion-gate/--no-motion-gate", help="skip frames in which nothing moved (default on)")] = None,
    roi_crop: Annotated[Optional[bool], typer.Option("--roi-crop/--no-roi-crop", help="detect only in the lanes/lines/zones' region (default on)")] = None,
    dense_zone: Annotated[Optional[bool], typer.Option("--dense-zone/--no-dense-zone", help="with a stride, still detect every frame while a vehicle is in the measurement zone (default off; docs/performance.md)")] = None,
    flow: Annotated[Optional[bool], typer.Option("--flow/--no-flow", help="with a stride, measure the frames the detector skips by optical flow from the frame before (default on; --no-flow: predict them, no observation)")] = None,
    local_detect: Annotated[Optional[bool], typer.Option("--local-detect/--no-local-detect", help="with flow, detect a frame forced by new or lost tracks only in a window of the view around them (default off; docs/performance.md)")] = None,
    track_repair: Annotated[bool, typer.Option("--track-repair/--no-track-repair", help="split identity switches and stitch broken tracks in road metres before the rules (docs/tracking.md)")] = True,
    ground_point: Annotated[bool, typer.Option("--ground-point/--no-ground-point", help="put each vehicle point on its centre line across the road, from the camera pose and a vehicle model (docs/tracking.md)")] = True,
    ground_point_along: Annotated[bool, typer.Option("--ground-point-along/--no-ground-point-along", help="with --ground-point, also put it on the modelled bumper nearest the camera along the road")] = True,
    model: Annotated[Optional[Path], typer.Option("--model", help="detector model: a file, or a committed model's name (vehicles-yolov5nu-ft, vehicles-yolov5nu-ft-int8, vehicles-yolov5n-coco, vehicles-yolov5n-coco-int8; default the first)")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print only machine-readable JSON")] = False,
) -> None:
    """Generate fresh scenes, process them with the real detector, and pool the scores."""
    from evaluation.report import print_report
    from detectors.models import model_identity, resolve_model
    from evaluation.suite import ScenePick, load_suite, run_scenes
    from safecity.composition import build_detector
    from scenes.camera import camera_view

    try:
        model_path = resolve_model(model)  # before any scene is rendered: a bad path exits 2 at once
        identity = model_identity(model_path)
        if suite_file is not None:
            pairs = load_suite(suite_file).pairs()
        else:
            seed_list = [int(s) for s in seeds.split(",") if s.strip()]
            camera_view(camera)  # an unknown view exits 2 before anything is rendered
            pairs = [ScenePick(s.strip(), seed, camera) for s in scenarios.split(",") if s.strip() for seed in seed_list]
        det, model_name = build_detector("onnx", model_path)
        from pipeline.run import ProcessOptions

        suite = run_scenes(pairs, work_dir, det, model_name, duration_s, ProcessOptions(detect_every=detect_every, track_repair=track_repair, ground_point=ground_point, ground_point_along=ground_point_along, **_schedule_options(detect_stride, motion_gate, roi_crop, dense_zone, flow, local_detect)))
    except (SafeCityError, ValueError) as exc:
        _fail(exc)
    pooled = suite.pooled()
    if json_out:
        doc = {"model": identity, **pooled.to_dict()}
        doc["scenes"] = [{"scenario": p.scenario, "seed": p.seed, "camera": p.camera, **rep.to_dict()}
                         for p, rep in suite.scenes]
        doc["frames"], doc["seconds"] = suite.frames, round(suite.seconds, 2)
        print(json.dumps(doc, indent=2))
        return
    out.print(f"model {identity['file']} (sha256 {identity['sha256']})", highlight=False)
    out.print(f"{len(suite.scenes)} scenes, {suite.frames} frames, pooled:", highlight=False)
    print_report(pooled, out)


def _schedule_options(
    detect_stride: int | None, motion_gate: bool | None, roi_crop: bool | None, dense_zone: bool | None = None,
    flow: bool | None = None, local_detect: bool | None = None,
) -> dict:
    """The detection-schedule flags given on the command line (the rest keep ProcessOptions' defaults)."""
    given = {"detect_stride": detect_stride, "motion_gate": motion_gate, "roi_crop": roi_crop, "dense_zone": dense_zone,
             "flow": flow, "local_detect": local_detect}
    return {k: v for k, v in given.items() if v is not None}


def _mount_subcommands() -> None:
    from bench.cli import bench_cmd
    from detectors.cli import detect_cmd, eval_detector_cmd, quantize_detector_cmd
    from exchange.cli import audit_app, init_command
    from notices.cli import notices_app
    from pipeline.evidence_cli import evidence_app
    from pipeline.signals_cli import signals_app
    from plates.cli import eval_plates_cmd, plates_cmd
    from store.cli import db_app
    from registry_adapters.cli import registry_match_cmd, registry_serve_cmd, seed_registry_cmd
    from workers.ops_cli import cameras_app, live_cmd, status_cmd
    from workers.cli import job_cmd, submit_cmd, worker_bench_cmd, worker_cmd
    from web.cli import serve_command, users_app

    app.command("detect")(detect_cmd)
    app.command("eval-detector")(eval_detector_cmd)
    app.command("quantize-detector")(quantize_detector_cmd)
    app.command("bench")(bench_cmd)
    app.command("plates")(plates_cmd)
    app.command("eval-plates")(eval_plates_cmd)
    app.command("registry-serve")(registry_serve_cmd)
    app.command("seed-registry")(seed_registry_cmd)
    app.command("registry-match")(registry_match_cmd)
    app.command("init")(init_command)
    app.add_typer(audit_app, name="audit")
    app.add_typer(notices_app, name="notices")
    app.add_typer(evidence_app, name="evidence")
    app.add_typer(signals_app, name="signals")
    app.add_typer(db_app, name="db")
    app.add_typer(cameras_app, name="cameras")
    app.command("status")(status_cmd)
    app.command("live")(live_cmd)
    app.command("worker")(worker_cmd)
    app.command("submit")(submit_cmd)
    app.command("job")(job_cmd)
    app.command("worker-bench")(worker_bench_cmd)
    app.command("serve")(serve_command)
    app.add_typer(users_app, name="users")


_mount_subcommands()


def main() -> None:  # pragma: no cover - console entry
    app()

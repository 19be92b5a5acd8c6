"""``safecity worker``, ``safecity submit`` and ``safecity job``: the distributed file pipeline."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from safecity.errors import SafeCityError

err = Console(stderr=True)
out = Console()


def _fail(exc: BaseException, code: int = 2) -> None:
    err.print("[bold red]error:[/]", end=" ")
    err.print(str(exc), markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _settings(db: str | None, broker: str | None = None, **overrides):
    from pydantic import ValidationError

    from workers.settings import load_settings

    try:
        return load_settings(db_url=db, broker_url=broker, **overrides)
    except ValidationError as exc:
        _fail(ValueError(f"worker settings: {exc}"))


def pool_for(device: str, concurrency: int) -> str:
    """The Celery pool for a device (docs/workers.md).

    CPU: ``prefork``: one process per slot, each with its own onnxruntime session and
    intra-op threads, isolated from the others (a crash or ``kill -9`` of one loses only its
    task, which is redelivered). CUDA: a CUDA context cannot cross ``fork``, so ``solo`` for one
    slot and ``threads`` for more (one session per process, shared by the threads;
    onnxruntime's ``run`` is thread-safe and releases the GIL).
    """
    if device == "cpu":
        return "prefork"
    return "solo" if concurrency == 1 else "threads"


def worker_cmd(
    queues: Annotated[str, typer.Option("--queues", help="comma-separated: detect.gpu, detect.cpu, plates, registry, exchange, backup")] = "detect.cpu",
    device: Annotated[str, typer.Option("--device", help="cpu or cuda:N: where detection runs")] = "cpu",
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=256, help="tasks at once (pool processes or threads)")] = 1,
    threads: Annotated[Optional[int], typer.Option("--threads", min=1, max=256, help="onnxruntime threads per slot (default: cores / concurrency)")] = None,
    pool: Annotated[Optional[str], typer.Option("--pool", help="override the pool: prefork, solo, threads")] = None,
    name: Annotated[Optional[str], typer.Option("--name", help="worker node name (default safecity-<device>-<pid>@<host>)")] = None,
    db: Annotated[Optional[str], typer.Option("--db", help="SQLAlchemy URL (default: $SAFECITY_DB_URL, else the home SQLite)")] = None,
    broker: Annotated[Optional[str], typer.Option("--broker", help="broker URL (default: $SAFECITY_BROKER_URL, else redis://127.0.0.1:6379/0)")] = None,
    loglevel: Annotated[str, typer.Option("--loglevel", help="Celery log level")] = "INFO",
) -> None:
    """Run a Celery worker on this machine for the given queues and device."""
    from workers.app import create_app
    from workers.routing import check_queues, detect_queue

    try:
        queue_list = check_queues([q.strip() for q in queues.split(",") if q.strip()])
        detect_queue(device)
        if pool is not None and pool not in ("prefork", "solo", "threads"):
            raise ValueError(f"--pool: expected prefork, solo or threads, got {pool!r}")
        if pool == "prefork" and device != "cpu":
            raise ValueError("--pool prefork cannot run CUDA: a CUDA context does not survive fork (use solo or threads)")
        from workers.jobs import require_gpu_backend

        backends = require_gpu_backend(device)
        if backends:
            err.print(f"GPU detector backends on this machine: {', '.join(backends)}", highlight=False)
    except ValueError as exc:
        _fail(exc)
    settings = _settings(db, broker)
    chosen = pool or pool_for(device, concurrency)
    if threads is None and device == "cpu":
        threads = max(1, (os.cpu_count() or 1) // concurrency)
    from exchange.home import init_home

    try:
        # Keys and roster before the pool forks: processes must not race to create them.
        init_home()
    except SafeCityError as exc:
        _fail(exc)
    app = create_app(settings, device=device, threads=threads)
    node = name or f"safecity-{device.replace(':', '')}-{os.getpid()}@%h"
    argv = [
        "worker", f"--queues={','.join(queue_list)}", f"--concurrency={concurrency}", f"--pool={chosen}",
        f"--loglevel={loglevel}", f"--hostname={node}", "--without-gossip", "--without-mingle", "--task-events",
    ]
    err.print(f"worker {node}: queues={','.join(queue_list)} device={device} pool={chosen} concurrency={concurrency} threads={threads}", highlight=False)
    app.worker_main(argv)


def submit_cmd(
    video: Annotated[Path, typer.Argument(help="video file (at a path every worker can read)")],
    camera: Annotated[Path, typer.Option("--camera", help="camera config (camera.yaml)")],
    device: Annotated[str, typer.Option("--device", help="cpu or cuda: routes to detect.cpu / detect.gpu")] = "cpu",
    detector: Annotated[str, typer.Option("--detector", help="detector backend (onnx, ultralytics, motion)")] = "onnx",
    model: Annotated[Optional[str], typer.Option("--model", help="detector model: a committed model's name, or a file every worker can read (an ultralytics .pt for --detector ultralytics: python -m detectors.pt_from_onnx)")] = None,
    plates: Annotated[bool, typer.Option("--plates/--no-plates", help="read the plate of each violating vehicle")] = True,
    defer_plates: Annotated[bool, typer.Option("--defer-plates", help="read plates on the plates queue after each segment is stored (safecity.read_plate), not inside the segment")] = False,
    registry: Annotated[Optional[str], typer.Option("--registry", help="match each stored violation on the registry queue (safecity.match_registry): sql:URL or http://host:port")] = None,
    detect_every: Annotated[int, typer.Option("--detect-every", min=1, max=10, help="detect on every n-th frame")] = 1,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", min=1, max=64, help="frames per inference call (default 32 on cuda, 4 on cpu: docs/performance.md)")] = None,
    segment_s: Annotated[Optional[float], typer.Option("--segment-s", help="core length of a segment, s (default $SAFECITY_SEGMENT_S or 60)")] = None,
    warmup_s: Annotated[Optional[float], typer.Option("--warmup-s", help="decoded before each core, s")] = None,
    evidence: Annotated[Optional[str], typer.Option("--evidence", help="evidence folder shared by the workers, or s3://bucket/prefix (default: $SAFECITY_EVIDENCE_URL, else $SAFECITY_EVIDENCE_ROOT)")] = None,
    db: Annotated[Optional[str], typer.Option("--db", help="SQLAlchemy URL shared with the workers")] = None,
    broker: Annotated[Optional[str], typer.Option("--broker", help="broker URL")] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="wait for the job to finish")] = False,
    timeout_s: Annotated[float, typer.Option("--timeout-s", help="with --wait: give up after, s")] = 3600.0,
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="with --wait: write violations.json and tracks.json here")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print only machine-readable JSON")] = False,
) -> None:
    """Submit a video to the workers, split into overlapping segments processed in parallel."""
    from workers.app import create_app
    from workers.jobs import SubmitRequest, WorkerContext, enqueue, submit_job

    settings = _settings(db, broker, segment_s=segment_s, warmup_s=warmup_s)
    ctx = WorkerContext(settings)
    try:
        where = evidence if evidence is None or evidence.startswith("s3://") else Path(evidence)
        if model is not None:
            from detectors.models import resolve_model

            resolve_model(model)  # a name or a file this machine cannot find is refused before any work
        from workers.jobs import default_batch_size

        options = {"detect_every": detect_every, "batch_size": batch_size or default_batch_size(device)}
        req = SubmitRequest(video, camera, device, detector, model, plates, options, where,
                            plates_deferred=defer_plates, registry=registry)
        sub = submit_job(ctx, req)
        sent = enqueue(create_app(settings), ctx, sub.job_id)
    except (SafeCityError, ValueError) as exc:
        _fail(exc)
    doc = {"job_id": sub.job_id, "created": sub.created, "segments": len(sub.segment_ids), "enqueued": sent, "frames": sub.frame_count}
    if not wait:
        print(json.dumps(doc)) if json_out else err.print(
            f"job {sub.job_id}: {len(sub.segment_ids)} segments, {sent} enqueued ({'new' if sub.created else 'already submitted'})", highlight=False)
        return
    _finish(ctx, sub.job_id, timeout_s, out_dir, json_out)


def job_cmd(
    job_id: Annotated[str, typer.Argument(help="job id printed by `safecity submit`")],
    db: Annotated[Optional[str], typer.Option("--db", help="SQLAlchemy URL shared with the workers")] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="wait for the job to finish")] = False,
    timeout_s: Annotated[float, typer.Option("--timeout-s", help="with --wait: give up after, s")] = 3600.0,
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="write violations.json and tracks.json here")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print only machine-readable JSON")] = False,
    retry: Annotated[bool, typer.Option("--retry-failed", help="send the failed segments again (after fixing the cause)")] = False,
    broker: Annotated[Optional[str], typer.Option("--broker", help="broker URL (with --retry-failed)")] = None,
) -> None:
    """Show a distributed job: its segments, their state, and its violations."""
    from workers.jobs import WorkerContext

    ctx = WorkerContext(_settings(db, broker))
    if retry:
        from workers.app import create_app
        from workers.jobs import enqueue, retry_failed

        try:
            reset = retry_failed(ctx, job_id)
            sent = enqueue(create_app(ctx.settings), ctx, job_id)
        except (SafeCityError, ValueError) as exc:
            _fail(exc)
        err.print(f"job {job_id}: {reset} failed segments requeued, {sent} messages sent", highlight=False)
    _finish(ctx, job_id, timeout_s if wait else 0.0, out_dir, json_out)


def _finish(ctx, job_id: str, timeout_s: float, out_dir: Path | None, json_out: bool) -> None:
    from pipeline.run import write_json_atomic
    from workers.jobs import job_document, job_tracks_document, job_view, wait_for_job

    try:
        view = wait_for_job(ctx, job_id, timeout_s) if timeout_s > 0 else job_view(ctx, job_id)
    except (TimeoutError, ValueError, SafeCityError) as exc:
        _fail(exc, 1 if isinstance(exc, TimeoutError) else 2)
    doc = job_document(view)
    if out_dir is not None:
        write_json_atomic(out_dir / "tracks.json", job_tracks_document(view))
        write_json_atomic(out_dir / "violations.json", doc)
    if json_out:
        print(json.dumps(doc, default=str))
    else:
        out.print(f"job {job_id}: {doc['status']}, {len(doc['violations'])} violations", highlight=False)
        for s in doc["segments"]:
            out.print(
                f"  segment {s['index']}: core {s['core_start']}-{s['core_end']} decoded {s['decoded_from']}-{s['decoded_to']} "
                f"{s['status']} attempts={s['attempts']} worker={s['worker']}" + (f" error={s['error']}" if s["error"] else ""),
                highlight=False, markup=False,
            )
    if doc["status"] == "failed":
        raise typer.Exit(1)


def worker_bench_cmd(
    cameras: Annotated[int, typer.Option("--cameras", min=1, max=64, help="generated cameras (one job each)")] = 4,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="worker processes on this machine")] = 2,
    duration_s: Annotated[float, typer.Option("--duration-s", help="length of each generated scene, s")] = 10.0,
    segment_s: Annotated[float, typer.Option("--segment-s", help="core length of a segment, s")] = 60.0,
    detector: Annotated[str, typer.Option("--detector", help="detector backend (onnx, motion)")] = "onnx",
    detect_every: Annotated[int, typer.Option("--detect-every", min=1, max=10, help="detect on every n-th frame")] = 1,
    threads: Annotated[int, typer.Option("--threads", min=1, max=64, help="onnxruntime threads per worker")] = 1,
    work_dir: Annotated[Optional[Path], typer.Option("--work-dir", help="scenes (reused), database, evidence, logs (default <home>/worker-bench)")] = None,
    broker: Annotated[str, typer.Option("--broker", help="Redis URL (keys under a prefix of this run, deleted afterwards)")] = "redis://127.0.0.1:6379/13",
    json_out: Annotated[bool, typer.Option("--json", help="print only machine-readable JSON")] = False,
) -> None:
    """Scale test: N generated cameras across M worker processes; throughput and lag."""
    import uuid

    from workers.bench import ensure_scenes, report_json, run_bench
    from workers.settings import load_settings

    if work_dir is None:
        from exchange.home import home_path

        work_dir = home_path() / "worker-bench"
    work_dir = work_dir.resolve()
    run_dir = work_dir / f"run-{uuid.uuid4().hex[:8]}"
    try:
        scenes = ensure_scenes(work_dir / "scenes", cameras, duration_s)
        settings = load_settings(
            broker_url=broker, db_url=f"sqlite:///{run_dir / 'bench.sqlite'}", evidence_root=run_dir / "evidence", segment_s=segment_s,
            key_prefix=f"safecity-bench-{run_dir.name}:",
        )
        run_dir.mkdir(parents=True, exist_ok=True)
        try:
            report = run_bench(settings, scenes, workers, detector, detect_every, log_dir=run_dir / "logs")
        finally:
            import redis

            client = redis.Redis.from_url(broker)
            for k in client.scan_iter(match=f"{settings.key_prefix}*"):
                client.delete(k)
            client.close()
    except (SafeCityError, ValueError, TimeoutError) as exc:
        _fail(exc)
    if json_out:
        print(report_json(report))
        return
    r = report
    out.print(
        f"{r.cameras} cameras x {duration_s:g} s on {r.workers} workers ({r.detector}): {r.segments} segments, "
        f"{r.frames_decoded} frames in {r.wall_s} s = {r.frames_per_s} frames/s, real-time factor {r.realtime_factor}; "
        f"lag median {r.lag_s_median} s max {r.lag_s_max} s; queue wait median {r.queue_wait_s_median} s max {r.queue_wait_s_max} s; "
        f"{r.violations} violations, {r.failed_jobs} failed jobs",
        highlight=False,
    )

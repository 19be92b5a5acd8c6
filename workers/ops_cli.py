"""Operator commands: ``safecity cameras add|list|assign``, ``safecity status``, ``safecity live``."""

from __future__ import annotations

import json
import logging
import os
import signal
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from safecity.errors import SafeCityError

log = logging.getLogger(__name__)
out = Console()
err = Console(stderr=True)

EXIT_INPUT = 2
EXIT_UNAVAILABLE = 3  # Redis or the database cannot be reached

cameras_app = typer.Typer(help="Register live cameras and choose where they run.", no_args_is_help=True)

DbOpt = Annotated[Optional[str], typer.Option("--db", help="SQLAlchemy URL (default: $SAFECITY_DB_URL, else SQLite in the home folder)")]
RedisOpt = Annotated[Optional[str], typer.Option("--redis-url", help="coordination Redis (default: $SAFECITY_REDIS_URL, $SAFECITY_BROKER_URL, redis://127.0.0.1:6379/0)")]
PrefixOpt = Annotated[str, typer.Option("--prefix", envvar="SAFECITY_KEY_PREFIX", help="Redis key prefix of this deployment")]


def _fail(message: str, code: int = EXIT_INPUT) -> None:
    err.print("[bold red]error:[/]", end=" ")
    err.print(message, markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _db_url(db: str | None) -> str:
    from exchange.home import home_path

    return db or os.environ.get("SAFECITY_DB_URL") or f"sqlite:///{(home_path() / 'safecity.sqlite').resolve()}"


def _sessions(db: str | None):
    """(engine, sessionmaker) with the registry tables present."""
    from store.db import init_db, make_engine, session_factory

    import workers.live_models  # noqa: F401 - registers the registry tables on Base

    url = _db_url(db)
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url)
    try:
        init_db(engine)
    except Exception as exc:
        _fail(f"database {engine.url.render_as_string(hide_password=True)}: cannot open ({type(exc).__name__}: {exc})", EXIT_UNAVAILABLE)
    return engine, session_factory(engine)


def _redis(url: str | None):
    import redis

    from workers.live import default_redis_url

    url = url or default_redis_url()
    client = redis.Redis.from_url(url, decode_responses=True, socket_connect_timeout=3, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        _fail(f"redis {url.split('@')[-1]}: not reachable ({exc})", EXIT_UNAVAILABLE)
    return client


def _camera_doc(c) -> dict:
    from workers.live_models import redact_url

    return {"camera_id": c.id, "stream_url": redact_url(c.stream_url), "config_path": c.config_path, "enabled": c.enabled, "pool": c.pool, "desired_worker": c.desired_worker}


@cameras_app.command("add")
def cameras_add(
    camera_id: Annotated[str, typer.Argument(help="camera id (the camera.yaml's camera_id)")],
    url: Annotated[str, typer.Option("--url", help="stream URL: rtsp://, http(s)://, tcp://, udp://, srt://")],
    camera: Annotated[Path, typer.Option("--camera", help="camera config (camera.yaml)")],
    pool: Annotated[str, typer.Option("--pool", help="cpu or gpu workers")] = "cpu",
    disabled: Annotated[bool, typer.Option("--disabled", help="register without starting it")] = False,
    db: DbOpt = None,
) -> None:
    """Register a live camera."""
    from pipeline.config import load_camera_config
    from workers.live_models import add_camera

    try:
        config = load_camera_config(camera)
        if config.camera_id != camera_id:
            raise ValueError(f"{camera}: camera_id is {config.camera_id!r}, not {camera_id!r}")
    except (SafeCityError, ValueError) as exc:
        _fail(str(exc))
    engine, sessions = _sessions(db)
    try:
        with sessions.begin() as session:
            cam = add_camera(session, camera_id, url, str(camera), pool, enabled=not disabled)
    except ValueError as exc:
        _fail(str(exc))
    finally:
        engine.dispose()
    out.print(f"camera {cam.id} registered (pool {cam.pool}, {'enabled' if cam.enabled else 'disabled'})", highlight=False)


@cameras_app.command("list")
def cameras_list(db: DbOpt = None, json_out: Annotated[bool, typer.Option("--json", help="machine-readable JSON")] = False) -> None:
    """List registered cameras (stream passwords are hidden)."""
    from workers.live_models import list_cameras

    engine, sessions = _sessions(db)
    try:
        with sessions() as session:
            cams = list_cameras(session)
    finally:
        engine.dispose()
    if json_out:
        print(json.dumps([_camera_doc(c) for c in cams], indent=2))
        return
    table = Table("camera", "enabled", "pool", "assigned to", "stream", "config")
    for c in cams:
        d = _camera_doc(c)
        table.add_row(c.id, "yes" if c.enabled else "no", c.pool, c.desired_worker or "any", d["stream_url"], c.config_path)
    out.print(table)


@cameras_app.command("assign")
def cameras_assign(
    camera_id: Annotated[str, typer.Argument(help="camera id")],
    worker: Annotated[Optional[str], typer.Option("--worker", help="preferred worker id; it takes the camera over while it is alive")] = None,
    any_worker: Annotated[bool, typer.Option("--any", help="clear the preferred worker")] = False,
    pool: Annotated[Optional[str], typer.Option("--pool", help="cpu or gpu")] = None,
    enable: Annotated[Optional[bool], typer.Option("--enable/--disable", help="start or stop the camera")] = None,
    db: DbOpt = None,
) -> None:
    """Choose where a camera runs (worker, pool) or switch it on or off."""
    from workers.live_models import assign_camera

    if worker and any_worker:
        _fail("--worker and --any exclude each other")
    if worker is None and not any_worker and pool is None and enable is None:
        _fail("nothing to change: give --worker, --any, --pool or --enable/--disable")
    engine, sessions = _sessions(db)
    try:
        with sessions.begin() as session:
            cam = assign_camera(session, camera_id, worker="" if any_worker else worker, pool=pool, enabled=enable)
    except ValueError as exc:
        _fail(str(exc))
    finally:
        engine.dispose()
    out.print(f"camera {cam.id}: pool {cam.pool}, worker {cam.desired_worker or 'any'}, {'enabled' if cam.enabled else 'disabled'}", highlight=False)


def status_cmd(
    db: DbOpt = None,
    redis_url: RedisOpt = None,
    broker_url: Annotated[Optional[str], typer.Option("--broker-url", help="Celery broker Redis for queue depths (default: $SAFECITY_BROKER_URL, else the coordination Redis)")] = None,
    prefix: PrefixOpt = "safecity:",
    celery: Annotated[bool, typer.Option("--celery/--no-celery", help="also ping the Celery workers on the broker (waits 1 s)")] = True,
    json_out: Annotated[bool, typer.Option("--json", help="machine-readable JSON")] = False,
) -> None:
    """Workers alive, queue depths, per-camera fps, lag, last frame and alerts.

    Exit code 0 when every enabled camera is held and no alert is active, 1 otherwise.
    """
    from workers.live_models import list_cameras
    from workers.status import gather_status

    red = _redis(redis_url)
    broker = _redis(broker_url or os.environ.get("SAFECITY_BROKER_URL")) if (broker_url or os.environ.get("SAFECITY_BROKER_URL")) else red
    engine, sessions = _sessions(db)
    try:
        with sessions() as session:
            cams = list_cameras(session)
    finally:
        engine.dispose()
    report = gather_status(red, broker, prefix, cams)
    if celery:
        from workers.live import default_redis_url
        from workers.status import celery_workers

        broker_address = broker_url or os.environ.get("SAFECITY_BROKER_URL") or redis_url or default_redis_url()
        try:
            report.workers.update(celery_workers(broker_address))
        except Exception as exc:  # the broker answered PING above; a failed broadcast is reported, not fatal
            report.problems.append(f"celery workers not inspected: {type(exc).__name__}: {exc}")
    if json_out:
        print(json.dumps(report.to_doc(), indent=2, ensure_ascii=False))
    else:
        _print_status(report)
    if report.problems:
        raise typer.Exit(1)


def _fmt(v, spec: str = "") -> str:
    return "-" if v is None else format(v, spec)


def _print_status(report) -> None:
    t = Table("worker", "kind", "host", "pid", "pool / queues", "cameras", title="workers")
    for wid, info in sorted(report.workers.items()):
        where = info.get("pool") or ", ".join(info.get("queues", []))
        t.add_row(wid, str(info.get("kind", "")), str(info.get("host", "")), str(info.get("pid", "")), where, ", ".join(info.get("cameras", [])))
    out.print(t)
    out.print("queues: " + ", ".join(f"{q}={n}" for q, n in report.queues.items()), highlight=False)
    t = Table("camera", "state", "worker", "in fps", "proc fps", "lag s", "last frame (UTC)", "age s", "reconnects", "alerts", title="cameras")
    for c in report.cameras:
        t.add_row(c.camera_id, c.state, c.holder or "-", _fmt(c.input_fps, ".1f"), _fmt(c.processing_fps, ".1f"), _fmt(c.lag_s, ".1f"),
                  c.last_frame_utc or "-", _fmt(c.frame_age_s, ".1f"), str(c.reconnects), ", ".join(c.active_alerts) or "-")
    out.print(t)
    for a in report.alerts[:10]:
        out.print(f"{a['at_utc']} {a['camera_id']} {a['kind']} {a['state']}: {a['message']}", highlight=False, markup=False)
    for p in report.problems:
        err.print(f"problem: {p}", highlight=False, markup=False)


def live_cmd(
    db: DbOpt = None,
    redis_url: RedisOpt = None,
    prefix: PrefixOpt = "safecity:",
    worker_id: Annotated[Optional[str], typer.Option("--worker-id", help="unique worker id (default: host-pid)")] = None,
    pool: Annotated[str, typer.Option("--pool", help="cpu or gpu: which registered cameras to take")] = "cpu",
    max_cameras: Annotated[int, typer.Option("--max-cameras", min=1, help="cameras held at most")] = 4,
    lease_ttl_s: Annotated[float, typer.Option("--lease-ttl-s", help="lease lifetime; bounds failover time")] = 10.0,
    scan_interval_s: Annotated[float, typer.Option("--scan-interval-s", help="renew/scan period (under half the TTL)")] = 2.0,
    chunk_s: Annotated[float, typer.Option("--chunk-s", help="core seconds per processed chunk")] = 30.0,
    max_tail_s: Annotated[float, typer.Option("--max-tail-s", help="seconds recorded after a chunk's core to follow its vehicles out of view")] = 30.0,
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="evidence and spool root (default: <home>/live)")] = None,
    pipeline: Annotated[bool, typer.Option("--pipeline/--watch-only", help="run detection and rules, or only read and watch the streams")] = True,
    detect_every: Annotated[int, typer.Option("--detect-every", min=1, max=10)] = 1,
    detector: Annotated[str, typer.Option("--detector", help="detector backend (onnx, ultralytics, motion)")] = "onnx",
    model: Annotated[Optional[Path], typer.Option("--model", help="detector model: a committed model's name or a file (an ultralytics .pt for --detector ultralytics)")] = None,
    device: Annotated[Optional[str], typer.Option("--device", help="cpu, cuda or cuda:N (default: cuda for --pool gpu, else cpu)")] = None,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", min=1, max=64, help="frames per inference call (default 32 on cuda, 4 on cpu)")] = None,
    plates: Annotated[bool, typer.Option("--plates/--no-plates")] = True,
    keep_chunks: Annotated[bool, typer.Option("--keep-chunks", help="keep every recorded chunk")] = False,
    metrics_port: Annotated[int, typer.Option("--metrics-port", help="Prometheus /metrics port (0: none)")] = 0,
    rtsp_transport: Annotated[str, typer.Option("--rtsp-transport", help="tcp, udp or auto")] = "tcp",
) -> None:
    """Run a live-camera worker: hold cameras by Redis lease and process their streams."""
    from exchange.home import home_path
    from workers.live import LiveSettings, LiveWorker, default_redis_url, default_worker_id
    from workers.metrics import LiveMetrics, serve_metrics

    root = out_dir or home_path() / "live"
    try:
        from workers.jobs import default_batch_size

        device = device or ("cuda" if pool == "gpu" else "cpu")
        settings = LiveSettings(
            detector=detector, model=model, device=device, batch_size=batch_size or default_batch_size(device),
            redis_url=redis_url or default_redis_url(), db_url=_db_url(db), key_prefix=prefix, worker_id=worker_id or default_worker_id(), pool=pool,
            max_cameras=max_cameras, lease_ttl_s=lease_ttl_s, scan_interval_s=scan_interval_s, chunk_s=chunk_s, max_tail_s=max_tail_s,
            spool_dir=root / "spool", out_dir=root, pipeline=pipeline, detect_every=detect_every, plates=plates,
            keep_chunks=keep_chunks, metrics_port=metrics_port, rtsp_transport=rtsp_transport,
        )
        if pipeline:
            from workers.jobs import require_gpu_backend

            require_gpu_backend(device)
    except ValueError as exc:
        _fail(str(exc))
    red = _redis(redis_url)
    engine, _ = _sessions(db)  # creates the tables before the worker reads them
    engine.dispose()
    metrics = LiveMetrics()
    if metrics_port:
        serve_metrics(metrics, metrics_port)
    worker = LiveWorker(settings, red, metrics)
    signal.signal(signal.SIGTERM, lambda *_: worker.stop())
    signal.signal(signal.SIGINT, lambda *_: worker.stop())
    err.print(f"live worker {settings.worker_id} pool={pool} ttl={lease_ttl_s}s scan={scan_interval_s}s", highlight=False)
    worker.run()

"""Distributed file jobs: submission (rows + messages) and the work of one segment.

The Celery task in workers/tasks.py is a thin shell around :func:`run_segment`; everything here
is callable without a broker (tests call it directly too).

Exactly once, under redelivery: a segment's violations, its run, its exchange-log entries and
the ``done`` mark commit in one transaction, after a ``SELECT ... FOR UPDATE`` of the segment
row (PostgreSQL; SQLite has one writer). A redelivered or duplicated message finds the row
``done`` and stores nothing; two workers racing on the same segment serialise on the row lock
and the second one finds it ``done``. Violation ids are stable per camera, video, track and
rule (tracks are numbered per segment), so even a second store adds nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import socket
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy import exc as sa_exc

from safecity.errors import InputError, PermanentError, SafeCityError, TransientError
from workers.models import JobRow, SegmentRow, refresh_job_status, segments_of
from workers.routing import detect_queue
from workers.segments import SegmentPlan, SegmentWindow, plan_cores
from workers.settings import WorkerSettings

log = logging.getLogger(__name__)

#: ProcessOptions fields a job may set (the rest keep their defaults).
JOB_OPTION_FIELDS = (
    "batch_size", "detect_every", "detect_stride", "motion_gate", "max_static_frames", "roi_crop", "dense_zone",
    "flow", "local_detect", "min_track_points", "clip_pre_s", "clip_post_s",
)

#: Detectors whose output depends on the frames before (a background model). A fresh model at
#: a segment's warm-up cannot see a vehicle that stands still from its first frame, so that
#: vehicle would be "born" when it moves, possibly inside the core, and be counted by two
#: segments. Jobs with these detectors are processed as one segment.
STATEFUL_DETECTORS = frozenset({"motion"})

#: Database errors that pass: a server restarting, a network cut, a pool timeout, a lock.
TRANSIENT_DB_ERRORS = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError, sa_exc.IntegrityError)


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class WorkerContext:
    """What one worker process keeps between tasks: settings, engines, detectors.

    Built once per process (``worker_process_init``); never shared across a fork.
    """

    settings: WorkerSettings
    device: str = "cpu"
    threads: int | None = None  # onnxruntime intra-op threads per process
    name: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    _engines: dict[str, Engine] = field(default_factory=dict, repr=False)
    _detectors: dict[tuple[str, str | None], tuple[Any, str]] = field(default_factory=dict, repr=False)
    _plate_reader: Any = field(default=None, repr=False)
    _evidence_stores: dict[str, Any] = field(default_factory=dict, repr=False)
    _match_contexts: dict[str, Any] = field(default_factory=dict, repr=False)

    def engine(self, url: str | None = None) -> Engine:
        from store.db import init_db, make_engine

        url = url or self.settings.database_url()
        if url not in self._engines:
            engine = make_engine(url)
            # A dropped connection is noticed before use, not mid-transaction.
            engine.pool._pre_ping = True  # noqa: SLF001 - create_engine(pool_pre_ping) equivalent after the fact
            init_db(engine)
            self._engines[url] = engine
        return self._engines[url]

    def sessions(self, url: str | None = None):
        from store.db import session_factory

        return session_factory(self.engine(url))

    def detector(self, name: str, model: str | None) -> tuple[Any, str]:
        """A detector for a segment. Stateless model backends are kept per process; a stateful
        one (``motion``: one background model per stream) is new for every segment."""
        if name == "motion":
            return device_detector(name, model, self.device, self.threads, self.name)
        key = (name, model)
        if key not in self._detectors:
            self._detectors[key] = device_detector(name, model, self.device, self.threads, self.name)
        return self._detectors[key]

    def plate_reader(self):
        if self._plate_reader is None:
            from plates.reader import PlateReader

            self._plate_reader = PlateReader.create()
        return self._plate_reader

    def evidence_store(self, location: str):
        """The evidence store of a job (its ``evidence_root``: a folder or ``s3://bucket/prefix``),
        kept per process; S3 endpoint and keys come from this worker's ``SAFECITY_S3_*``.

        Raises:
            EvidenceConfigError: a malformed location or S3 setting (permanent).
        """
        if location not in self._evidence_stores:
            from store.evidence_backends import open_evidence_store

            self._evidence_stores[location] = open_evidence_store(location)
        return self._evidence_stores[location]

    def match_context(self, spec: str):
        """The registry match context of ``spec`` (adapter, circuit breaker), kept per process;
        every access it makes is recorded in the exchange log of this worker's home."""
        if spec not in self._match_contexts:
            from exchange.home import init_home
            from registry_adapters.matching import build_match_context

            self._match_contexts[spec] = build_match_context(spec, init_home())
        return self._match_contexts[spec]

    def close(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()
        for mctx in self._match_contexts.values():
            mctx.adapter.close()
        self._match_contexts.clear()


def onnx_cuda_available() -> bool:
    """True when this onnxruntime has the CUDA execution provider (the onnxruntime-gpu build)."""
    import onnxruntime as ort

    return "CUDAExecutionProvider" in ort.get_available_providers()


def ultralytics_cuda_available() -> bool:
    """True when the ultralytics backend can run here (torch and ultralytics installed) and torch
    sees a CUDA device: the backend's own checks (``detectors.ultralytics_yolo``)."""
    from detectors.ultralytics_yolo import default_device, ultralytics_available

    return ultralytics_available() is None and default_device() != "cpu"


def gpu_backends() -> list[str]:
    """The detector backends that can run on this machine's GPU: ``onnx``, ``ultralytics``."""
    return [name for name, ok in (("onnx", onnx_cuda_available()), ("ultralytics", ultralytics_cuda_available())) if ok]


def require_gpu_backend(device: str) -> list[str]:
    """The GPU backends for a worker on ``device`` (none needed on ``cpu``).

    Raises:
        ValueError: a CUDA device where no detector backend can use a GPU, naming both fixes.
    """
    detect_queue(device)  # validates the name
    if device == "cpu":
        return []
    backends = gpu_backends()
    if not backends:
        raise ValueError(
            f"--device {device}: no detector backend can use a GPU here: this onnxruntime has no CUDA "
            "provider (install onnxruntime-gpu), and ultralytics with a torch that sees a CUDA device is not installed (for --detector ultralytics)"
        )
    return backends


def torch_device(device: str) -> str:
    """The torch device of a worker device: ``cpu``, ``cuda`` -> ``cuda:0``, ``cuda:N``."""
    detect_queue(device)  # validates the name
    return "cuda:0" if device == "cuda" else device


def device_detector(name: str, model: str | None, device: str, threads: int | None = None, worker: str = "") -> tuple[Any, str]:
    """(detector, model name) of backend ``name`` on a worker's ``device`` (file jobs and live).

    ``onnx`` gets the device's execution providers (and ``threads`` intra-op threads), and is
    refused on a CUDA device whose onnxruntime has no CUDA provider, where it would quietly
    run on the CPU; ``ultralytics`` runs on the device's ``cuda:N``. A backend this machine
    cannot run is a :class:`PermanentError` naming the worker, the backend and the fix.
    """
    from safecity.composition import build_detector

    options: dict[str, Any] = {}
    if name == "onnx":
        if device != "cpu" and not onnx_cuda_available():
            raise PermanentError(
                f"worker {worker}: device {device}: this onnxruntime has no CUDA provider, so detector "
                "'onnx' cannot run on the GPU (install onnxruntime-gpu, or use --detector ultralytics "
                "with an ultralytics model, docs/workers.md)"
            )
        options["providers"] = providers_for(device)
        if threads:
            options["intra_op_threads"] = threads
    if name == "ultralytics":
        options["device"] = torch_device(device)
    try:
        return build_detector(name, Path(model) if model else None, **options)
    except PermanentError:
        raise
    except ValueError as exc:  # a backend this machine cannot run (ultralytics/torch absent)
        raise PermanentError(f"worker {worker}: detector {name!r}: {exc}") from exc


#: Frames per inference call of a job when ``submit`` is not told: a GPU gains from batching
#: frames (H200, ultralytics FP16, 1080p: 630 frames/s at batch 8, 976 at 32, 1002 at 64;
#: docs/performance.md), a CPU does not (batch 4 as fast as batch 1), so ProcessOptions' 4.
GPU_BATCH_SIZE = 32


def default_batch_size(device: str) -> int:
    """Frames per inference call for a job on ``device`` (``GPU_BATCH_SIZE`` on CUDA)."""
    from pipeline.run import ProcessOptions

    detect_queue(device)  # validates the name
    return ProcessOptions().batch_size if device == "cpu" else GPU_BATCH_SIZE


def providers_for(device: str) -> list[str]:
    """onnxruntime execution providers for ``cpu`` or ``cuda[:N]`` (the device id as an option)."""
    detect_queue(device)  # validates the name
    if device == "cpu":
        return ["CPUExecutionProvider"]
    device_id = int(device.split(":")[1]) if ":" in device else 0
    return [("CUDAExecutionProvider", {"device_id": device_id}), "CPUExecutionProvider"]  # type: ignore[list-item]


# --------------------------------------------------------------------------- submission


@dataclass(frozen=True)
class SubmitRequest:
    """A video to process on the workers.

    Attributes:
        video: the file, at a path every worker can read (shared storage).
        camera: the camera config file; its text is stored with the job.
        device: ``cpu`` or ``cuda[:N]``: routes the segments to ``detect.cpu`` / ``detect.gpu``.
        options: ProcessOptions fields (``JOB_OPTION_FIELDS``).
        evidence_root: where the workers put evidence: a folder, or ``s3://bucket/prefix``
            (default: the settings' ``evidence_url``, else their folder).
        plates_deferred: read plates on the ``plates`` queue after a segment is stored
            (``safecity.read_plate``) instead of inside the segment.
        registry: match each stored violation in this registry on the ``registry`` queue
            (``sql:URL`` or ``http://host:port``; ``safecity.match_registry``).
    """

    video: Path
    camera: Path
    device: str = "cpu"
    detector: str = "onnx"
    model: str | None = None
    plates: bool = True
    options: dict[str, Any] = field(default_factory=dict)
    evidence_root: Path | str | None = None
    plates_deferred: bool = False
    registry: str | None = None


@dataclass(frozen=True)
class Submitted:
    job_id: str
    segment_ids: list[str]
    created: bool
    frame_count: int
    fps: float


def submit_job(ctx: WorkerContext, req: SubmitRequest, at: dt.datetime | None = None) -> Submitted:
    """Check the video and config, and store the job and its segments (idempotent).

    The job id hashes camera, video, config, detector, options, plan and software version: a
    second submission of the same work returns the existing job (and :func:`enqueue` sends its
    unfinished segments again).

    Raises:
        InputError: the video is missing or unreadable.
        ConfigError: the camera config is invalid.
        ValueError: a bad option or device.
    """
    from pipeline.config import load_camera_config
    from pipeline.run import ProcessOptions
    from pipeline.video import probe_video
    from safecity.digests import file_sha256
    from safecity.version import SOFTWARE_VERSION

    at = at or now_utc()
    bad = sorted(set(req.options) - set(JOB_OPTION_FIELDS))
    if bad:
        raise ValueError(f"options: unknown field(s) {', '.join(bad)}; valid: {', '.join(JOB_OPTION_FIELDS)}")
    ProcessOptions(**req.options)  # validates ranges before anything is stored
    detect_queue(req.device)
    config = load_camera_config(req.camera)
    config_text = Path(req.camera).read_text(encoding="utf-8")
    info = probe_video(Path(req.video), config.start_time_utc)
    video = info.path.resolve()
    video_sha = file_sha256(video)
    s = ctx.settings
    plan = SegmentPlan.from_seconds(info.fps, s.segment_s, s.warmup_s, s.min_tail_s, s.max_tail_s, s.quiet_s)
    if req.detector in STATEFUL_DETECTORS:
        cores = plan_cores(info.frame_count, max(info.frame_count, 1))  # one segment: see STATEFUL_DETECTORS
    else:
        cores = plan_cores(info.frame_count, plan.segment_frames)
    evidence_root = _evidence_location(req.evidence_root, s)
    if req.plates_deferred and not req.plates:
        raise ValueError("plates_deferred: plates are off for this job (deferred reading needs plates on)")
    if req.registry is not None:
        from workers.followups import check_registry_spec

        check_registry_spec(req.registry)
    followups = {k: v for k, v in (("plates_deferred", req.plates_deferred), ("registry", req.registry)) if v}
    ident_parts = [config.camera_id, video_sha, hashlib.sha256(config_text.encode()).hexdigest(), req.detector, req.model,
                   req.plates, sorted(req.options.items()), plan.to_dict(), str(evidence_root), SOFTWARE_VERSION]
    if followups:  # only then: the ids of jobs without follow-up tasks stay what they were
        ident_parts.append(sorted(followups.items()))
    ident = json.dumps(ident_parts, sort_keys=True)
    job_id = hashlib.sha256(ident.encode()).hexdigest()[:32]
    seg_ids = [f"{job_id}-{i:04d}" for i in range(len(cores))]
    with ctx.sessions().begin() as session:
        if session.get(JobRow, job_id) is not None:
            return Submitted(job_id, seg_ids, False, info.frame_count, info.fps)
        session.add(JobRow(
            id=job_id, camera_id=config.camera_id, video_path=str(video), video_sha256=video_sha,
            config_yaml=config_text, config_sha256=hashlib.sha256(Path(req.camera).read_bytes()).hexdigest(),
            device=req.device, detector=req.detector,
            options={**req.options, "plates": req.plates, "model": req.model, **followups},
            evidence_root=str(evidence_root), fps=info.fps, frame_count=info.frame_count, plan=plan.to_dict(),
            status="queued", submitted_at=at,
        ))
        session.flush()
        session.add_all(
            SegmentRow(id=sid, job_id=job_id, index=i, core_start=a, core_end=b, status="queued", attempts=0)
            for i, (sid, (a, b)) in enumerate(zip(seg_ids, cores))
        )
    log.info("job submitted job_id=%s camera_id=%s segments=%d frames=%d", job_id, config.camera_id, len(cores), info.frame_count)
    return Submitted(job_id, seg_ids, True, info.frame_count, info.fps)


def _evidence_location(given: Path | str | None, settings: WorkerSettings) -> str:
    """The job's ``evidence_root``: ``s3://...`` as given (checked), a folder resolved."""
    if given is None:
        return settings.evidence_location()
    if str(given).startswith("s3://"):
        from store.evidence_backends import evidence_location

        return evidence_location({"SAFECITY_EVIDENCE_URL": str(given)})
    return str(Path(given).resolve())


def enqueue(app, ctx: WorkerContext, job_id: str) -> int:
    """Send a message for every segment of ``job_id`` that is not done or failed.

    Raises:
        TransientError: the broker cannot be reached (the job stays stored; submit again).
    """
    with ctx.sessions().begin() as session:
        job = session.get(JobRow, job_id)
        if job is None:
            raise ValueError(f"job {job_id}: not found")
        pending = [s.id for s in segments_of(session, job_id) if s.status in ("queued", "running")]
        queue = detect_queue(job.device)
    try:
        for sid in pending:
            app.send_task("safecity.process_segment", args=[sid], queue=queue)
    except Exception as exc:  # kombu raises several connection error types; all mean "broker down"
        raise TransientError(f"broker {redact(ctx.settings.broker_url)} unreachable ({type(exc).__name__}: {exc}); "
                             f"job {job_id} is stored: submit again to enqueue it") from exc
    return len(pending)


def retry_failed(ctx: WorkerContext, job_id: str, at: dt.datetime | None = None) -> int:
    """Put a job's failed segments back to ``queued`` (a person fixed the cause); :func:`enqueue`
    then sends them. The previous error stays in the log; attempts keep counting.

    Returns:
        How many segments were reset.
    """
    at = at or now_utc()
    with ctx.sessions().begin() as session:
        job = session.get(JobRow, job_id)
        if job is None:
            raise ValueError(f"job {job_id}: not found")
        failed = [s for s in segments_of(session, job_id) if s.status == "failed"]
        for seg in failed:
            log.info("segment requeued by operator segment_id=%s previous_error=%s", seg.id, seg.error)
            seg.status, seg.error, seg.finished_at = "queued", None, None
        if failed:
            job.status, job.error, job.finished_at = "queued", None, None
            refresh_job_status(session, job, at)
    return len(failed)


def redact(url: str) -> str:
    """A URL without its password, for messages and logs."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not an SQLAlchemy-style URL: drop everything before '@'
        return url.split("@")[-1]


# --------------------------------------------------------------------------- one segment


@dataclass(frozen=True)
class SegmentOutcome:
    segment_id: str
    status: str  # done | skipped (already done or failed) | failed
    added: int = 0
    existing: int = 0
    frames: int = 0
    seconds: float = 0.0
    error: str | None = None


def run_segment(ctx: WorkerContext, segment_id: str, at: dt.datetime | None = None) -> SegmentOutcome:
    """Process one segment and store its result; the body of the ``process_segment`` task.

    Raises:
        TransientError: the database (or another service) failed in a way that may pass:
            nothing of this attempt is stored; retry later.
        PermanentError: never; a permanent failure is recorded on the segment and its job
            (status ``failed`` and the reason) and returned as ``failed``.
    """
    try:
        return _run_segment(ctx, segment_id, at)
    except TRANSIENT_DB_ERRORS as exc:
        raise TransientError(f"segment {segment_id}: database error ({type(exc).__name__}): {str(exc).splitlines()[0][:300]}") from exc


def _run_segment(ctx: WorkerContext, segment_id: str, at: dt.datetime | None) -> SegmentOutcome:
    Session = ctx.sessions()
    with Session.begin() as session:
        seg = session.get(SegmentRow, segment_id)
        if seg is None:
            raise _record_failure_impossible(segment_id)
        if seg.status in ("done", "failed"):
            log.info("segment already %s segment_id=%s: nothing to do", seg.status, segment_id)
            return SegmentOutcome(segment_id, "skipped", error=seg.error)
        job = session.get(JobRow, seg.job_id)
        seg.status, seg.attempts, seg.worker, seg.started_at = "running", seg.attempts + 1, ctx.name, now_utc()
        if job.status == "queued":
            job.status = "running"
        job_doc = {c.name: getattr(job, c.name) for c in JobRow.__table__.columns}
        window = SegmentWindow(seg.index, seg.core_start, seg.core_end, SegmentPlan(**job.plan), job.frame_count)
    try:
        result = _process(ctx, job_doc, window)
    except PermanentError as exc:
        _record_failure(ctx, segment_id, str(exc))
        return SegmentOutcome(segment_id, "failed", error=str(exc))
    at = at or now_utc()
    return _store(ctx, segment_id, window, result, at)


def _record_failure_impossible(segment_id: str) -> PermanentError:
    return PermanentError(f"segment {segment_id}: no such segment in the database (wrong SAFECITY_DB_URL on this worker?)")


def _process(ctx: WorkerContext, job: dict[str, Any], window: SegmentWindow):
    from pipeline.config import load_camera_config
    from pipeline.run import ProcessOptions, process_video
    from safecity.digests import file_sha256

    video = Path(job["video_path"])
    if not video.is_file():
        raise InputError(f"{video}: video file not found on worker {ctx.name}")
    if file_sha256(video) != job["video_sha256"]:
        raise InputError(f"{video}: the file changed since job {job['id']} was submitted (SHA-256 differs): truncated or replaced")
    with tempfile.TemporaryDirectory(prefix="safecity-job-") as tmp:
        cfg_path = Path(tmp) / "camera.yaml"
        cfg_path.write_text(job["config_yaml"], encoding="utf-8")
        config = load_camera_config(cfg_path)
    opts = {k: v for k, v in job["options"].items() if k in JOB_OPTION_FIELDS}
    detector, model_name = ctx.detector(job["detector"], job["options"].get("model"))
    # A job with deferred plates reads them on the plates queue once the segment is stored.
    inline = job["options"].get("plates") and not job["options"].get("plates_deferred")
    reader = ctx.plate_reader() if inline else None
    signer = _signer()
    log.info("segment start job_id=%s segment=%s decode_from=%d", job["id"], window.key, window.decode_start)
    # Made locally (the clip is cut to a temporary file), then put into the job's store.
    store = ctx.evidence_store(job["evidence_root"])
    return process_video(
        video, config, job["config_sha256"], detector, model_name, store,
        ProcessOptions(**opts), plate_reader=reader, signer=signer, segment=window,
    )


def _signer():
    """The information provider's evidence signer, from this worker's home (``SAFECITY_HOME``).

    Every stored evidence package carries a signed manifest, as with ``safecity process``: a
    worker that cannot sign (no key, a roster that publishes another key) fails the segment
    with the reason instead of storing unsigned evidence.

    Raises:
        PermanentError: the home folder cannot give the ``info_provider`` signing key.
    """
    from exchange.home import init_home
    from pipeline.manifest import EvidenceSigner

    try:
        return EvidenceSigner.from_home(init_home())
    except (SafeCityError, ValueError) as exc:
        raise PermanentError(f"evidence cannot be signed on this worker: {exc}") from exc


def _store(ctx: WorkerContext, segment_id: str, window: SegmentWindow, result, at: dt.datetime) -> SegmentOutcome:
    from exchange.home import init_home
    from pipeline.run import result_document, tracks_document
    from safecity.composition import save_result

    home = init_home()
    doc = result_document(result)
    with ctx.sessions().begin() as session:
        seg = session.scalars(select(SegmentRow).where(SegmentRow.id == segment_id).with_for_update()).one()
        if seg.status == "done":  # another delivery of this segment finished first
            log.info("segment finished elsewhere segment_id=%s worker=%s: result discarded", segment_id, seg.worker)
            return SegmentOutcome(segment_id, "skipped")
        added, existing = save_result(session, result, home, at)
        seg.status, seg.error, seg.finished_at = "done", None, now_utc()
        seg.worker, seg.run_id = ctx.name, result.run.id
        seg.decoded_from, seg.decoded_to = window.decode_start, window.decoded_to
        seg.frames, seg.seconds, seg.truncated_tracks = result.frames, round(result.seconds, 3), window.truncated
        seg.violation_ids = [v.id for v in result.violations]
        seg.result = {"violations": doc["violations"], "tracks": tracks_document(result)["tracks"]}
        refresh_job_status(session, session.get(JobRow, seg.job_id), at)
    log.info(
        "segment done segment_id=%s frames=%d violations=%d added=%d existing=%d fps=%.1f",
        segment_id, result.frames, len(result.violations), added, existing, result.fps,
    )
    return SegmentOutcome(segment_id, "done", added, existing, result.frames, result.seconds)


def _record_failure(ctx: WorkerContext, segment_id: str, reason: str) -> None:
    """Mark a segment (and its job) failed with the reason, for a person to look at."""
    log.error("segment failed permanently segment_id=%s reason=%s", segment_id, reason)
    with ctx.sessions().begin() as session:
        seg = session.get(SegmentRow, segment_id)
        if seg is None or seg.status == "done":
            return
        seg.status, seg.error, seg.finished_at = "failed", reason[:4000], now_utc()
        refresh_job_status(session, session.get(JobRow, seg.job_id), now_utc())


def record_gave_up(ctx: WorkerContext, segment_id: str, reason: str) -> None:
    """A transient failure that outlived its retries: a person decides (same as permanent)."""
    _record_failure(ctx, segment_id, f"gave up after retries: {reason}")


# --------------------------------------------------------------------------- reading jobs


@dataclass(frozen=True)
class JobView:
    job: dict[str, Any]
    segments: list[dict[str, Any]]

    @property
    def status(self) -> str:
        return self.job["status"]


def job_view(ctx: WorkerContext, job_id: str) -> JobView:
    with ctx.sessions().begin() as session:
        job = session.get(JobRow, job_id)
        if job is None:
            raise ValueError(f"job {job_id}: not found")
        segs = segments_of(session, job_id)
        cols = lambda row: {c.name: getattr(row, c.name) for c in row.__table__.columns}  # noqa: E731
        return JobView(cols(job), [cols(s) for s in segs])


def wait_for_job(ctx: WorkerContext, job_id: str, timeout_s: float, poll_s: float = 0.5) -> JobView:
    """Poll the database until the job is done or failed.

    Raises:
        TimeoutError: still unfinished after ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        view = job_view(ctx, job_id)
        if view.status in ("done", "failed"):
            return view
        if time.monotonic() > deadline:
            states = ", ".join(f"{s['index']}:{s['status']}" for s in view.segments)
            raise TimeoutError(f"job {job_id} unfinished after {timeout_s:.0f} s (segments {states})")
        time.sleep(poll_s)


def job_tracks_document(view: JobView) -> dict[str, Any]:
    """The job's ``tracks.json``: the tracks each segment owned (ids unique in the video)."""
    from pipeline.run import RESULT_SCHEMA_VERSION

    tracks = [t for s in view.segments if s["result"] for t in s["result"].get("tracks", [])]
    return {"schema_version": RESULT_SCHEMA_VERSION, "job_id": view.job["id"], "tracks": sorted(tracks, key=lambda t: t["track_id"])}


def job_document(view: JobView) -> dict[str, Any]:
    """The job's ``violations.json`` (docs/results.md): every segment's violations, in time order."""
    from pipeline.run import RESULT_SCHEMA_VERSION

    job = view.job
    violations = [v for s in view.segments if s["result"] for v in s["result"]["violations"]]
    violations.sort(key=lambda v: (v["first_time_utc"], v["id"]))
    return {
        "schema_version": RESULT_SCHEMA_VERSION,
        "job_id": job["id"],
        "camera_id": job["camera_id"],
        "video": job["video_path"],
        "video_sha256": job["video_sha256"],
        "fps": job["fps"],
        "frame_count": job["frame_count"],
        "status": job["status"],
        "segments": [
            {k: s[k] for k in ("index", "core_start", "core_end", "decoded_from", "decoded_to", "status", "attempts", "worker", "error", "truncated_tracks")}
            for s in view.segments
        ],
        "violations": violations,
    }


def as_dict(outcome: SegmentOutcome) -> dict[str, Any]:
    return dataclasses.asdict(outcome)

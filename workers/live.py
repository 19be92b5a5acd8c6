"""Live cameras: a worker process that holds cameras through Redis leases and runs the pipeline.

One ``LiveWorker`` per process. Every ``scan_interval_s`` it renews its leases, publishes its
heartbeat, re-reads the camera registry, hands over cameras assigned to another live worker and
acquires free cameras of its pool up to ``max_cameras``. Each held camera gets a
``CameraRunner`` (``workers/live_runner.py``): a reader thread (stream, health alerts, chunk
recording) and a processing thread (the file pipeline on each recorded chunk).

Failover bound: a dead worker's lease expires after ``lease_ttl_s``; another worker's next scan
takes it, so a camera is unowned for at most ``lease_ttl_s + scan_interval_s``.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from workers.leases import CameraLeases, Lease, alive_workers, check_worker_id, publish_heartbeat
from workers.metrics import LiveMetrics
from workers.streams import BackoffPolicy, HealthThresholds

log = logging.getLogger(__name__)


def default_redis_url() -> str:
    """``SAFECITY_REDIS_URL``, else the broker URL, else the local Redis."""
    return os.environ.get("SAFECITY_REDIS_URL") or os.environ.get("SAFECITY_BROKER_URL") or "redis://127.0.0.1:6379/0"


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class LiveSettings(BaseModel):
    """Settings of one live worker (built by ``safecity live`` from flags and environment)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    redis_url: str
    db_url: str
    key_prefix: str = Field("safecity:", min_length=1, description="Redis key prefix of this deployment")
    worker_id: str
    pool: str = Field("cpu", pattern="^(cpu|gpu)$")
    max_cameras: int = Field(4, ge=1, le=256, description="cameras this worker holds at most")
    lease_ttl_s: float = Field(10.0, ge=0.3, le=600, description="a dead worker's cameras are free after this long, seconds")
    scan_interval_s: float = Field(2.0, gt=0, description="lease renewal and registry scan period, seconds")
    chunk_s: float = Field(30.0, ge=1, le=600, description="core length of the recorded chunks the pipeline processes, seconds")
    # Chunks overlap like file segments (workers/segments.py): warm-up before the core, a tail
    # after it to follow the core's vehicles out of view; each vehicle is counted by one chunk.
    warmup_s: float = Field(3.0, ge=0, description="recorded before a chunk's core, seconds")
    min_tail_s: float = Field(2.0, ge=0, description="decoded after the core at least, seconds")
    max_tail_s: float = Field(30.0, gt=0, description="recorded after the core to finish its vehicles' tracks (adds to the lag), seconds")
    quiet_s: float = Field(2.0, gt=0, description="a track unseen this long has left the view, seconds")
    spool_dir: Path
    out_dir: Path = Field(description="evidence root: <out_dir>/evidence/<violation id>/")
    pipeline: bool = Field(True, description="False: read and watch the streams only (no detection)")
    detector: str = "onnx"
    model: Path | None = None
    device: str = Field("cpu", description="cpu, cuda or cuda:N: where detection runs (workers.jobs.device_detector)")
    batch_size: int = Field(4, ge=1, le=64)
    detect_every: int = Field(1, ge=1, le=10)
    plates: bool = True
    keep_chunks: bool = Field(False, description="keep recorded chunks after successful processing")
    max_backlog: int = Field(3, ge=1, description="chunks waiting for processing before a backlog alert")
    health: HealthThresholds = HealthThresholds()
    backoff: BackoffPolicy = BackoffPolicy()
    open_timeout_s: float = Field(5.0, gt=0)
    read_timeout_s: float = Field(5.0, gt=0)
    rtsp_transport: str = Field("tcp", pattern="^(tcp|udp|auto)$", description="RTP over the RTSP connection (tcp) or UDP")
    metrics_port: int = Field(0, ge=0, le=65535, description="0: no metrics endpoint")

    @model_validator(mode="after")
    def _check(self) -> "LiveSettings":
        check_worker_id(self.worker_id)
        from workers.routing import detect_queue

        detect_queue(self.device)  # ValueError naming a bad device
        if self.warmup_s >= self.chunk_s:
            raise ValueError(f"warmup_s ({self.warmup_s}) must be under chunk_s ({self.chunk_s})")
        if self.max_tail_s < self.min_tail_s:
            raise ValueError(f"max_tail_s ({self.max_tail_s}) must be >= min_tail_s ({self.min_tail_s})")
        if self.scan_interval_s * 2 >= self.lease_ttl_s:
            raise ValueError(
                f"scan_interval_s ({self.scan_interval_s}) must be under half of lease_ttl_s ({self.lease_ttl_s}): "
                "a lease must survive one missed renewal"
            )
        return self


class LiveWorker:
    """Holds cameras by lease and runs a ``CameraRunner`` for each.

    Args:
        settings: validated settings.
        redis: ``redis.Redis`` (decode_responses=True).
        metrics: this process's metrics.
        runner_factory: builds a runner for (camera, lease); the default is ``CameraRunner``.
    """

    def __init__(self, settings: LiveSettings, redis, metrics: LiveMetrics | None = None, runner_factory=None) -> None:
        from store.db import make_engine, session_factory

        import workers.live_models  # noqa: F401 - registers the registry tables on Base

        self.s = settings
        self.redis = redis
        self.metrics = metrics or LiveMetrics()
        self.leases = CameraLeases(redis, settings.worker_id, settings.key_prefix, int(settings.lease_ttl_s * 1000))
        self.engine = make_engine(settings.db_url)
        self.sessions = session_factory(self.engine)
        self.runner_factory = runner_factory or self._default_runner
        self.held: dict[str, tuple[Lease, object]] = {}
        self.started_utc = time.time()
        self._stop = threading.Event()
        self._rng = random.Random()

    def _default_runner(self, camera, lease):
        from workers.live_runner import CameraRunner

        return CameraRunner(camera, lease, self.s, self.redis, self.leases, self.metrics, self.sessions)

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        """Scan until ``stop()``; then stop every runner and release every lease."""
        log.info("live worker started worker_id=%s pool=%s ttl_s=%.1f scan_s=%.1f", self.s.worker_id, self.s.pool, self.s.lease_ttl_s, self.s.scan_interval_s)
        try:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    self.scan_once()
                except Exception:  # Redis or DB down: keep the process, retry next scan
                    log.exception("live worker scan failed worker_id=%s", self.s.worker_id)
                self._stop.wait(max(0.0, self.s.scan_interval_s - (time.monotonic() - started)))
        finally:
            self.shutdown()

    def scan_once(self) -> None:
        self._renew_all()
        self._heartbeat()
        from workers.live_models import list_cameras

        with self.sessions() as session:
            cameras = [c for c in list_cameras(session, enabled_only=True) if c.pool == self.s.pool]
        wanted = {c.id: c for c in cameras}
        alive = alive_workers(self.redis, self.s.key_prefix)
        # Disabled, removed or re-assigned cameras are given up at once.
        for camera_id in list(self.held):
            cam = wanted.get(camera_id)
            if cam is None:
                self._drop(camera_id, release=True, why="disabled or moved to another pool")
            elif cam.desired_worker and cam.desired_worker != self.s.worker_id and cam.desired_worker in alive:
                self._drop(camera_id, release=True, why=f"assigned to {cam.desired_worker}")
        free = [c for c in cameras if c.id not in self.held]
        self._rng.shuffle(free)  # spread cameras across workers that scan at the same moment
        free.sort(key=lambda c: c.desired_worker != self.s.worker_id)  # my assigned ones first
        for cam in free:
            if len(self.held) >= self.s.max_cameras:
                break
            if cam.desired_worker and cam.desired_worker != self.s.worker_id and cam.desired_worker in alive:
                continue
            lease = self.leases.acquire(cam.id)
            if lease is None:
                continue
            runner = self.runner_factory(cam, lease)
            self.held[cam.id] = (lease, runner)
            self.metrics.lease_held.labels(cam.id).set(1)
            self.metrics.lease_token.labels(cam.id).set(lease.token)
            runner.start()
        self._heartbeat()

    def _renew_all(self) -> None:
        for camera_id, (lease, runner) in list(self.held.items()):
            if not self.leases.renew(lease):
                self.metrics.lease_lost.labels(camera_id).inc()
                self._drop(camera_id, release=False, why="lease lost")

    def _drop(self, camera_id: str, release: bool, why: str) -> None:
        lease, runner = self.held.pop(camera_id)
        log.info("camera given up camera_id=%s worker_id=%s reason=%s", camera_id, self.s.worker_id, why)
        runner.stop()
        if release:
            self.leases.release(lease)
        self.metrics.lease_held.labels(camera_id).set(0)

    def _heartbeat(self) -> None:
        info = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "pool": self.s.pool,
            "cameras": sorted(self.held),
            "max_cameras": self.s.max_cameras,
            "started_at": self.started_utc,
            "at": time.time(),
            "kind": "live",
        }
        publish_heartbeat(self.redis, self.s.key_prefix, self.s.worker_id, int(self.s.lease_ttl_s * 1000), info)

    def shutdown(self, join_timeout_s: float = 60.0) -> None:
        """Stop reading, let queued chunks finish under a still-renewed lease, then release."""
        for _, runner in self.held.values():
            runner.stop()
        deadline = time.monotonic() + join_timeout_s
        while self.held and time.monotonic() < deadline:
            for camera_id, (lease, runner) in list(self.held.items()):
                if not runner.alive():
                    self._drop(camera_id, release=True, why="shutdown")
                elif not self.leases.renew(lease):
                    self._drop(camera_id, release=False, why="lease lost during shutdown")
            if self.held:
                time.sleep(min(0.2, self.s.scan_interval_s))
        for camera_id in list(self.held):  # still busy after the deadline: its chunk stays on disk
            try:
                self._drop(camera_id, release=True, why="shutdown timeout")
            except Exception:
                log.exception("release failed camera_id=%s", camera_id)
        try:
            self.redis.delete(f"{self.s.key_prefix}worker:{self.s.worker_id}")
        except Exception:
            log.exception("heartbeat not removed worker_id=%s", self.s.worker_id)
        self.engine.dispose()
        log.info("live worker stopped worker_id=%s", self.s.worker_id)

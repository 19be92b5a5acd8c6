"""``safecity status``: one snapshot of workers, queues, cameras and alerts.

Read-only: heartbeats, leases, camera status and alerts from the coordination Redis, queue
depths from the broker Redis, the camera registry from the database.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field

from workers.alerts import recent_redis_alerts
from workers.leases import alive_workers, lease_holders

log = logging.getLogger(__name__)

QUEUES = ("detect.gpu", "detect.cpu", "plates", "registry", "exchange", "backup")
# Celery's Redis transport keeps priorities 3, 6 and 9 in their own lists beside the queue's
# own (kombu's priority_steps [0, 3, 6, 9], separator "\x06\x16").
_PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")


@dataclass(frozen=True)
class CameraStatus:
    camera_id: str
    enabled: bool
    pool: str
    desired_worker: str | None
    holder: str | None
    lease_token: int | None
    state: str
    input_fps: float | None
    processing_fps: float | None
    lag_s: float | None
    last_frame_utc: str | None
    frame_age_s: float | None
    reconnects: int
    chunks_failed: int
    violations: int
    active_alerts: list[str]
    last_error: str | None
    connected_since_utc: str | None = None  # first frame of the current connection


@dataclass
class StatusReport:
    workers: dict[str, dict] = field(default_factory=dict)
    queues: dict[str, int] = field(default_factory=dict)
    cameras: list[CameraStatus] = field(default_factory=list)
    alerts: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def to_doc(self) -> dict:
        return {
            "workers": self.workers,
            "queues": self.queues,
            "cameras": [asdict(c) for c in self.cameras],
            "alerts": self.alerts,
            "problems": self.problems,
        }


def queue_depths(broker_redis) -> dict[str, int]:
    """Messages waiting in each Celery queue (all priority lists summed)."""
    pipe = broker_redis.pipeline()
    for q in QUEUES:
        for suffix in _PRIORITY_SUFFIXES:
            pipe.llen(q + suffix)
    counts = pipe.execute()
    n = len(_PRIORITY_SUFFIXES)
    return {q: int(sum(counts[i * n:(i + 1) * n])) for i, q in enumerate(QUEUES)}


def celery_workers(broker_url: str, timeout_s: float = 1.0) -> dict[str, dict]:
    """Celery workers answering a broadcast ping, with the queues each consumes.

    Celery workers keep no heartbeat key; they answer ``inspect`` on the broker (the same
    control channel Flower uses). Waits ``timeout_s`` for the replies.
    """
    from celery import Celery

    app = Celery("safecity-status", broker=broker_url, set_as_current=False)
    try:
        replies = app.control.inspect(timeout=timeout_s).active_queues() or {}
    finally:
        app.close()
    return {
        name: {"kind": "celery", "queues": sorted(q["name"] for q in queues), "host": name.split("@", 1)[-1]}
        for name, queues in replies.items()
    }


def gather_status(redis, broker_redis, prefix: str, cameras: list, now: float | None = None, alert_limit: int = 20) -> StatusReport:
    """Build the report.

    Args:
        redis: coordination Redis (leases, heartbeats, camera status, alerts).
        broker_redis: the Celery broker's Redis (queue depths).
        prefix: deployment key prefix.
        cameras: the registry (``workers.live_models.LiveCamera``).
        now: epoch seconds (default: the clock).
    """
    now = time.time() if now is None else now
    report = StatusReport()
    report.workers = alive_workers(redis, prefix)
    report.queues = queue_depths(broker_redis)
    holders = lease_holders(redis, prefix)
    keys = [f"{prefix}camera:{c.id}:status" for c in cameras]
    raw = redis.mget(keys) if keys else []
    for cam, doc_raw in zip(cameras, raw):
        doc = {}
        if doc_raw:
            try:
                doc = json.loads(doc_raw)
            except json.JSONDecodeError:
                log.warning("unreadable camera status camera_id=%s", cam.id)
        holder = holders.get(cam.id)
        # A status written under an older lease describes a previous holder.
        if holder is None or doc.get("token") != holder.token:
            doc = {} if holder is None else {k: v for k, v in doc.items() if k in ("last_frame_utc",)}
        frame_age = None
        if doc.get("last_frame_utc"):
            import datetime as dt

            frame_age = round(now - dt.datetime.fromisoformat(doc["last_frame_utc"]).timestamp(), 2)
        state = doc.get("state") or ("disabled" if not cam.enabled else ("unowned" if holder is None else "starting"))
        report.cameras.append(CameraStatus(
            cam.id, cam.enabled, cam.pool, cam.desired_worker,
            holder.worker_id if holder else None, holder.token if holder else None, state,
            doc.get("input_fps"), doc.get("processing_fps"), doc.get("lag_s"), doc.get("last_frame_utc"), frame_age,
            int(doc.get("reconnects") or 0), int(doc.get("chunks_failed") or 0), int(doc.get("violations") or 0),
            list(doc.get("active_alerts") or []), doc.get("last_error"), doc.get("connected_since_utc"),
        ))
        if cam.enabled and holder is None:
            report.problems.append(f"camera {cam.id}: enabled but no worker holds it")
        if doc.get("active_alerts"):
            report.problems.append(f"camera {cam.id}: active alerts {', '.join(doc['active_alerts'])}")
    report.alerts = recent_redis_alerts(redis, prefix, alert_limit)
    return report

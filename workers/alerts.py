"""Operator alerts: every alert is logged, counted in Prometheus and stored.

Stored twice on purpose: in the database (``camera_alerts``, the durable record an operator or
auditor reads later) and in a capped Redis list that ``safecity status`` shows without a
database round trip. A failing store must not stop the camera: the failure is logged with the
alert, and the other sinks still get it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager

from workers.metrics import LiveMetrics
from workers.streams import HealthEvent

log = logging.getLogger(__name__)

REDIS_ALERTS_KEEP = 500


class AlertSink:
    """Routes a camera's ``HealthEvent``s to log, metrics, database and Redis.

    Args:
        worker_id: recorded with each alert.
        metrics: the worker's metrics (None: no metrics).
        session_scope: returns a context manager opening a transaction (``sessionmaker.begin``);
            None: no database record.
        redis: client for the capped status list; None: none.
        prefix: Redis key prefix.
        clock: UTC now (injected so tests can pin it).
    """

    def __init__(
        self,
        worker_id: str,
        metrics: LiveMetrics | None = None,
        session_scope: Callable[[], AbstractContextManager] | None = None,
        redis=None,
        prefix: str = "safecity:",
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc),
    ) -> None:
        self.worker_id = worker_id
        self.metrics = metrics
        self.session_scope = session_scope
        self.redis = redis
        self.prefix = prefix
        self.clock = clock

    def emit(self, camera_id: str, event: HealthEvent) -> None:
        at = self.clock()
        level = logging.WARNING if event.state == "raised" else logging.INFO
        log.log(level, "camera alert camera_id=%s kind=%s state=%s worker_id=%s message=%s", camera_id, event.kind, event.state, self.worker_id, event.message)
        if self.metrics is not None:
            if event.state == "raised":
                self.metrics.alerts.labels(camera_id, event.kind).inc()
            if event.kind != "timestamp_gap":  # a gap is an instant, not a state
                self.metrics.alert_active.labels(camera_id, event.kind).set(1 if event.state == "raised" else 0)
        if self.session_scope is not None:
            from workers.live_models import insert_alert

            try:
                with self.session_scope() as session:
                    insert_alert(session, camera_id, event.kind, event.state, event.message, self.worker_id, event.details, at)
            except Exception:  # the database may be down; the alert is still logged above
                log.exception("alert not stored in the database camera_id=%s kind=%s", camera_id, event.kind)
        if self.redis is not None:
            doc = {"camera_id": camera_id, "kind": event.kind, "state": event.state, "message": event.message,
                   "worker_id": self.worker_id, "details": event.details, "at_utc": at.isoformat(timespec="milliseconds")}
            try:
                pipe = self.redis.pipeline()
                pipe.lpush(f"{self.prefix}alerts", json.dumps(doc, sort_keys=True))
                pipe.ltrim(f"{self.prefix}alerts", 0, REDIS_ALERTS_KEEP - 1)
                pipe.execute()
            except Exception:
                log.exception("alert not pushed to redis camera_id=%s kind=%s", camera_id, event.kind)


def recent_redis_alerts(redis, prefix: str, limit: int = 20) -> list[dict]:
    """The newest alerts from the capped Redis list, newest first."""
    out = []
    for raw in redis.lrange(f"{prefix}alerts", 0, max(0, limit - 1)):
        try:
            out.append(json.loads(raw))
        except json.JSONDecodeError:
            log.warning("unreadable alert entry in redis")
    return out

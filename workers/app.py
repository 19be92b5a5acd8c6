"""The Celery application, built by :func:`create_app` from :class:`WorkerSettings`.

Nothing is configured at import time: ``create_app`` makes a new app object (not the
"current" one), sets its configuration and registers the tasks on it. The worker command
(``safecity worker``), the submitter and the tests each build their own.

Delivery settings, and why:

* ``task_acks_late`` + ``task_reject_on_worker_lost``: a message is acknowledged only after
  its task returned; a pool process killed mid-task (``kill -9``, OOM) puts the message back on
  the queue at once, and a whole worker lost with its machine is redelivered by Redis after
  ``visibility_timeout``. Tasks are idempotent (workers/jobs.py), so the redelivery neither
  loses nor duplicates a violation.
* ``task_acks_on_failure_or_timeout`` (True): a task that *failed* has recorded the failure and
  its reason on the segment row for a person; redelivering it would only fail again.
  Transient failures never reach this point: they are retried with backoff (workers/tasks.py).
* ``worker_prefetch_multiplier=1``: a worker holds one message per pool process, so a long
  segment never keeps others waiting behind it on a busy worker while idle workers exist.
* ``worker_send_task_events`` / ``task_send_sent_event``: Flower-compatible events.
* ``broker_connection_max_retries=None``: a worker outlives a Redis restart.
"""

from __future__ import annotations

from celery import Celery
from kombu import Queue

from workers.routing import QUEUES, TASK_QUEUES
from workers.settings import WorkerSettings, load_settings


def celery_config(settings: WorkerSettings) -> dict:
    """The Celery configuration for ``settings`` (a plain dict; tests inspect it)."""
    transport: dict = {"visibility_timeout": settings.visibility_timeout_s}
    backend: dict = {"retry_policy": {"timeout": 5.0}}
    if settings.key_prefix:  # queues, unacked messages, bindings and results all under the prefix
        transport["global_keyprefix"] = backend["global_keyprefix"] = settings.key_prefix
    return {
        "broker_url": settings.broker_url,
        "result_backend": settings.backend_url,
        "broker_transport_options": transport,
        "result_backend_transport_options": backend,
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        "worker_prefetch_multiplier": 1,
        "task_queues": [Queue(name, routing_key=name) for name in QUEUES],
        "task_default_queue": "detect.cpu",
        "task_routes": {name: {"queue": queue} for name, queue in TASK_QUEUES.items()},
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_expires": settings.result_expires_s,
        "task_track_started": True,
        "worker_send_task_events": True,
        "task_send_sent_event": True,
        "worker_hijack_root_logger": False,
        "enable_utc": True,
        "timezone": "UTC",
    }


def create_app(settings: WorkerSettings | None = None, *, device: str = "cpu", threads: int | None = None) -> Celery:
    """A configured Celery app with the Safe City tasks registered.

    Args:
        settings: default :func:`load_settings` (environment).
        device: what this process's detection tasks run on (``cpu``, ``cuda:N``).
        threads: onnxruntime intra-op threads per pool process (None: onnxruntime decides).
    """
    from workers.tasks import register_tasks

    settings = settings or load_settings()
    app = Celery("safecity", set_as_current=False)
    app.conf.update(celery_config(settings))
    register_tasks(app, settings, device=device, threads=threads)
    return app

"""Celery tasks: thin shells that take ids, call workers/jobs.py and commit there.

Registered on an app by :func:`register_tasks` (called by ``create_app``), never at import.
Frames never cross the broker: a message is a segment id or a violation id.

Follow-ups (workers/followups.py): a job submitted with deferred plates or a registry gets,
after each stored segment, ``safecity.read_plate(violation_id)`` on ``plates`` (which then
sends ``safecity.match_registry`` when the job named a registry) or directly
``safecity.match_registry(violation_id)`` on ``registry``. They are sent after the segment's
commit, again by a redelivered segment message (they are idempotent), and a broker refusing
them retries the sending task.

Failure policy:

* :class:`~safecity.errors.TransientError` (database or service down, lock contention):
  retried with exponential backoff (``retry_backoff_s`` doubling up to ``retry_backoff_max_s``)
  up to ``max_retries`` times, then recorded on the segment as ``failed`` with the reason.
* :class:`~safecity.errors.PermanentError` (truncated or replaced video, bad config): recorded
  on the segment and its job as ``failed`` with the reason, for a person; not retried. The
  Celery task state is FAILURE with the same message.
* Anything else is a bug: logged with its traceback, recorded as ``failed``, not retried.
"""

from __future__ import annotations

import logging
import os

from safecity.errors import PermanentError, TransientError
from workers.settings import WorkerSettings

log = logging.getLogger(__name__)


def register_tasks(app, settings: WorkerSettings, *, device: str = "cpu", threads: int | None = None) -> None:
    """Register the tasks on ``app``; each pool process builds its own WorkerContext lazily.

    ``shared=False``: Celery would otherwise hand these closures (and the settings they hold)
    to every app made later in the process.
    """
    from workers.jobs import WorkerContext, as_dict, record_gave_up, run_segment

    state: dict[str, object] = {}

    def context(node: str | None = None) -> WorkerContext:
        # One context per process: a forked pool child must not reuse its parent's
        # database connections or onnxruntime session.
        if state.get("pid") != os.getpid():
            state["ctx"] = WorkerContext(settings, device=device, threads=threads)
            state["pid"] = os.getpid()
        ctx: WorkerContext = state["ctx"]  # type: ignore[assignment]
        if node:  # the Celery node name (what operators see in Flower and `celery inspect`)
            ctx.name = f"{node}:{os.getpid()}"
        return ctx

    app.safecity_context = context

    @app.task(name="safecity.process_segment", bind=True, shared=False, acks_late=True, reject_on_worker_lost=True,
              max_retries=settings.max_retries)
    def process_segment(self, segment_id: str) -> dict:
        """Detect, track and apply the rules to one segment of a job; store its violations."""
        ctx = context(self.request.hostname)
        try:
            outcome = run_segment(ctx, segment_id)
        except TransientError as exc:
            attempt = self.request.retries
            if attempt >= self.max_retries:
                log.error("segment gave up segment_id=%s attempts=%d reason=%s", segment_id, attempt + 1, exc)
                try:
                    record_gave_up(ctx, segment_id, str(exc))
                except Exception:  # the database may still be down: the log line above is the record
                    log.exception("could not record the give-up segment_id=%s", segment_id)
                raise
            delay = settings.retry_delay_s(attempt)
            log.warning("segment retry segment_id=%s attempt=%d in_s=%.1f reason=%s", segment_id, attempt + 1, delay, exc)
            raise self.retry(exc=exc, countdown=delay)
        except PermanentError:
            raise
        except Exception as exc:  # a bug: keep the traceback, tell a person, do not loop on it
            log.exception("segment crashed segment_id=%s", segment_id)
            try:
                from workers.jobs import _record_failure

                _record_failure(ctx, segment_id, f"internal error: {type(exc).__name__}: {exc}")
            except Exception:
                log.exception("could not record the crash segment_id=%s", segment_id)
            raise
        if outcome.status == "failed":
            raise PermanentError(outcome.error or "failed")
        from workers.followups import segment_followups
        from workers.jobs import TRANSIENT_DB_ERRORS

        try:
            messages = segment_followups(ctx, segment_id)
        except TRANSIENT_DB_ERRORS as exc:  # stored, follow-ups unknown: the retry finds it done and sends them
            raise self.retry(exc=TransientError(f"segment {segment_id}: follow-ups not read ({type(exc).__name__})"),
                             countdown=settings.retry_delay_s(self.request.retries))
        send_followups(self, messages, segment_id)
        return as_dict(outcome)

    def send_followups(task, messages: list[tuple[str, str]], about: str) -> None:
        """Send follow-up tasks; a broker failure retries ``task`` (which sends them again)."""
        from workers.routing import TASK_QUEUES

        try:
            for name, violation_id in messages:
                app.send_task(name, args=[violation_id], queue=TASK_QUEUES[name])
        except Exception as exc:  # kombu raises several connection error types; all mean "broker down"
            log.warning("follow-ups not sent about=%s reason=%s: %s", about, type(exc).__name__, exc)
            raise task.retry(exc=TransientError(f"follow-ups of {about} not sent: {exc}"),
                             countdown=settings.retry_delay_s(task.request.retries))
        if messages:
            log.info("follow-ups sent about=%s count=%d tasks=%s", about, len(messages), ",".join(sorted({m[0] for m in messages})))

    def followup(task, work, violation_id: str):
        """Run ``work(ctx, violation_id)`` under the failure policy of the module docstring."""
        from workers.jobs import TRANSIENT_DB_ERRORS

        ctx = context(task.request.hostname)
        try:
            try:
                return ctx, work(ctx, violation_id)
            except TRANSIENT_DB_ERRORS as exc:
                raise TransientError(f"violation {violation_id}: database error ({type(exc).__name__})") from exc
        except TransientError as exc:
            if task.request.retries >= task.max_retries:
                log.error("%s gave up violation_id=%s reason=%s", task.name, violation_id, exc)
                raise
            delay = settings.retry_delay_s(task.request.retries)
            log.warning("%s retry violation_id=%s in_s=%.1f reason=%s", task.name, violation_id, delay, exc)
            raise task.retry(exc=exc, countdown=delay)
        except PermanentError:
            log.error("%s failed violation_id=%s", task.name, violation_id, exc_info=True)
            raise
        except Exception:  # a bug: keep the traceback, do not loop on it
            log.exception("%s crashed violation_id=%s", task.name, violation_id)
            raise

    @app.task(name="safecity.read_plate", bind=True, shared=False, acks_late=True, reject_on_worker_lost=True,
              max_retries=settings.max_retries)
    def read_plate(self, violation_id: str) -> dict:
        """Read the plate of a stored violation from its evidence (deferred plates); skip a
        violation already read by this reader version."""
        from workers.followups import plate_followups, read_plate as read

        ctx, outcome = followup(self, read, violation_id)
        send_followups(self, plate_followups(ctx, violation_id), violation_id)
        return {"violation_id": outcome.violation_id, "status": outcome.status, "plate_status": outcome.detail}

    @app.task(name="safecity.match_registry", bind=True, shared=False, acks_late=True, reject_on_worker_lost=True,
              max_retries=settings.max_retries)
    def match_registry(self, violation_id: str) -> dict:
        """Match a stored violation's plate in the registry; skip one already matched."""
        from workers.followups import match_registry as match

        _, outcome = followup(self, match, violation_id)
        return {"violation_id": outcome.violation_id, "status": outcome.status, "match_status": outcome.detail}

    @app.task(name="safecity.exchange_checkpoint", bind=True, shared=False, acks_late=True, reject_on_worker_lost=True,
              max_retries=settings.max_retries)
    def exchange_checkpoint(self) -> dict:
        """Sign the exchange log's chain head (the AIS owner's periodic checkpoint)."""
        import datetime as dt

        from sqlalchemy import exc as sa_exc

        from exchange.home import init_home
        from exchange.log import checkpoint, log_head

        ctx = context(self.request.hostname)
        try:
            with ctx.sessions().begin() as session:
                if log_head(session).index == 0:
                    return {"seq": None, "entry_index": 0, "chain_digest": None}  # nothing logged yet
                cp = checkpoint(session, init_home(), dt.datetime.now(dt.timezone.utc))
        except (TransientError, sa_exc.OperationalError, sa_exc.InterfaceError) as exc:
            raise self.retry(exc=exc, countdown=settings.retry_delay_s(self.request.retries))
        return {"seq": cp.seq, "entry_index": cp.entry_index, "chain_digest": cp.chain_digest}

    @app.task(name="safecity.backup_replicate", bind=True, shared=False, acks_late=True, reject_on_worker_lost=True,
              max_retries=settings.max_retries)
    def backup_replicate(self, max_batches: int = 100) -> dict:
        """Send the exchange log's new entries to the backup centre's replica (``backup_db_url``),
        batch after batch until nothing is new. Resumes after the last acknowledged batch, so a
        redelivery sends nothing twice; a refused batch (gap, fork, bad signature) is permanent."""
        import datetime as dt

        from sqlalchemy import exc as sa_exc

        from exchange.backup import BackupReplica, replicate
        from exchange.home import init_home

        if not settings.backup_db_url:
            raise PermanentError("backup_replicate: no backup database configured (SAFECITY_BACKUP_DB_URL)")
        ctx = context(self.request.hostname)
        home = init_home()
        batches = 0
        try:
            replica = BackupReplica(settings.backup_db_url, home.roster)
        except (sa_exc.OperationalError, sa_exc.InterfaceError) as exc:
            raise self.retry(exc=exc, countdown=settings.retry_delay_s(self.request.retries))
        try:
            while batches < max_batches:
                with ctx.sessions().begin() as session:
                    if replicate(session, home, replica, dt.datetime.now(dt.timezone.utc)) is None:
                        break
                batches += 1
        except (TransientError, sa_exc.OperationalError, sa_exc.InterfaceError) as exc:
            raise self.retry(exc=exc, countdown=settings.retry_delay_s(self.request.retries))
        finally:
            replica.close()
        return {"batches": batches}

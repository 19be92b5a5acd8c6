"""Delivery runs: send every notice that is due through an adapter and record each attempt.

A notice leaves ``pending`` only when its receiver acknowledged it (``delivered``) or refused
it for good (``needs_attention``, for a person). A transient failure keeps it pending with
the next try pushed back exponentially (``retry_base_s`` doubling, capped at ``retry_max_s``);
no failure ever drops a notice or deletes its PDF. The HTTP call happens outside any database
transaction; the attempt and the notice's new state commit together afterwards. Two runs at
once may both send a notice: adapters are idempotent on the notice id, so it arrives once.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from notices.delivery import DeliveryAdapter, DeliveryReceipt, OutgoingNotice
from notices.errors import DeliveryPermanentError, DeliveryTransientError, EvidenceIntegrityError, NoticeError
from notices.models import DeliveryAttemptRow, NoticeRow
from notices.storage import read_checked
from exchange.schema import ExchangeCaseStateRow, ExchangePayloadRow
from store.schema import ViolationRow

logger = logging.getLogger(__name__)


@dataclass
class DeliveryRun:
    """Counts of one run, and the notice ids by outcome."""

    delivered: list[str] = field(default_factory=list)
    retry_later: list[str] = field(default_factory=list)
    needs_attention: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"delivered": len(self.delivered), "retry_later": len(self.retry_later), "needs_attention": len(self.needs_attention),
                "notices": {"delivered": self.delivered, "retry_later": self.retry_later, "needs_attention": self.needs_attention}}


def backoff_s(failures: int, base_s: float, max_s: float) -> float:
    """Wait before the next run after ``failures`` failed runs (1-based): base * 2^(n-1), capped."""
    return min(max_s, base_s * 2 ** max(0, failures - 1))


def _due(session: Session, now: dt.datetime, limit: int) -> list[tuple[NoticeRow, str | None]]:
    stmt = (
        select(NoticeRow, ViolationRow.plate_text).join(ViolationRow, ViolationRow.id == NoticeRow.violation_id)
        .where(NoticeRow.delivery_status == "pending", NoticeRow.next_attempt_at <= now)
        .order_by(NoticeRow.next_attempt_at, NoticeRow.id).limit(limit)
    )
    return [(row, plate) for row, plate in session.execute(stmt)]


def owner_ref_of(session: Session, case_id: str) -> str | None:
    """The registered owner's reference from the case's last accepted registry answer, if any.

    It addresses the notice at the portal; it is read from the exchange log (where the data
    holder's answer was logged as a personal-data access) and never logged here.
    """
    idx = session.scalar(
        select(ExchangeCaseStateRow.entry_idx)
        .where(ExchangeCaseStateRow.case_id == case_id, ExchangeCaseStateRow.state == "registry_matched")
        .order_by(ExchangeCaseStateRow.entry_idx.desc()).limit(1)
    )
    text = session.scalar(select(ExchangePayloadRow.payload).where(ExchangePayloadRow.entry_idx == idx)) if idx else None
    try:
        vehicle = (json.loads(text).get("details") or {}).get("vehicle") if text else None
    except (ValueError, AttributeError):
        return None  # a purged or foreign payload: the portal addresses by plate
    ref = vehicle.get("owner_ref") if isinstance(vehicle, dict) else None
    return ref if isinstance(ref, str) and ref else None


def _as_utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value


def deliver_due(
    sessions: sessionmaker[Session],
    adapter: DeliveryAdapter,
    *,
    store_dir: Path,
    now: dt.datetime,
    limit: int = 100,
    retry_base_s: float = 60.0,
    retry_max_s: float = 6 * 3600.0,
) -> DeliveryRun:
    """Deliver the pending notices whose next try is due at ``now`` (aware datetime).

    Args:
        sessions: session factory; each notice's outcome commits in its own transaction.
        store_dir: the notice store holding the PDFs.
        limit: most notices this run.
    """
    if now.tzinfo is None:
        raise ValueError(f"now: expected a timezone-aware datetime, got {now!r}")
    run = DeliveryRun()
    with sessions() as s:
        due = [
            (r.id, r.number, r.violation_id, plate, r.payment_reference, r.amount, r.discounted_amount, r.currency,
             r.discount_until, _as_utc(r.decided_at), r.pdf_key, r.pdf_sha256, owner_ref_of(s, r.violation_id))
            for r, plate in _due(s, now, limit)
        ]
    for (nid, number, vid, plate, ref, amount, disc, cur, until, issued, key, sha, owner) in due:
        started = now
        receipt: DeliveryReceipt | None = None
        outcome, error = "delivered", None
        try:
            if not plate:
                raise DeliveryPermanentError(f"notice {number}: the violation has no plate")
            pdf = read_checked(store_dir, key, sha)
            receipt = adapter.deliver(OutgoingNotice(nid, number, vid, plate, ref, amount, disc, cur, until, issued, pdf, sha, owner))
        except DeliveryTransientError as exc:
            outcome, error = "transient_error", str(exc)
        except (DeliveryPermanentError, EvidenceIntegrityError, NoticeError) as exc:
            outcome, error = "permanent_error", str(exc)
        except Exception as exc:  # an adapter bug must not lose the notice: record it and retry later
            logger.exception("delivery adapter crashed notice_id=%s adapter=%s", nid, adapter.name)
            outcome, error = "transient_error", f"{type(exc).__name__}: {exc}"
        with sessions.begin() as s:
            row = s.get(NoticeRow, nid, with_for_update=True)  # PostgreSQL: one recorder at a time per notice
            if row is None or row.delivery_status != "pending":
                continue  # another run finished it meanwhile
            attempt = (s.scalar(select(func.max(DeliveryAttemptRow.attempt)).where(DeliveryAttemptRow.notice_id == nid)) or 0) + 1
            s.add(DeliveryAttemptRow(
                notice_id=nid, attempt=attempt, adapter=adapter.name, started_at=started,
                finished_at=receipt.delivered_at if receipt else now, outcome=outcome,
                receipt=receipt.receipt if receipt else None, error=error,
            ))
            row.delivery_attempts = attempt
            row.delivery_adapter = adapter.name
            if receipt is not None:
                row.delivery_status, row.delivered_at, row.delivery_receipt, row.last_error = "delivered", receipt.delivered_at, receipt.receipt, None
                run.delivered.append(nid)
            elif outcome == "permanent_error":
                row.delivery_status, row.last_error = "needs_attention", error
                run.needs_attention.append(nid)
            else:
                s.flush()
                failures = s.scalar(select(func.count()).select_from(DeliveryAttemptRow).where(
                    DeliveryAttemptRow.notice_id == nid, DeliveryAttemptRow.outcome == "transient_error"))
                row.next_attempt_at = now + dt.timedelta(seconds=backoff_s(failures, retry_base_s, retry_max_s))
                row.last_error = error
                run.retry_later.append(nid)
        logger.info("notice delivery notice_id=%s adapter=%s outcome=%s", nid, adapter.name, outcome)
    return run


def requeue(session: Session, notice_id: str, now: dt.datetime) -> None:
    """Put a ``needs_attention`` notice back to ``pending`` (after a person fixed the cause)."""
    row = session.get(NoticeRow, notice_id)
    if row is None:
        raise NoticeError(f"notice {notice_id!r}: not found")
    if row.delivery_status != "needs_attention":
        raise NoticeError(f"notice {row.number}: delivery is {row.delivery_status}, only needs_attention can be requeued")
    row.delivery_status, row.next_attempt_at = "pending", now

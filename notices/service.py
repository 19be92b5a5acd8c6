"""Issue a fine notice for a confirmed case, and read it back.

:func:`issue_notice` is what the review application calls when an inspector confirms a case.
In the caller's transaction it picks the fine in force on the decision day, renders the PDF
(evidence photo, plate, place, times, measurements, article, amounts, discount date, payment
QR code), stores the PDF write-once with its SHA-256, logs the ``notice`` hand-off signed with
the AIS user's (police) key, and records the notice as pending delivery. Nothing is committed
here: the decision, the notice and its log entry commit together or not at all.

A confirmed case that must not be fined (``notices.finable``: a measurement marked for review,
a signal phase that may not fine; or no amount in the fines table) is refused with
:class:`~notices.errors.NoticeRefusedError` before anything is written (no number, PDF or log
entry); the caller records the refusal with :func:`record_refusal` so the case shows why.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from exchange.cases import advance_case, case_state
from exchange.errors import EnvelopeRejectedError
from exchange.home import Home, home_path
from exchange.log import lock_log
from notices.config import NoticeSettings, load_notice_settings
from notices.document import NoticeContent, Photo, measured_lines
from notices.errors import NoticeError, NoticeRefusedError
from notices.finable import NO_FINE_AMOUNT, Refusal, unfinable
from notices.models import NoticeRefusalRow, NoticeRow
from notices.payref import rf_reference
from notices.pdf import render_notice_pdf
from notices.storage import Source, read_checked
from pipeline.evidence import EvidenceStore, FolderEvidenceStore
from pipeline.fines import FinesTable, fine_for, load_fines
from safecity.errors import PermanentError
from store.schema import CameraRow, EvidenceRow, ViolationRow

logger = logging.getLogger(__name__)

NOTICE_ID_DOMAIN = "safecity-notice/1:"
USABLE_PLATE_STATUSES = ("read", "corrected")  # a confident read or a reviewer's correction
PHOTO_KINDS = ("frame_at", "vehicle_crop")  # the main photo: the first of these that exists
SIDE_KINDS = ("plate_crop", "vehicle_crop")
PHOTO_CAPTIONS = {
    "frame_at": "Кадр в момент нарушения / Бузуу учурундагы кадр",
    "vehicle_crop": "Транспортное средство / Унаа",
    "plate_crop": "Номерной знак / Номер белгиси",
}


@dataclass(frozen=True)
class NoticeRecord:
    """A stored notice, as callers see it (no ORM object leaves this module).

    Attributes:
        pdf_key: key of the PDF in the notice store (``<home>/notices`` by default); read it
            with :func:`notice_pdf`, which checks ``pdf_sha256``.
        envelope_id, exchange_entry_idx: the signed ``notice`` hand-off in the exchange log.
        delivery_status: ``pending``, ``delivered`` or ``needs_attention``.
    """

    id: str
    violation_id: str
    number: str
    payment_reference: str
    violation_type: str
    article: str
    amount: int
    discounted_amount: int
    currency: str
    discount_until: dt.date
    fines_table_version: str
    decided_by: str
    decided_at: dt.datetime
    pdf_key: str
    pdf_sha256: str
    envelope_id: str
    exchange_entry_idx: int
    delivery_status: str
    delivery_attempts: int
    next_attempt_at: dt.datetime
    delivered_at: dt.datetime | None
    delivery_adapter: str | None
    delivery_receipt: str | None
    last_error: str | None

    @classmethod
    def from_row(cls, row: NoticeRow) -> "NoticeRecord":
        values = {name: getattr(row, name) for name in cls.__dataclass_fields__}
        for name in ("decided_at", "next_attempt_at", "delivered_at"):
            if values[name] is not None:
                values[name] = _as_utc(values[name]).astimezone(dt.timezone.utc)
        return cls(**values)


def notice_id_for(violation_id: str) -> str:
    """The notice id of a violation: deterministic, so a retried issue finds its notice."""
    return hashlib.sha256((NOTICE_ID_DOMAIN + violation_id).encode()).hexdigest()[:32]


def _aware(name: str, value: dt.datetime) -> dt.datetime:
    if not isinstance(value, dt.datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name}: expected a timezone-aware datetime, got {value!r}")
    return value


def _as_utc(value: dt.datetime) -> dt.datetime:
    # SQLite returns naive datetimes for DateTime(timezone=True) columns; they were stored as UTC
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value


def _settings(settings: NoticeSettings | None, home: Home | None = None) -> tuple[NoticeSettings, Path]:
    """The settings and the home folder they resolve against (``home``, else SAFECITY_HOME)."""
    root = Path(home.path) if home is not None else home_path()
    return (settings or load_notice_settings(root)), root


def _evidence(
    violation: ViolationRow, root: Source | None
) -> tuple[list[Photo], dict[str, Any], tuple[tuple[str, str], ...]]:
    """Photos, the metadata document and (kind, sha256) of every evidence file of a violation."""
    rows: dict[str, EvidenceRow] = {e.kind: e for e in violation.evidence}
    digests = tuple((e.kind, e.sha256) for e in violation.evidence)
    if not rows:
        raise NoticeError(f"violation {violation.id}: no evidence files recorded; a notice needs the evidence photo")
    if root is None:
        raise NoticeError(
            f"violation {violation.id}: no evidence root configured: set evidence_root in notices.yaml, "
            "SAFECITY_EVIDENCE_ROOT, or pass evidence_root="
        )
    main_kind = next((k for k in PHOTO_KINDS if k in rows), None)
    if main_kind is None:
        raise NoticeError(f"violation {violation.id}: no evidence photo (one of {', '.join(PHOTO_KINDS)}) recorded")
    kinds = [main_kind] + [k for k in SIDE_KINDS if k in rows and k != main_kind][:1]
    photos = [Photo(PHOTO_CAPTIONS[k], read_checked(root, rows[k].path, rows[k].sha256), rows[k].sha256) for k in kinds]
    meta: dict[str, Any] = {}
    if "metadata" in rows:
        doc = json.loads(read_checked(root, rows["metadata"].path, rows["metadata"].sha256))
        meta = doc if isinstance(doc, dict) else {}
    return photos, meta, digests


def _place(violation: ViolationRow, camera: CameraRow | None, meta: dict[str, Any]) -> tuple[str, str | None]:
    loc = meta.get("location") if isinstance(meta.get("location"), dict) else None
    name = meta.get("camera_name") or (camera.name if camera else "") or violation.camera_id
    if loc and loc.get("description"):
        name = f"{name}, {loc['description']}" if loc["description"] not in name else name
    coords = f"{float(loc['lat']):.6f}, {float(loc['lon']):.6f}" if loc and "lat" in loc and "lon" in loc else None
    return name, coords


def _next_seq(session: Session, year: int) -> int:
    return (session.scalar(select(func.max(NoticeRow.seq)).where(NoticeRow.year == year)) or 0) + 1


def issue_notice(
    session: Session,
    violation_id: str,
    *,
    decided_by: str,
    decided_at: dt.datetime,
    home: Home,
    evidence_root: Source | None = None,
    settings: NoticeSettings | None = None,
    fines: FinesTable | None = None,
    store_dir: Path | EvidenceStore | None = None,
) -> NoticeRecord:
    """Issue the notice of a confirmed case, in the caller's transaction (never commits).

    Idempotent: when the violation already has a notice, that notice is returned unchanged.

    Args:
        violation_id: the confirmed violation (its case must be in state ``confirmed``).
        decided_by: the inspector's officer id; printed and named in the signed hand-off.
        decided_at: the decision time, aware datetime; its local date (settings.timezone)
            picks the fine table entry and starts the discount period.
        home: keys and roles; signs the ``notice`` envelope with the ``ais_user`` key.
        evidence_root: the violation's evidence store: its folder, or a store object with
            ``get(key) -> bytes`` such as the S3 store (default: settings).
        settings: notice settings (default: ``notices.yaml`` in the home folder).
        fines: the fines table (default: the packaged one).
        store_dir: where the PDF is stored: a folder or an evidence store object (default:
            settings, else ``<home>/notices``); it must be the one :func:`notice_pdf` reads.

    Raises:
        NoticeRefusedError: the case must not get a fine notice: its measurement is marked for
            review or its evidence says not finable (e.g. a vision-only signal phase that may
            not fine), or the fines table has no amount for it on the decision day. Raised
            before anything is written; record it with :func:`record_refusal`.
        NoticeError: unknown violation, case not confirmed, no plate, no evidence photo,
            evidence that fails its SHA-256 check.
        ValueError: a naive ``decided_at`` or an empty ``decided_by``.
        EnvelopeRejectedError: the AIS owner rejected the notice envelope.
    """
    _aware("decided_at", decided_at)
    if not decided_by or not str(decided_by).strip():
        raise ValueError("decided_by: expected the officer id of the inspector")
    nid = notice_id_for(violation_id)
    existing = session.get(NoticeRow, nid)
    if existing is not None:
        return NoticeRecord.from_row(existing)
    violation = session.get(ViolationRow, violation_id)
    if violation is None:
        raise NoticeError(f"violation {violation_id!r}: not found")
    cfg, home_dir = _settings(settings, home)
    lock_log(session)  # serialises notice numbers with the log appends on PostgreSQL
    existing = session.get(NoticeRow, nid)  # issued by a concurrent call while we waited for the lock
    if existing is not None:
        return NoticeRecord.from_row(existing)
    state = case_state(session, violation_id)
    if state != "confirmed":
        raise NoticeError(f"violation {violation_id}: case is {state or 'not in the exchange log'}; a notice needs a confirmed decision")
    if not violation.plate_text or violation.plate_status not in USABLE_PLATE_STATUSES:
        raise NoticeError(f"violation {violation_id}: no confirmed plate (status {violation.plate_status or 'none'}); correct the plate first")

    refusal = unfinable(violation.measurements)
    if refusal is not None:
        raise NoticeRefusedError(violation_id, refusal.code, refusal.reason)

    zone = ZoneInfo(cfg.timezone)
    decided_local = decided_at.astimezone(zone)
    decision_day = decided_local.date()
    excess = None
    if violation.speed_kmh is not None and violation.limit_kmh is not None:
        excess = violation.speed_kmh - violation.limit_kmh
    table = fines or load_fines()
    try:
        fine = fine_for(table, violation.type, decision_day, decision_day, excess)
    except PermanentError as exc:  # no entry for the type, band or day: never guessed
        raise NoticeRefusedError(violation_id, NO_FINE_AMOUNT, str(exc)) from exc

    photos, meta, digests = _evidence(violation, evidence_root or cfg.resolved_evidence_root())
    refusal = unfinable(violation.measurements, meta)  # the signed evidence may say more than the row
    if refusal is not None:
        raise NoticeRefusedError(violation_id, refusal.code, refusal.reason)
    camera = session.get(CameraRow, violation.camera_id)
    place, coords = _place(violation, camera, meta)
    offence_text = meta.get("offence_time_utc")
    offence_time = dt.datetime.fromisoformat(offence_text) if isinstance(offence_text, str) else _as_utc(violation.first_time_utc)
    if offence_time.tzinfo is None:
        offence_time = offence_time.replace(tzinfo=dt.timezone.utc)

    year = decision_day.year
    seq = _next_seq(session, year)
    number = f"{year}-{seq:07d}"
    reference = rf_reference(f"{cfg.payment.reference_prefix}{year}{seq:07d}")
    days = table.discount.within_days
    note = (
        f"Срок {days} дней считается со дня получения уведомления; указанная дата отсчитана от даты уведомления."
        if table.discount.counted_from == "notice_received" else f"Срок {days} дней считается от даты уведомления."
    )
    content = NoticeContent(
        number=number, payment_reference=reference, violation_id=violation_id, violation_type=violation.type,
        plate=violation.plate_text, camera_id=violation.camera_id, place=place, coordinates=coords,
        offence_time=offence_time, issued_at=decided_at, timezone=cfg.timezone,
        measured=measured_lines(violation.type, violation.speed_kmh, violation.limit_kmh, violation.signal_state, meta.get("signal_source")),
        article=fine.article, amount=fine.amount_som, discounted_amount=fine.discounted_som,
        discount_percent=fine.discount_percent, discount_until=fine.discount_until, discount_note=note,
        currency=fine.currency, fine_source=fine.source, fines_table_version=fine.table_version,
        officer_id=str(decided_by), authority=cfg.authority, payment=cfg.payment, photos=tuple(photos),
        evidence_digests=digests,
    )
    pdf = render_notice_pdf(content)
    if store_dir is None or isinstance(store_dir, (str, Path)):
        target: EvidenceStore = FolderEvidenceStore(Path(store_dir) if store_dir else cfg.resolved_store_dir(home_dir))
    else:
        target = store_dir
    # Written before the log entry: if the transaction rolls back, the file stays as an
    # unreferenced orphan (never deleted); a retry stores its own PDF beside it.
    stored = target.put(f"{year}/{number}.pdf", pdf, "notice_pdf")

    details = {
        "notice_id": nid, "number": number, "payment_reference": reference, "violation_type": violation.type,
        "article": fine.article, "amount": fine.amount_som, "discounted_amount": fine.discounted_som,
        "currency": fine.currency, "discount_until": fine.discount_until.isoformat(),
        "fines_table_version": fine.table_version, "pdf_sha256": stored.sha256,
    }
    delivery = advance_case(session, home, violation_id, "notice_issued", decided_at, officer_id=str(decided_by), details=details)
    if not delivery.accepted:
        raise EnvelopeRejectedError(delivery.envelope.id, delivery.entry.reason or "")
    row = NoticeRow(
        id=nid, violation_id=violation_id, number=number, year=year, seq=seq, payment_reference=reference,
        violation_type=violation.type, article=fine.article, amount=fine.amount_som,
        discounted_amount=fine.discounted_som, currency=fine.currency, discount_until=fine.discount_until,
        fines_table_version=fine.table_version, decided_by=str(decided_by), decided_at=decided_at,
        pdf_key=stored.path, pdf_sha256=stored.sha256, envelope_id=delivery.envelope.id,
        exchange_entry_idx=delivery.entry.index, delivery_status="pending", delivery_attempts=0,
        next_attempt_at=decided_at,
    )
    session.add(row)
    session.flush()
    logger.info("notice issued notice_id=%s violation_id=%s number=%s entry=%d", nid, violation_id, number, delivery.entry.index)
    return NoticeRecord.from_row(row)


@dataclass(frozen=True)
class RefusalRecord:
    """A recorded refusal (see :class:`notices.models.NoticeRefusalRow`)."""

    violation_id: str
    code: str
    reason: str
    decided_by: str
    decided_at: dt.datetime


def record_refusal(session: Session, refused: NoticeRefusedError, *, decided_by: str, decided_at: dt.datetime) -> RefusalRecord:
    """Record why a case got no notice, in the caller's transaction (never commits).

    Call it in a new transaction after :func:`issue_notice` raised ``refused`` (that
    transaction rolled back and left nothing). Idempotent: the same case and reason code keep
    their first row, so a repeated confirmation or a retried request adds nothing.

    Raises:
        ValueError: a naive ``decided_at``, an empty ``decided_by`` or an unknown code.
    """
    _aware("decided_at", decided_at)
    if not decided_by or not str(decided_by).strip():
        raise ValueError("decided_by: expected the officer id of the inspector")
    Refusal(refused.code, refused.reason)  # validates the code and the text
    row = session.scalar(
        select(NoticeRefusalRow).where(NoticeRefusalRow.violation_id == refused.violation_id, NoticeRefusalRow.code == refused.code)
    )
    if row is None:
        row = NoticeRefusalRow(
            violation_id=refused.violation_id, code=refused.code, reason=refused.reason,
            decided_by=str(decided_by), decided_at=decided_at,
        )
        session.add(row)
        session.flush()
        logger.info("notice refused violation_id=%s code=%s", refused.violation_id, refused.code)
    return _refusal_record(row)


def refusals_for_violation(session: Session, violation_id: str) -> list[RefusalRecord]:
    """Why the violation got no notice, oldest first (empty when never refused)."""
    rows = session.scalars(
        select(NoticeRefusalRow).where(NoticeRefusalRow.violation_id == violation_id).order_by(NoticeRefusalRow.id)
    )
    return [_refusal_record(r) for r in rows]


def _refusal_record(row: NoticeRefusalRow) -> RefusalRecord:
    return RefusalRecord(row.violation_id, row.code, row.reason, row.decided_by, _as_utc(row.decided_at))


def get_notice(session: Session, notice_id: str) -> NoticeRecord:
    """The notice ``notice_id``.

    Raises:
        NoticeError: no such notice.
    """
    row = session.get(NoticeRow, notice_id)
    if row is None:
        raise NoticeError(f"notice {notice_id!r}: not found")
    return NoticeRecord.from_row(row)


def notice_for_violation(session: Session, violation_id: str) -> NoticeRecord | None:
    """The violation's notice, or None when none was issued."""
    row = session.get(NoticeRow, notice_id_for(violation_id))
    return NoticeRecord.from_row(row) if row is not None else None


def notice_pdf(
    session: Session, notice_id: str, *, store_dir: Source | None = None, settings: NoticeSettings | None = None,
    home: Home | None = None,
) -> bytes:
    """The notice's PDF bytes, after checking them against the recorded SHA-256.

    Args:
        store_dir: the notice store (default: settings, else ``<home>/notices``).
        home: the home folder the notice was issued with (default: ``SAFECITY_HOME``).

    Raises:
        NoticeError: no such notice.
        EvidenceIntegrityError: the file is missing or altered.
    """
    rec = get_notice(session, notice_id)
    cfg, home_dir = _settings(settings, home)
    root = store_dir if store_dir is not None else cfg.resolved_store_dir(home_dir)
    return read_checked(root, rec.pdf_key, rec.pdf_sha256)


def list_notices(session: Session, *, status: str | None = None, limit: int = 200) -> list[NoticeRecord]:
    """Notices, newest decision first, optionally only those in delivery ``status``."""
    stmt = select(NoticeRow).order_by(NoticeRow.decided_at.desc(), NoticeRow.id).limit(limit)
    if status:
        stmt = stmt.where(NoticeRow.delivery_status == status)
    return [NoticeRecord.from_row(r) for r in session.scalars(stmt)]

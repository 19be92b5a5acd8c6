"""Police review as functions over a session: the queue, a case's readiness, the decisions.

Every function takes the caller's session and never commits: a decision, its signed
envelope and the personal-data accesses it needed commit together or not at all. Registry
lookups go only through :class:`exchange.recorder.ExchangeAccessRecorder`, so each one is a
signed ``pd_access`` entry naming the user and the purpose.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from exchange.cases import advance_case, case_state
from exchange.errors import EnvelopeRejectedError, IllegalTransitionError
from exchange.home import Home
from exchange.log import send
from exchange.recorder import ExchangeAccessRecorder
from exchange.schema import ExchangeCaseStateRow, ExchangeEntryRow, ExchangePayloadRow
from registry_adapters.base import AccessContext, LookupResult, RegistryUnavailable
from registry_adapters.fuzzy import canonical_plate
from registry_adapters.models import RegistryMatchRow
from store.schema import TrackRow, ViolationRow
from web.models import PlateCorrectionRow
from web.settings import REJECT_REASONS

logger = logging.getLogger(__name__)

#: Case states still waiting for a reviewer.
OPEN_STATES = ("detected", "plate_read", "registry_matched", "ready_for_review")
#: The synthetic state of a violation that has no case in the exchange log (not reviewable).
NOT_LOGGED = "not_logged"

STATE_LABELS = {
    "detected": "обнаружено", "plate_read": "номер прочитан", "registry_matched": "сверено с реестром",
    "ready_for_review": "ожидает проверки", "confirmed": "подтверждено", "rejected": "отклонено",
    "notice_issued": "постановление выдано", "paid": "оплачено", "appealed": "обжаловано", "closed": "закрыто",
    NOT_LOGGED: "нет в журнале",
}
TYPE_LABELS = {
    "speeding": "превышение скорости", "red_light": "проезд на красный", "stop_line": "стоп-линия",
    "solid_line_crossing": "пересечение сплошной", "wrong_way": "движение во встречном направлении",
    "no_stopping": "остановка запрещена", "oncoming_lane": "выезд на встречную полосу", "bus_lane": "движение по полосе ОТ",
    "pedestrian_yield": "не уступил пешеходу", "u_turn": "запрещённый разворот", "left_turn": "запрещённый левый поворот",
}


@dataclass(frozen=True)
class Outcome:
    """A decision attempt: taken or refused (with the message for the reviewer)."""

    accepted: bool
    message: str
    details: dict[str, Any]


class ReviewError(ValueError):
    """A review action that cannot be done now; the message is shown to the reviewer."""


@dataclass(frozen=True)
class QueueFilter:
    """Queue filters; None means any. ``status`` is a case state or ``open`` (all undecided)."""

    camera_id: str | None = None
    type: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    status: str | None = "open"


@dataclass(frozen=True)
class QueueItem:
    id: str
    camera_id: str
    type: str
    first_time_utc: dt.datetime
    speed_kmh: float | None
    limit_kmh: float | None
    signal_state: str | None
    plate_text: str | None
    plate_status: str | None
    plate_guess: str | None
    state: str
    evidence_kinds: tuple[str, ...]


@dataclass(frozen=True)
class RegistryView:
    """What the case page shows of the registry: the answer, or why there is none."""

    result: LookupResult | None
    error: str | None = None


@dataclass(frozen=True)
class CaseView:
    violation: ViolationRow
    state: str
    evidence_kinds: tuple[str, ...]
    track: TrackRow | None
    history: tuple[dict[str, Any], ...]
    corrections: tuple[PlateCorrectionRow, ...]
    registry: RegistryView
    prepared: tuple[str, ...] = field(default=())
    match_status: str | None = None
    match_flags: tuple[str, ...] = ()


def _states_subquery():
    last = select(ExchangeCaseStateRow.case_id, func.max(ExchangeCaseStateRow.entry_idx).label("m")).group_by(ExchangeCaseStateRow.case_id).subquery()
    return (
        select(ExchangeCaseStateRow.case_id, ExchangeCaseStateRow.state)
        .join(last, (last.c.case_id == ExchangeCaseStateRow.case_id) & (last.c.m == ExchangeCaseStateRow.entry_idx))
        .subquery()
    )


def list_queue(session: Session, flt: QueueFilter, limit: int, offset: int = 0) -> list[QueueItem]:
    """Violations with their case state, oldest first, filtered."""
    states = _states_subquery()
    state_col = func.coalesce(states.c.state, NOT_LOGGED)
    stmt = select(ViolationRow, state_col).outerjoin(states, states.c.case_id == ViolationRow.id)
    if flt.camera_id:
        stmt = stmt.where(ViolationRow.camera_id == flt.camera_id)
    if flt.type:
        stmt = stmt.where(ViolationRow.type == flt.type)
    if flt.date_from:
        stmt = stmt.where(ViolationRow.first_time_utc >= dt.datetime.combine(flt.date_from, dt.time(), dt.timezone.utc))
    if flt.date_to:
        stmt = stmt.where(ViolationRow.first_time_utc < dt.datetime.combine(flt.date_to + dt.timedelta(days=1), dt.time(), dt.timezone.utc))
    if flt.status == "open":
        stmt = stmt.where(state_col.in_(OPEN_STATES))
    elif flt.status:
        stmt = stmt.where(state_col == flt.status)
    stmt = stmt.order_by(ViolationRow.first_time_utc, ViolationRow.id).limit(limit).offset(offset)
    out = []
    for row, state in session.execute(stmt):
        out.append(QueueItem(
            row.id, row.camera_id, row.type, row.first_time_utc, row.speed_kmh, row.limit_kmh, row.signal_state,
            row.plate_text, row.plate_status, row.plate_guess, state, tuple(e.kind for e in row.evidence),
        ))
    return out


def queue_facets(session: Session) -> tuple[list[str], list[str]]:
    """(camera ids, violation types) present, for the filter menus."""
    cams = list(session.scalars(select(ViolationRow.camera_id).distinct().order_by(ViolationRow.camera_id)))
    types = list(session.scalars(select(ViolationRow.type).distinct().order_by(ViolationRow.type)))
    return cams, types


def get_violation(session: Session, violation_id: str) -> ViolationRow:
    """Raises LookupError for an unknown id (the handler answers 404)."""
    row = session.get(ViolationRow, violation_id) if violation_id and len(violation_id) <= 64 else None
    if row is None:
        raise LookupError(f"violation {violation_id!r} not found")
    return row


def case_history(session: Session, case_id: str) -> tuple[dict[str, Any], ...]:
    """The case's transitions from the log: state, time, entry, officer and details."""
    rows = session.execute(
        select(ExchangeCaseStateRow.state, ExchangeEntryRow.idx, ExchangeEntryRow.recorded_at, ExchangeEntryRow.sender, ExchangePayloadRow.payload)
        .join(ExchangeEntryRow, ExchangeEntryRow.idx == ExchangeCaseStateRow.entry_idx)
        .outerjoin(ExchangePayloadRow, ExchangePayloadRow.entry_idx == ExchangeEntryRow.idx)
        .where(ExchangeCaseStateRow.case_id == case_id).order_by(ExchangeCaseStateRow.entry_idx)
    )
    out = []
    for state, idx, at, sender, payload in rows:
        doc = json.loads(payload) if payload else {}
        out.append({"state": state, "entry": idx, "at": at, "sender": sender, "officer": doc.get("officer_id"), "details": doc.get("details", {})})
    return tuple(out)


class Registry:
    """The registry as the web uses it: one shared engine, a recorder bound to each request.

    Args:
        engine: the registry database engine (None: no registry configured).
    """

    def __init__(self, engine: Engine | None) -> None:
        self.engine = engine

    def lookup(self, session: Session, home: Home, plate: str, actor: str, role: str, purpose: str, case_id: str, at: dt.datetime) -> LookupResult:
        """Look ``plate`` up; the access is logged (signed) in ``session`` before the registry is asked.

        Raises:
            RegistryUnavailable: no registry configured, or it did not answer.
        """
        if self.engine is None:
            raise RegistryUnavailable("no vehicle registry is configured (SAFECITY_REGISTRY_URL)")
        from registry_adapters.sql import SqlRegistryAdapter

        recorder = ExchangeAccessRecorder(session, home, role=role, clock=lambda: at)
        adapter = SqlRegistryAdapter(engine=self.engine, recorder=recorder)
        return adapter.lookup(plate, AccessContext(actor=actor, purpose=purpose, case_id=case_id))

    def rematch(self, session: Session, home: Home, violation_id: str, plate: str, actor: str, role: str, purpose: str, at: dt.datetime) -> str:
        """Re-run the stored registry match of a case with ``plate`` (``registry_adapters.matching``):
        the match row, its candidates and consistency flags are updated; the access is logged.

        Returns:
            The match status (``matched``, ``fuzzy``, ``ambiguous``, ``not_found``, ``pending``).
        """
        if self.engine is None:
            return "pending"
        from registry_adapters.matching import BoundRecorder, MatchContext, camera_positions, match_violation
        from registry_adapters.sql import SqlRegistryAdapter

        slot = BoundRecorder()
        ctx = MatchContext(
            adapter=SqlRegistryAdapter(engine=self.engine, recorder=slot), slot=slot,
            make_recorder=lambda s: ExchangeAccessRecorder(s, home, role=role, clock=lambda: at),
            actor=actor, purpose=purpose, positions=camera_positions(session), clock=lambda: at,
        )
        return match_violation(session, violation_id, ctx, plate=plate).status


def _advance(session: Session, home: Home, case_id: str, to_state: str, at: dt.datetime, **kw: Any) -> None:
    delivery = advance_case(session, home, case_id, to_state, at, **kw)
    if not delivery.accepted:
        raise EnvelopeRejectedError(delivery.envelope.id, delivery.entry.reason or "")


def _answer_details(result: LookupResult) -> dict[str, Any]:
    rec = result.record
    return {
        "query": result.query, "status": result.status, "candidates": len(result.candidates),
        "vehicle": None if rec is None else {
            "plate": rec.plate, "make": rec.make, "model": rec.model, "colour": rec.colour,
            "vehicle_class": rec.vehicle_class, "registration_status": rec.registration_status, "owner_ref": rec.owner_ref,
        },
    }


def usable_plate(v: ViolationRow) -> str | None:
    """The plate a decision may use: a confident read or a reviewer's correction."""
    return v.plate_text if v.plate_text and v.plate_status in ("read", "corrected") else None


def open_case(session: Session, home: Home, registry: Registry, violation_id: str, actor: str, role: str, at: dt.datetime) -> CaseView:
    """Bring a case to ``ready_for_review`` where it is behind, and gather what the page shows.

    Steps not yet logged are logged now, each by its role (the plate read by the camera
    complex, the registry answer by the data holder, the hand-over to the police by the AIS
    owner). The registry record is fetched through the logged access path, naming ``actor``.
    A registry that does not answer leaves the case at ``plate_read``; nothing is lost.
    """
    v = get_violation(session, violation_id)
    state = case_state(session, v.id)
    prepared: list[str] = []
    result: LookupResult | None = None
    error: str | None = None
    plate = usable_plate(v)
    purpose = f"review of case {v.id}"
    if state == "detected":
        _advance(session, home, v.id, "plate_read", at, details={
            "plate_text": v.plate_text, "plate_status": v.plate_status, "plate_confidence": v.plate_confidence,
            "plate_country": v.plate_country,
        })
        state = "plate_read"
        prepared.append(state)
    if state == "plate_read":
        if plate is None:
            _advance(session, home, v.id, "registry_matched", at, details={"query": None, "status": "no_plate"})
            state = "registry_matched"
            prepared.append(state)
        else:
            try:
                result = registry.lookup(session, home, plate, actor, role, purpose, v.id, at)
            except RegistryUnavailable as exc:
                error = f"Реестр недоступен: {exc}"
            else:
                _advance(session, home, v.id, "registry_matched", at, details=_answer_details(result))
                state = "registry_matched"
                prepared.append(state)
    if state == "registry_matched":
        _advance(session, home, v.id, "ready_for_review", at)
        state = "ready_for_review"
        prepared.append(state)
    if result is None and error is None and plate is not None and state != NOT_LOGGED and state is not None:
        try:
            result = registry.lookup(session, home, plate, actor, role, purpose, v.id, at)
        except RegistryUnavailable as exc:
            error = f"Реестр недоступен: {exc}"
    if plate is None and error is None:
        error = "Номер не прочитан уверенно: исправьте номер, чтобы сверить с реестром."
    match = session.get(RegistryMatchRow, v.id)
    track = session.scalar(select(TrackRow).where(TrackRow.run_id == v.run_id, TrackRow.track_id == v.track_id))
    corrections = tuple(session.scalars(select(PlateCorrectionRow).where(PlateCorrectionRow.violation_id == v.id).order_by(PlateCorrectionRow.id)))
    return CaseView(
        v, state or NOT_LOGGED, tuple(e.kind for e in v.evidence), track, case_history(session, v.id), corrections,
        RegistryView(result, error), tuple(prepared),
        match_status=match.status if match else None, match_flags=tuple(match.flags or ()) if match else (),
    )


def _require_state(session: Session, case_id: str, wanted: tuple[str, ...], action: str) -> str:
    state = case_state(session, case_id)
    if state not in wanted:
        raise ReviewError(f"Дело {case_id}: действие «{action}» невозможно в состоянии «{STATE_LABELS.get(state or NOT_LOGGED, state)}»")
    return state  # type: ignore[return-value]


def confirm_case(session: Session, home: Home, registry: Registry, violation_id: str, officer: str, role: str, at: dt.datetime) -> "Outcome":
    """Confirm a case: the plate must be usable and registered (checked now, logged).

    Returns:
        The outcome: accepted with the decision details as logged, or refused with the reason
        (a plate the registry does not know exactly); the caller commits either way, so the
        registry access stays logged.

    Raises:
        LookupError: unknown violation. ReviewError: wrong state, no usable plate, plate not
        registered. RegistryUnavailable: the registry did not answer (nothing is decided).
    """
    v = get_violation(session, violation_id)
    _require_state(session, v.id, ("ready_for_review",), "подтвердить")
    plate = usable_plate(v)
    if plate is None:
        raise ReviewError("Нельзя подтвердить без уверенно прочитанного номера: сначала исправьте номер.")
    result = registry.lookup(session, home, plate, f"user:{officer}", role, f"decision on case {v.id}", v.id, at)
    if result.status != "exact" or result.record is None:
        # Not raised: the logged access must commit even though no decision is taken.
        return Outcome(False, f"Номер {plate} не найден в реестре точно ({result.status}): исправьте номер или отклоните дело.", {})
    details = {"decision": "confirmed", "plate": plate, "registry": _answer_details(result), "reviewer_role": role}
    try:
        _advance(session, home, v.id, "confirmed", at, officer_id=officer, details=details)
    except IllegalTransitionError as exc:  # a concurrent decision won the race
        raise ReviewError(str(exc)) from exc
    logger.info("case confirmed case=%s officer=%s", v.id, officer)
    return Outcome(True, "", details)


def reject_case(session: Session, home: Home, violation_id: str, officer: str, role: str, reason_code: str, comment: str, at: dt.datetime) -> dict[str, Any]:
    """Reject a case with a reason code (``other`` needs a comment).

    Raises:
        LookupError: unknown violation. ReviewError: wrong state or bad reason.
    """
    v = get_violation(session, violation_id)
    if reason_code not in REJECT_REASONS:
        raise ReviewError(f"reason_code: ожидается один из {', '.join(REJECT_REASONS)}, получено {reason_code!r}")
    comment = (comment or "").strip()[:500]
    if reason_code == "other" and not comment:
        raise ReviewError("Причина «другое» требует комментария.")
    _require_state(session, v.id, ("ready_for_review",), "отклонить")
    details = {"decision": "rejected", "reason_code": reason_code, "comment": comment, "reviewer_role": role}
    try:
        _advance(session, home, v.id, "rejected", at, officer_id=officer, details=details)
    except IllegalTransitionError as exc:
        raise ReviewError(str(exc)) from exc
    logger.info("case rejected case=%s officer=%s reason=%s", v.id, officer, reason_code)
    return details


def correct_plate(session: Session, home: Home, registry: Registry, violation_id: str, officer: str, role: str, text: str, at: dt.datetime) -> PlateCorrectionRow:
    """Replace the plate of an undecided case and re-run the registry match (logged).

    The correction is a signed ``case_event`` from the police naming the officer, the old and
    the new plate; the old read stays in ``web_plate_corrections`` and in the evidence.

    Raises:
        LookupError: unknown violation. ReviewError: decided case, or text with no plate in it.
    """
    v = get_violation(session, violation_id)
    _require_state(session, v.id, OPEN_STATES, "исправить номер")
    try:
        new = canonical_plate(text or "")
    except ValueError as exc:
        raise ReviewError(f"Номер: ожидаются буквы и цифры, получено {text!r}") from exc
    if len(new) > 16:
        raise ReviewError(f"Номер: не длиннее 16 знаков, получено {len(new)}")
    old_text, old_status = v.plate_text, v.plate_status
    payload = {"case_id": v.id, "event": "plate_corrected", "officer_id": officer, "old_plate": old_text, "old_status": old_status, "new_plate": new}
    delivery = send(session, home, sender="ais_user", receiver="ais_owner", type="case_event", payload=payload, at=at)
    if not delivery.accepted:
        raise EnvelopeRejectedError(delivery.envelope.id, delivery.entry.reason or "")
    v.plate_text, v.plate_status = new, "corrected"
    status = registry.rematch(session, home, v.id, new, f"user:{officer}", role, f"plate correction of case {v.id}", at)
    row = PlateCorrectionRow(
        violation_id=v.id, old_text=old_text, old_status=old_status, new_text=new, corrected_by=officer,
        corrected_at=at, entry_idx=delivery.entry.index, lookup_status=status,
    )
    session.add(row)
    session.flush()
    logger.info("plate corrected case=%s officer=%s lookup=%s", v.id, officer, status)
    return row


def decisions(session: Session, limit: int, offset: int = 0) -> list[dict[str, Any]]:
    """Signed decisions, newest first (the supervisor's view)."""
    rows = session.execute(
        select(ExchangeCaseStateRow.case_id, ExchangeCaseStateRow.state, ExchangeEntryRow.idx, ExchangeEntryRow.recorded_at, ExchangePayloadRow.payload)
        .join(ExchangeEntryRow, ExchangeEntryRow.idx == ExchangeCaseStateRow.entry_idx)
        .outerjoin(ExchangePayloadRow, ExchangePayloadRow.entry_idx == ExchangeEntryRow.idx)
        .where(ExchangeCaseStateRow.state.in_(("confirmed", "rejected")))
        .order_by(ExchangeCaseStateRow.entry_idx.desc()).limit(limit).offset(offset)
    )
    out = []
    for case_id, state, idx, at, payload in rows:
        doc = json.loads(payload) if payload else {}
        det = doc.get("details", {})
        out.append({"case_id": case_id, "state": state, "entry": idx, "at": at, "officer": doc.get("officer_id"),
                    "reason_code": det.get("reason_code"), "comment": det.get("comment")})
    return out

"""Match a stored violation's plate read against the registry, and keep the case if it cannot.

One function, :func:`match_violation`, taking IDs: the ``safecity process --registry`` step, the
``safecity registry match`` command, the Celery ``registry`` task and the review app's plate
correction all call it. The caller owns the transaction; the personal-data access record (a
signed ``pd_access`` entry in the exchange log) commits with the match row or not at all.

Outcomes (``registry_adapters.models.MATCH_STATUSES``):

* ``matched``: the read plate is registered (a confident read: no person needed for the match;
  the case still goes to review).
* ``fuzzy`` / ``ambiguous``: not registered as read, but one / several confusable variants are;
  a person picks, with the candidates shown.
* ``not_found``: nothing registered as read or as a confusable variant.
* ``unreadable``: the plate was not read with enough confidence; a person reads it first (the
  guess is never looked up by itself: an unconfirmed guess may be an uninvolved car's plate).
* ``pending``: the registry was unreachable (timeout, HTTP 5xx, circuit open); the case waits
  and ``pending_violation_ids`` finds it for a retry. Nothing is lost.

Consistency flags never reject a case by themselves; they tell the reviewer why to look twice:
class/colour mismatch with the registry record (possible false plate), a bus-lane case whose
vehicle is registered as a class allowed in the lane (the exemption), a registration status
other than ``registered``, and a possible clone (the same plate seen by another camera at a time
and place no car could cover).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry_adapters.base import (
    AccessContext,
    AccessRecorder,
    LookupResult,
    RegistryAdapter,
    RegistryUnavailable,
    VehicleRecord,
)
from registry_adapters.checks import Sighting, bus_lane_exemption, check_vehicle, find_clones
from registry_adapters.models import RegistryMatchRow
from safecity.errors import TransientError
from store.schema import ViolationRow

logger = logging.getLogger(__name__)

#: How far apart in time two sightings of one plate are compared for cloning, hours.
CLONE_WINDOW_H = 6.0


@dataclass(frozen=True)
class MatchResult:
    """What :func:`match_violation` decided (no personal data beyond the plate references).

    Attributes:
        violation_id: the case.
        status: one of ``MATCH_STATUSES``.
        needs_review: a person must choose, read or confirm the vehicle before any notice.
        flags: reasons to look twice (no plate text in them).
        candidate_count: confusable registered variants shown to the reviewer.
    """

    violation_id: str
    status: str
    needs_review: bool
    flags: tuple[str, ...] = ()
    candidate_count: int = 0


class BoundRecorder:
    """An :class:`AccessRecorder` that forwards to the recorder bound to the current thread.

    Adapters keep one recorder for their lifetime (their circuit breaker and connections live as
    long), but each access must be recorded in the transaction of the case it serves. Bind the
    transaction's recorder around the lookup with :meth:`bind`; a lookup with nothing bound is
    refused (no record, no access).
    """

    def __init__(self) -> None:
        self._local = threading.local()

    @contextlib.contextmanager
    def bind(self, target: AccessRecorder) -> Iterator[None]:
        previous = getattr(self._local, "target", None)
        self._local.target = target
        try:
            yield
        finally:
            self._local.target = previous

    def record(self, actor: str, purpose: str, plate: str, case_id: str | None) -> None:
        target = getattr(self._local, "target", None)
        if target is None:
            raise RuntimeError("registry lookup without a bound access recorder: every lookup must be recorded")
        target.record(actor, purpose, plate, case_id)


@dataclass
class MatchContext:
    """What a match needs besides the session: the adapter and who asks.

    Attributes:
        adapter: built with ``recorder=slot`` (a :class:`BoundRecorder`).
        slot: the adapter's recorder slot.
        make_recorder: the access recorder for a session (the exchange log's, normally).
        actor: the user or service account asking (``"svc:pipeline"``, ``"reviewer:ivanov"``).
        purpose: why it asks (recorded with every access).
        positions: camera id -> (lat, lon) degrees, for the clone check; cameras without a
            position are left out of it.
        clock: the current UTC time.
    """

    adapter: RegistryAdapter
    slot: BoundRecorder
    make_recorder: Callable[[Session], AccessRecorder]
    actor: str = "svc:pipeline"
    purpose: str = "violation-owner-lookup"
    positions: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc)


def match_violation(session: Session, violation_id: str, ctx: MatchContext, plate: str | None = None) -> MatchResult:
    """Look the violation's plate up and store the outcome; the caller commits.

    Args:
        session: the caller's session, inside its transaction.
        violation_id: the case.
        ctx: adapter, recorder factory, actor and purpose.
        plate: a plate a person read or corrected (overrides the machine read).

    Raises:
        ValueError: no such violation.
        RegistryAuthError: the registry refused our credentials (an operator must act).
    """
    violation = session.get(ViolationRow, violation_id)
    if violation is None:
        raise ValueError(f"violation {violation_id!r}: not found")
    row = session.get(RegistryMatchRow, violation_id)
    if row is None:
        row = RegistryMatchRow(violation_id=violation_id, status="pending", candidates=[], flags=[], attempts=0)
        session.add(row)
    query = (plate or violation.plate_text or "").strip() or None
    row.query_plate = query
    if query is None:
        _reset(row, "unreadable")
        row.last_error = None
        session.flush()
        return MatchResult(violation_id, "unreadable", True)
    row.attempts = (row.attempts or 0) + 1
    access = AccessContext(actor=ctx.actor, purpose=ctx.purpose, case_id=violation_id)
    try:
        # A failed lookup keeps the access record it made (an attempted access is still an
        # access); the row below says pending, and both commit with the caller's transaction.
        with ctx.slot.bind(ctx.make_recorder(session)):
            answer = ctx.adapter.lookup(query, access, fuzzy=True)
    except (RegistryUnavailable, TransientError) as exc:
        _reset(row, "pending")
        row.last_error = f"{type(exc).__name__}"[:300]
        logger.warning("registry unavailable, case pending violation_id=%s attempt=%d error=%s",
                       violation_id, row.attempts, type(exc).__name__)
        session.flush()
        return MatchResult(violation_id, "pending", True)
    result = _apply(session, row, violation, answer, ctx)
    session.flush()
    logger.info("registry match violation_id=%s status=%s flags=%d candidates=%d",
                violation_id, result.status, len(result.flags), result.candidate_count)
    return result


def build_match_context(spec: str, home, *, actor: str = "svc:pipeline", purpose: str = "violation-owner-lookup",
                        positions: Mapping[str, tuple[float, float]] | None = None, api_key: str | None = None) -> MatchContext:
    """A match context from a registry spec: ``sql:SQLALCHEMY_URL`` or ``http:BASE_URL``.

    The HTTP adapter's API key comes from ``api_key`` or the environment variable
    ``SAFECITY_REGISTRY_API_KEY`` (never from a command line). Every access is recorded in the
    exchange log of ``home`` (``exchange.recorder.ExchangeAccessRecorder``).

    Raises:
        ValueError: a spec of another form, an unknown adapter, or no API key for ``http``.
    """
    import os

    from exchange.recorder import ExchangeAccessRecorder
    from registry_adapters.registry import adapter_names, create_adapter

    kind, sep, target = spec.partition(":")
    if not sep or not target:
        raise ValueError(f"registry {spec!r}: expected sql:SQLALCHEMY_URL or http://host:port (e.g. sql:sqlite:///registry.sqlite)")
    if kind in ("http", "https"):
        kind, target = "http", spec
    if kind not in adapter_names():
        raise ValueError(f"registry {spec!r}: unknown adapter {kind!r}; expected one of {adapter_names()}")
    slot = BoundRecorder()
    if kind == "http":
        key = api_key or os.environ.get("SAFECITY_REGISTRY_API_KEY", "")
        if not key:
            raise ValueError("registry http: set SAFECITY_REGISTRY_API_KEY (the data holder's API key)")
        adapter = create_adapter("http", base_url=target, api_key=key, recorder=slot)
    else:
        adapter = create_adapter(kind, url=target, recorder=slot)
    return MatchContext(adapter=adapter, slot=slot, make_recorder=lambda s: ExchangeAccessRecorder(s, home),
                        actor=actor, purpose=purpose, positions=dict(positions or {}))


def match_many(db_url: str, spec: str, home, *, ids: list[str] = (), pending: bool = False, unmatched: bool = False,
               actor: str = "svc:pipeline", purpose: str = "violation-owner-lookup",
               positions: Mapping[str, tuple[float, float]] | None = None) -> list[MatchResult]:
    """Match ``ids``, and/or every pending or never-matched case, one transaction per case.

    One transaction per case: a case's access records and match row commit together, and a
    failure on one case (e.g. the registry refusing our key) leaves the cases before it stored.

    Raises:
        ValueError: a bad spec or an unknown violation id.
        RegistryAuthError: the registry refused our credentials.
    """
    from store.db import init_db, make_engine, session_factory

    ctx = build_match_context(spec, home, actor=actor, purpose=purpose, positions=positions)
    engine = make_engine(db_url)
    try:
        init_db(engine)
        sf = session_factory(engine)
        todo = list(dict.fromkeys(ids))
        with sf() as session:
            if positions is None:
                ctx.positions = camera_positions(session)
            if pending:
                todo += [v for v in pending_violation_ids(session, limit=100_000) if v not in todo]
            if unmatched:
                todo += [v for v in unmatched_violation_ids(session, limit=100_000) if v not in todo]
        results = []
        for vid in todo:
            with sf.begin() as session:
                results.append(match_violation(session, vid, ctx))
        return results
    finally:
        ctx.adapter.close()
        engine.dispose()


def camera_positions(session: Session) -> dict[str, tuple[float, float]]:
    """Camera id -> (lat, lon) degrees for every stored camera with a position."""
    from store.schema import CameraRow

    rows = session.execute(select(CameraRow.id, CameraRow.lat, CameraRow.lon).where(CameraRow.lat.is_not(None)))
    return {cid: (lat, lon) for cid, lat, lon in rows if lon is not None}


def pending_violation_ids(session: Session, limit: int = 500) -> list[str]:
    """Cases whose registry match is still pending, oldest first."""
    rows = session.scalars(
        select(RegistryMatchRow.violation_id).where(RegistryMatchRow.status == "pending")
        .order_by(RegistryMatchRow.updated_at, RegistryMatchRow.violation_id).limit(limit)
    )
    return list(rows)


def unmatched_violation_ids(session: Session, limit: int = 500) -> list[str]:
    """Violations with no registry match row yet (never asked), oldest first."""
    rows = session.scalars(
        select(ViolationRow.id).outerjoin(RegistryMatchRow, RegistryMatchRow.violation_id == ViolationRow.id)
        .where(RegistryMatchRow.violation_id.is_(None)).order_by(ViolationRow.first_time_utc, ViolationRow.id).limit(limit)
    )
    return list(rows)


def _reset(row: RegistryMatchRow, status: str) -> None:
    row.status = status
    row.vehicle_plate = None
    row.vehicle = None
    row.candidates = []
    row.flags = []
    row.needs_review = True
    row.matched_at = None


def _apply(session: Session, row: RegistryMatchRow, violation: ViolationRow, answer: LookupResult, ctx: MatchContext) -> MatchResult:
    status = {"exact": "matched"}.get(answer.status, answer.status)
    _reset(row, status)
    row.last_error = None
    row.matched_at = ctx.clock()
    row.candidates = [
        {"plate": c.record.plate, "substitutions": c.substitutions, **_describe(c.record, owner=False)}
        for c in answer.candidates
    ]
    flags: list[str] = []
    record = answer.record
    if record is not None:
        row.vehicle_plate = record.plate
        row.vehicle = _describe(record, owner=True)
        check = check_vehicle(violation.class_name, None, record)
        flags += [f"class_or_colour_mismatch: {reason}" for reason in check.reasons]
        exemption = bus_lane_exemption(violation.type, violation.measurements, record)
        if exemption:
            flags.append(f"bus_lane_exemption: {exemption}")
        if record.registration_status != "registered":
            flags.append(f"registration_status: {record.registration_status}")
        flags += _clone_flags(session, violation, record.plate, ctx.positions)
    row.flags = flags
    row.needs_review = answer.needs_review or bool(flags) or status == "not_found"
    return MatchResult(violation.id, status, row.needs_review, tuple(flags), len(row.candidates))


def _describe(record: VehicleRecord, *, owner: bool) -> dict:
    """The vehicle as the reviewer sees it; the owner *reference* only for the chosen vehicle."""
    doc = {"make": record.make, "model": record.model, "colour": record.colour, "vehicle_class": record.vehicle_class,
           "year": record.year, "registration_status": record.registration_status}
    if owner:
        doc["owner_ref"] = record.owner_ref
    return doc


def _clone_flags(session: Session, violation: ViolationRow, plate: str, positions: Mapping[str, tuple[float, float]]) -> list[str]:
    """Flag a possible clone: this plate matched on another camera at an impossible distance/time."""
    here = positions.get(violation.camera_id)
    if here is None:
        return []
    t = _aware(violation.first_time_utc)
    window = dt.timedelta(hours=CLONE_WINDOW_H)
    others = session.execute(
        select(ViolationRow.id, ViolationRow.camera_id, ViolationRow.first_time_utc)
        .join(RegistryMatchRow, RegistryMatchRow.violation_id == ViolationRow.id)
        .where(RegistryMatchRow.vehicle_plate == plate, ViolationRow.id != violation.id,
               ViolationRow.camera_id != violation.camera_id)
    ).all()
    sightings = [Sighting(plate, violation.camera_id, t, here[0], here[1], violation.id)]
    for vid, camera_id, first in others:
        pos = positions.get(camera_id)
        when = _aware(first)
        if pos is not None and abs(when - t) <= window:
            sightings.append(Sighting(plate, camera_id, when, pos[0], pos[1], vid))
    flags = []
    for s in find_clones(sightings):
        other = s.second if s.first.case_id == violation.id else s.first
        if violation.id in (s.first.case_id, s.second.case_id):
            flags.append(f"possible_clone: also case {other.case_id} on camera {other.camera_id}, "
                         f"{s.distance_km:.1f} km in {s.interval_s:.0f} s ({s.required_kmh:.0f} km/h needed)")
    return flags


def _aware(t: dt.datetime) -> dt.datetime:
    """SQLite returns naive datetimes for timezone-aware columns; they are stored as UTC."""
    return t if t.tzinfo is not None else t.replace(tzinfo=dt.timezone.utc)

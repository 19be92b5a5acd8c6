"""The exchange log: append envelopes, verify them as their receiver, answer with receipts.

Functions take a session and never commit: the caller owns the transaction, so a violation
and its log entries commit together. Appends are serialised: on PostgreSQL by a
transaction-scoped advisory lock, on SQLite by its single writer; a lost race on the entry
index surfaces as :class:`~exchange.errors.LogContentionError` (transient: retry the
transaction). Nothing here updates or deletes a log row.

Application logs carry ids, types and roles only, never a payload: payloads hold plates and
owner data of people who may not be involved in anything.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from dataclasses import dataclass
from typing import Any, Mapping

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from exchange.envelope import Envelope, build_envelope, utc_text
from exchange.errors import LogContentionError
from exchange.home import Home
from exchange.schema import ExchangeCheckpointRow, ExchangeEntryRow, ExchangePayloadRow
from exchange.verifier import (
    GENESIS_DIGEST,
    LOG_KEEPER,
    chain_next,
    checkpoint_signing_bytes,
    entry_digest,
    judge,
    receipt_payload,
)

logger = logging.getLogger(__name__)

_PG_LOCK_KEY = 0x5AFEC17E  # pg_advisory_xact_lock key of the exchange log


@dataclass(frozen=True)
class Head:
    """The chain head: the last entry's index (0 for an empty log) and digest."""

    index: int
    digest: str


@dataclass(frozen=True)
class LoggedEntry:
    """An envelope as logged: position, the receiver's decision and the digests."""

    index: int
    recorded_at: str
    status: str
    reason: str | None
    envelope: Envelope
    entry_sha256: str
    chain_digest: str

    @property
    def accepted(self) -> bool:
        return self.status == "accepted"


@dataclass(frozen=True)
class Delivery:
    """An envelope and the receipt its receiver signed for it, both logged."""

    entry: LoggedEntry
    receipt: LoggedEntry

    @property
    def accepted(self) -> bool:
        return self.entry.accepted

    @property
    def envelope(self) -> Envelope:
        return self.entry.envelope


@dataclass(frozen=True)
class Checkpoint:
    """A signed chain head (signed by the log keeper, the AIS owner)."""

    seq: int
    entry_index: int
    chain_digest: str
    created_at: str
    key_id: str
    signature: str

    def to_doc(self) -> dict[str, Any]:
        return dict(self.__dict__)


def lock_log(session: Session) -> None:
    """Serialise appenders until the transaction ends (PostgreSQL; SQLite has one writer)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})


def log_head(session: Session) -> Head:
    row = session.execute(select(ExchangeEntryRow.idx, ExchangeEntryRow.chain_digest).order_by(ExchangeEntryRow.idx.desc()).limit(1)).first()
    return Head(0, GENESIS_DIGEST) if row is None else Head(row[0], row[1])


def next_seq(session: Session, sender: str) -> int:
    """The sender's next sequence number: its last accepted seq + 1 (rejections use none)."""
    last = session.scalar(
        select(func.max(ExchangeEntryRow.seq)).where(ExchangeEntryRow.sender == sender, ExchangeEntryRow.status == "accepted")
    )
    return (last or 0) + 1


def _append(session: Session, home: Home, envelope: Envelope, reason: str | None, at: dt.datetime) -> LoggedEntry:
    head = log_head(session)
    entry = {
        "index": head.index + 1,
        "recorded_at": utc_text(at),
        "status": "accepted" if reason is None else "rejected",
        "reason": reason,
        "envelope": envelope.header(),
        "stored_payload_sha256": envelope.stored_payload_sha256(),
    }
    digest = entry_digest(entry)
    chain = chain_next(head.digest, digest)
    hdr = entry["envelope"]
    session.add(ExchangeEntryRow(
        idx=entry["index"], recorded_at=entry["recorded_at"], status=entry["status"], reason=reason,
        envelope_id=hdr["id"], seq=hdr["seq"], sender=hdr["sender"], receiver=hdr["receiver"], type=hdr["type"],
        created_at=hdr["created_at"], payload_sha256=hdr["payload_sha256"], prev_digest=hdr["prev_digest"],
        signature=hdr["signature"], stored_payload_sha256=entry["stored_payload_sha256"], entry_sha256=digest, chain_digest=chain,
    ))
    session.add(ExchangePayloadRow(entry_idx=entry["index"], payload=envelope.payload_json()))
    try:
        session.flush()
    except IntegrityError as exc:
        raise LogContentionError(f"exchange log entry {entry['index']} was taken by another transaction; retry") from exc
    logged = LoggedEntry(entry["index"], entry["recorded_at"], entry["status"], reason, envelope, digest, chain)
    every = home.config.log.checkpoint_every_entries
    if logged.index % every == 0:
        _checkpoint(session, home, Head(logged.index, chain), entry["recorded_at"])
    return logged


def receive(session: Session, home: Home, envelope: Envelope, at: dt.datetime) -> Delivery:
    """The receiver's side: verify, log as accepted or rejected, answer with a signed receipt.

    Checks the signature against the roster, the sender's expected next seq (a replay or a
    gap is rejected), the payload digest, and that ``prev_digest`` is the current log head.

    Args:
        envelope: as it arrived (possibly forged, replayed or altered).
        at: receive time, aware datetime.

    Returns:
        The logged envelope and the logged receipt; ``accepted`` tells the decision.
    """
    lock_log(session)
    head = log_head(session)
    reason = judge(envelope.header(), envelope.stored_payload_sha256(), home.roster.public_keys(), next_seq(session, envelope.sender), head.digest)
    logged = _append(session, home, envelope, reason, at)
    receipt_env = build_envelope(
        functools.partial(home.sign, envelope.receiver),
        seq=next_seq(session, envelope.receiver), sender=envelope.receiver, receiver=envelope.sender, type="receipt",
        created_at=at, payload=receipt_payload(_entry_doc(logged), logged.entry_sha256), prev_digest=logged.chain_digest,
    )
    receipt_reason = judge(receipt_env.header(), receipt_env.stored_payload_sha256(), home.roster.public_keys(), receipt_env.seq, logged.chain_digest)
    receipt = _append(session, home, receipt_env, receipt_reason, at)
    log = logger.info if reason is None else logger.warning
    log("exchange envelope=%s type=%s sender=%s receiver=%s seq=%d entry=%d status=%s reason=%s",
        envelope.id, envelope.type, envelope.sender, envelope.receiver, envelope.seq, logged.index, logged.status, reason)
    return Delivery(logged, receipt)


def send(
    session: Session, home: Home, *, sender: str, receiver: str, type: str, payload: Mapping[str, Any], at: dt.datetime
) -> Delivery:
    """Build an envelope from ``sender`` (signed with its role key) and deliver it to ``receiver``.

    Args:
        payload: JSON object; it is logged, never written to application logs.
        at: the hand-off time, aware datetime (used as creation and receive time).
    """
    lock_log(session)
    envelope = build_envelope(
        functools.partial(home.sign, sender), seq=next_seq(session, sender), sender=sender, receiver=receiver,
        type=type, created_at=at, payload=payload, prev_digest=log_head(session).digest,
    )
    return receive(session, home, envelope, at)


def _entry_doc(logged: LoggedEntry) -> dict[str, Any]:
    return {"index": logged.index, "status": logged.status, "reason": logged.reason, "envelope": logged.envelope.header()}


def _checkpoint(session: Session, home: Home, head: Head, created_at: str) -> Checkpoint:
    last = session.scalars(select(ExchangeCheckpointRow).order_by(ExchangeCheckpointRow.seq.desc()).limit(1)).first()
    if last is not None and last.entry_idx == head.index:
        return _cp(last)
    doc = {
        "seq": (last.seq if last else 0) + 1, "entry_index": head.index, "chain_digest": head.digest,
        "created_at": created_at, "key_id": home.key_id(LOG_KEEPER),
    }
    doc["signature"] = home.sign(LOG_KEEPER, checkpoint_signing_bytes(doc))
    row = ExchangeCheckpointRow(
        seq=doc["seq"], entry_idx=head.index, chain_digest=head.digest, created_at=created_at,
        key_id=doc["key_id"], signature=doc["signature"],
    )
    session.add(row)
    session.flush()
    logger.info("exchange checkpoint seq=%d entry=%d", doc["seq"], head.index)
    return _cp(row)


def _cp(row: ExchangeCheckpointRow) -> Checkpoint:
    return Checkpoint(row.seq, row.entry_idx, row.chain_digest, row.created_at, row.key_id, row.signature)


def checkpoint(session: Session, home: Home, at: dt.datetime) -> Checkpoint:
    """Sign the current chain head now (on demand); returns the existing one if it is current.

    Raises:
        ValueError: the log is empty.
    """
    lock_log(session)
    head = log_head(session)
    if head.index == 0:
        raise ValueError("exchange log is empty: nothing to checkpoint")
    return _checkpoint(session, home, head, utc_text(at))


def list_checkpoints(session: Session) -> list[Checkpoint]:
    return [_cp(r) for r in session.scalars(select(ExchangeCheckpointRow).order_by(ExchangeCheckpointRow.seq))]

"""Retention: purge expired personal payloads, leaving a signed tombstone behind.

This is the one change the log allows. The entry row, with its digests and the envelope's
signature, stays; the payload row is deleted only after a tombstone for its entry was
inserted (the database trigger refuses the DELETE otherwise). The chain and signatures still
verify, since entries hold only the payload's digest; the tombstone, signed by the log
keeper, says when and why the payload went. Law No. 58 "On personal information": keep owner
data and images only as long as the purpose needs.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from exchange.envelope import utc_text
from exchange.home import Home
from exchange.log import lock_log
from exchange.schema import ExchangeEntryRow, ExchangePayloadRow, ExchangeTombstoneRow
from exchange.verifier import LOG_KEEPER, tombstone_signing_bytes

logger = logging.getLogger(__name__)

# Envelope types whose payloads can name people (plates, owners, officers). Receipts and
# replication manifests carry only ids and digests and are kept.
PERSONAL_TYPES = frozenset({
    "candidate", "registry_query", "registry_answer", "case_for_review", "decision", "notice", "pd_access", "case_event",
})


def insert_tombstone(session: Session, doc: dict) -> None:
    """Insert a tombstone document, then delete the payload it covers (replicas use this too)."""
    session.add(ExchangeTombstoneRow(
        seq=doc["seq"], entry_idx=doc["entry_index"], stored_payload_sha256=doc["stored_payload_sha256"],
        purged_at=doc["purged_at"], reason=doc["reason"], key_id=doc["key_id"], signature=doc["signature"],
    ))
    session.flush()
    # the only DELETE in the exchange code: allowed by the trigger because the tombstone exists
    session.execute(delete(ExchangePayloadRow).where(ExchangePayloadRow.entry_idx == doc["entry_index"]))


def purge_entry(session: Session, home: Home, index: int, reason: str, at: dt.datetime) -> dict:
    """Purge one entry's payload now (e.g. retention, or a data subject's lawful request).

    Returns:
        The signed tombstone document.

    Raises:
        ValueError: no such entry, or its payload is already purged.
    """
    lock_log(session)
    entry = session.get(ExchangeEntryRow, index)
    if entry is None:
        raise ValueError(f"exchange entry {index} does not exist")
    if session.scalar(select(ExchangeTombstoneRow.seq).where(ExchangeTombstoneRow.entry_idx == index)) is not None:
        raise ValueError(f"exchange entry {index} is already purged")
    seq = (session.scalar(select(func.max(ExchangeTombstoneRow.seq))) or 0) + 1
    doc = {
        "seq": seq, "entry_index": index, "stored_payload_sha256": entry.stored_payload_sha256,
        "purged_at": utc_text(at), "reason": reason, "key_id": home.key_id(LOG_KEEPER),
    }
    doc["signature"] = home.sign(LOG_KEEPER, tombstone_signing_bytes(doc))
    insert_tombstone(session, doc)
    logger.info("exchange purge entry=%d tombstone=%d", index, seq)
    return doc


def purge_expired(session: Session, home: Home, now: dt.datetime, retention_days: int | None = None) -> list[int]:
    """Purge the personal payloads of entries recorded more than ``retention_days`` before ``now``.

    Args:
        now: the current time, aware datetime (passed in).
        retention_days: default ``roles.yaml`` ``log.personal_data_retention_days``.

    Returns:
        The entry indexes purged, ascending.
    """
    days = retention_days if retention_days is not None else home.config.log.personal_data_retention_days
    cutoff = utc_text(now - dt.timedelta(days=days))
    stmt = (
        select(ExchangeEntryRow.idx)
        .join(ExchangePayloadRow, ExchangePayloadRow.entry_idx == ExchangeEntryRow.idx)
        .where(ExchangeEntryRow.recorded_at < cutoff, ExchangeEntryRow.type.in_(sorted(PERSONAL_TYPES)))
        .order_by(ExchangeEntryRow.idx)
    )
    purged = []
    for index in list(session.scalars(stmt)):
        purge_entry(session, home, index, f"retention: recorded before {cutoff} ({days} days)", now)
        purged.append(index)
    return purged

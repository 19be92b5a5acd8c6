"""Reading the exchange log back: rows -> the record documents the verifier and bundles use."""

from __future__ import annotations

import json
from typing import Any, Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange.schema import ExchangeCheckpointRow, ExchangeEntryRow, ExchangePayloadRow, ExchangeTombstoneRow
from exchange.verifier import Problem, canonical_json

PAGE_ROWS = 2000


def entry_doc(row: ExchangeEntryRow) -> dict[str, Any]:
    """The hashed entry of a row (``exchange.verifier.ENTRY_FIELDS``)."""
    return {
        "index": row.idx, "recorded_at": row.recorded_at, "status": row.status, "reason": row.reason,
        "envelope": {
            "id": row.envelope_id, "seq": row.seq, "sender": row.sender, "receiver": row.receiver, "type": row.type,
            "created_at": row.created_at, "payload_sha256": row.payload_sha256, "prev_digest": row.prev_digest,
            "signature": row.signature,
        },
        "stored_payload_sha256": row.stored_payload_sha256,
    }


def tombstone_doc(row: ExchangeTombstoneRow) -> dict[str, Any]:
    return {
        "seq": row.seq, "entry_index": row.entry_idx, "stored_payload_sha256": row.stored_payload_sha256,
        "purged_at": row.purged_at, "reason": row.reason, "key_id": row.key_id, "signature": row.signature,
    }


def checkpoint_doc(row: ExchangeCheckpointRow) -> dict[str, Any]:
    return {
        "seq": row.seq, "entry_index": row.entry_idx, "chain_digest": row.chain_digest,
        "created_at": row.created_at, "key_id": row.key_id, "signature": row.signature,
    }


def iter_records(session: Session, problems: list[Problem] | None = None, *, from_index: int = 1, to_index: int | None = None) -> Iterator[dict[str, Any]]:
    """Every log record in index order, page by page: entry, digests, payload, tombstone.

    Args:
        problems: if given, a stored payload that is not canonical JSON text is reported here
            (its parsed value still goes to the verifier).
        from_index, to_index: inclusive entry range.
    """
    start = from_index
    while True:
        stmt = (
            select(ExchangeEntryRow, ExchangePayloadRow.payload, ExchangeTombstoneRow)
            .outerjoin(ExchangePayloadRow, ExchangePayloadRow.entry_idx == ExchangeEntryRow.idx)
            .outerjoin(ExchangeTombstoneRow, ExchangeTombstoneRow.entry_idx == ExchangeEntryRow.idx)
            .where(ExchangeEntryRow.idx >= start)
            .order_by(ExchangeEntryRow.idx)
            .limit(PAGE_ROWS)
        )
        if to_index is not None:
            stmt = stmt.where(ExchangeEntryRow.idx <= to_index)
        rows = session.execute(stmt).all()
        for entry, payload_text, tomb in rows:
            payload = None
            if payload_text is not None:
                try:
                    payload = json.loads(payload_text)
                except ValueError:
                    payload = {"__unreadable__": payload_text}
                if problems is not None and canonical_json(payload).decode("utf-8") != payload_text:
                    problems.append(Problem("entry", entry.idx, "non_canonical_payload", f"entry {entry.idx}: stored payload text is not canonical JSON (altered?)"))
            yield {
                "entry": entry_doc(entry), "entry_sha256": entry.entry_sha256, "chain_digest": entry.chain_digest,
                "payload": payload, "tombstone": tombstone_doc(tomb) if tomb is not None else None,
            }
        if len(rows) < PAGE_ROWS:
            return
        start = rows[-1][0].idx + 1


def checkpoint_docs(session: Session) -> list[dict[str, Any]]:
    return [checkpoint_doc(r) for r in session.scalars(select(ExchangeCheckpointRow).order_by(ExchangeCheckpointRow.seq))]

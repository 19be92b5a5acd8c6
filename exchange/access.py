"""Personal-data access log: every read of owner data or a plate is an entry (who, when, which
plate, why), as Law No. 58 "On personal information" asks of a data-array holder.

The plate goes into the signed log only; application logs never see it.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange.envelope import utc_text
from exchange.home import Home
from exchange.log import Delivery, send
from exchange.schema import ExchangeEntryRow, ExchangePayloadRow
from exchange.verifier import ROLES


@dataclass(frozen=True)
class PdAccess:
    """One logged personal-data access. ``plate`` is None once retention purged the payload."""

    entry_index: int
    accessed_at: str
    actor: str | None
    role: str
    purpose: str | None
    plate: str | None
    case_id: str | None
    status: str


def record_pd_access(
    session: Session,
    home: Home,
    actor: str,
    role: str,
    purpose: str,
    plate: str,
    case_id: str | None = None,
    *,
    at: dt.datetime,
) -> Delivery:
    """Log that ``actor`` (acting for ``role``) read data about ``plate`` for ``purpose``.

    Args:
        actor: the person or service account (officer id, login).
        role: the role the actor works for; it signs the entry.
        purpose: why (e.g. "registry lookup for case 1f3c..."); required.
        plate: the plate (personal data: kept in the log only).
        case_id: the case the access serves, if any.
        at: access time, aware datetime.
    """
    if role not in ROLES:
        raise ValueError(f"role: expected one of {ROLES}, got {role!r}")
    for name, value in (("actor", actor), ("purpose", purpose), ("plate", plate)):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{name}: expected a non-empty string")
    payload = {"actor": actor, "role": role, "purpose": purpose, "plate": plate, "case_id": case_id, "accessed_at": utc_text(at)}
    return send(session, home, sender=role, receiver="ais_owner", type="pd_access", payload=payload, at=at)


def list_pd_access(session: Session, time_from: str | None = None, time_to: str | None = None) -> list[PdAccess]:
    """Personal-data accesses in log order, optionally within canonical UTC times (inclusive)."""
    stmt = (
        select(ExchangeEntryRow, ExchangePayloadRow.payload)
        .outerjoin(ExchangePayloadRow, ExchangePayloadRow.entry_idx == ExchangeEntryRow.idx)
        .where(ExchangeEntryRow.type == "pd_access")
        .order_by(ExchangeEntryRow.idx)
    )
    if time_from:
        stmt = stmt.where(ExchangeEntryRow.recorded_at >= time_from)
    if time_to:
        stmt = stmt.where(ExchangeEntryRow.recorded_at <= time_to)
    out = []
    for row, text in session.execute(stmt):
        doc = json.loads(text) if text is not None else {}
        out.append(PdAccess(
            row.idx, doc.get("accessed_at", row.recorded_at), doc.get("actor"), doc.get("role", row.sender),
            doc.get("purpose"), doc.get("plate"), doc.get("case_id"), row.status,
        ))
    return out

"""Case lifecycle in the log: every transition is an envelope, checked by the pure state machine."""

from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange.home import Home
from exchange.lifecycle import check_transition
from exchange.log import Delivery, lock_log, send
from exchange.schema import ExchangeCaseStateRow


def case_state(session: Session, case_id: str) -> str | None:
    """The case's current state (after its last accepted transition); None for an unknown case."""
    return session.scalar(
        select(ExchangeCaseStateRow.state).where(ExchangeCaseStateRow.case_id == case_id).order_by(ExchangeCaseStateRow.entry_idx.desc()).limit(1)
    )


def advance_case(
    session: Session,
    home: Home,
    case_id: str,
    to_state: str,
    at: dt.datetime,
    *,
    officer_id: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> Delivery:
    """Move a case to ``to_state`` by logging the envelope that carries the transition.

    The envelope's type, sender and receiver come from :data:`exchange.lifecycle.STEPS` (a
    decision is sent by ``ais_user``, signed with the police key, and names the officer).

    Args:
        case_id: the case (the violation id).
        to_state: one of :data:`exchange.lifecycle.STATES`.
        at: transition time, aware datetime.
        officer_id: the inspector; required for decisions and notices.
        details: JSON object carried in the payload (e.g. the registry answer).

    Returns:
        The delivery; the case state moves only if the envelope was accepted.

    Raises:
        IllegalTransitionError: the case cannot go from its current state to ``to_state``.
        ValueError: an officer is required and missing.
    """
    if not case_id:
        raise ValueError("case_id: expected a non-empty id")
    lock_log(session)
    current = case_state(session, case_id)
    step = check_transition(case_id, current, to_state)
    if step.needs_officer and not officer_id:
        raise ValueError(f"case {case_id}: {to_state} needs the officer id of the inspector")
    payload: dict[str, Any] = {"case_id": case_id, "from_state": current, "to_state": to_state, "details": dict(details or {})}
    if officer_id:
        payload["officer_id"] = officer_id
    delivery = send(session, home, sender=step.sender, receiver=step.receiver, type=step.type, payload=payload, at=at)
    if delivery.accepted:
        session.add(ExchangeCaseStateRow(entry_idx=delivery.entry.index, case_id=case_id, state=to_state))
        session.flush()
    return delivery

"""The case lifecycle as a pure state machine, and which hand-off carries each transition.

detected -> plate_read -> registry_matched -> ready_for_review -> confirmed | rejected;
confirmed -> notice_issued -> paid | appealed | closed; paid and appealed end in closed.
An inspector confirms or rejects every case and signs the decision (the 2019 Bishkek flow:
vendor -> e-government operator -> police monitoring centre -> inspector signs -> notice).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

from exchange.errors import IllegalTransitionError

STATES = (
    "detected", "plate_read", "registry_matched", "ready_for_review", "confirmed", "rejected",
    "notice_issued", "paid", "appealed", "closed",
)

TRANSITIONS: Mapping[str, frozenset[str]] = MappingProxyType({
    "detected": frozenset({"plate_read"}),
    "plate_read": frozenset({"registry_matched"}),
    "registry_matched": frozenset({"ready_for_review"}),
    "ready_for_review": frozenset({"confirmed", "rejected"}),
    "confirmed": frozenset({"notice_issued"}),
    "rejected": frozenset(),
    "notice_issued": frozenset({"paid", "appealed", "closed"}),
    "paid": frozenset({"closed"}),
    "appealed": frozenset({"closed"}),
    "closed": frozenset(),
})


@dataclass(frozen=True)
class Step:
    """The envelope that carries a transition into a state: its type, sender and receiver."""

    type: str
    sender: str
    receiver: str
    needs_officer: bool = False


STEPS: Mapping[str, Step] = MappingProxyType({
    # the camera complex reports the violation, then its plate read
    "detected": Step("candidate", "info_provider", "ais_owner"),
    "plate_read": Step("case_event", "info_provider", "ais_owner"),
    # the registry's answer (vehicle, owner) moves the case on
    "registry_matched": Step("registry_answer", "data_holder", "ais_owner"),
    "ready_for_review": Step("case_for_review", "ais_owner", "ais_user"),
    # an inspector decides; the decision is signed with the police role key and names the officer
    "confirmed": Step("decision", "ais_user", "ais_owner", needs_officer=True),
    "rejected": Step("decision", "ais_user", "ais_owner", needs_officer=True),
    "notice_issued": Step("notice", "ais_user", "ais_owner", needs_officer=True),
    "paid": Step("case_event", "ais_owner", "ais_user"),
    "appealed": Step("case_event", "ais_owner", "ais_user"),
    "closed": Step("case_event", "ais_owner", "ais_user"),
})


def check_transition(case_id: str, from_state: str | None, to_state: str) -> Step:
    """The step for ``from_state -> to_state``.

    Args:
        case_id: named in the error.
        from_state: the case's current state; None for a case not seen yet (only
            ``detected`` may start one).
        to_state: the requested state.

    Raises:
        IllegalTransitionError: naming the case, the from and the to state.
    """
    if to_state not in STATES:
        raise IllegalTransitionError(case_id, from_state, to_state)
    if from_state is None:
        if to_state != "detected":
            raise IllegalTransitionError(case_id, None, to_state)
    elif to_state not in TRANSITIONS.get(from_state, frozenset()):
        raise IllegalTransitionError(case_id, from_state, to_state)
    return STEPS[to_state]


def is_final(state: str) -> bool:
    return not TRANSITIONS[state]

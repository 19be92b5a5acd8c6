"""Errors of the exchange: all under :class:`safecity.errors.SafeCityError`."""

from __future__ import annotations

from safecity.errors import PermanentError, TransientError


class HomeError(PermanentError):
    """The home folder, its roles.yaml, roster or a private key is missing or invalid."""


class KeyMismatchError(HomeError):
    """A private key does not belong to the public key the roster publishes for its role."""


class IllegalTransitionError(PermanentError):
    """A case cannot move from its current state to the requested one.

    Attributes:
        case_id: the case; from_state: its current state (None: unknown case); to_state: requested.
    """

    def __init__(self, case_id: str, from_state: str | None, to_state: str) -> None:
        self.case_id = case_id
        self.from_state = from_state
        self.to_state = to_state
        super().__init__(f"case {case_id}: illegal transition {from_state or '(no case)'} -> {to_state}")


class EnvelopeRejectedError(PermanentError):
    """An envelope the caller required to be accepted was rejected (it is still logged)."""

    def __init__(self, envelope_id: str, reason: str) -> None:
        self.envelope_id = envelope_id
        self.reason = reason
        super().__init__(f"envelope {envelope_id} rejected: {reason}")


class LogContentionError(TransientError):
    """Another transaction appended to the log at the same time; retry the transaction."""


class ReplicationError(PermanentError):
    """A replication batch does not continue the replica's chain (a gap or a fork)."""

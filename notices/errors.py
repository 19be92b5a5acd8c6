"""Errors of the notices package (under :class:`safecity.errors.SafeCityError`)."""

from __future__ import annotations

from safecity.errors import PermanentError, TransientError


class NoticeError(PermanentError):
    """A notice cannot be issued or read as asked (the message names the violation or notice)."""


class NoticeConfigError(NoticeError):
    """``notices.yaml`` is unreadable or invalid."""


class EvidenceIntegrityError(NoticeError):
    """A stored file is missing or its SHA-256 is not the recorded one (never silently used)."""


class DeliveryTransientError(TransientError):
    """Delivery failed in a way a later try may fix (timeout, 5xx, malformed answer)."""


class DeliveryPermanentError(PermanentError):
    """The receiver refused the notice for good (4xx); a person has to look at it."""


class NoticeRefusedError(NoticeError):
    """A confirmed case that must not get a fine notice (not finable, or no known amount).

    Raised before anything is written; the caller records it with
    :func:`notices.service.record_refusal` in its own transaction, so the case shows why.

    Attributes:
        violation_id: the case.
        code: a :data:`notices.finable.REFUSAL_CODES` entry.
        reason: why, without personal data.
    """

    def __init__(self, violation_id: str, code: str, reason: str) -> None:
        super().__init__(f"violation {violation_id}: no notice: {reason}")
        self.violation_id = violation_id
        self.code = code
        self.reason = reason

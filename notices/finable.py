"""Whether a confirmed case may lead to a fine: the refusals a notice checks before writing anything.

Pure: takes what was stored about the violation and returns a :class:`Refusal` or None. The
pipeline marks a violation it cannot fine on (``pipeline/run.py``): a signal phase the camera
only saw (vision) while the camera's settings do not allow fines on vision, or a controller
feed that the camera contradicts at the offence time; both put a ``review_reason`` into the
violation's measurements and ``finable: false`` into its evidence metadata. An inspector may
still confirm such a case (the offence happened), but the fine must stand on a measurement the
law accepts, so no notice is issued and the case says why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Refusal codes, stored with every refusal (``notice_refusals.code``).
NEEDS_REVIEW = "needs_review"
SIGNAL_NOT_FINABLE = "signal_not_finable"
NO_FINE_AMOUNT = "no_fine_amount"
REFUSAL_CODES = (NEEDS_REVIEW, SIGNAL_NOT_FINABLE, NO_FINE_AMOUNT)


@dataclass(frozen=True)
class Refusal:
    """Why a confirmed case gets no fine notice.

    Attributes:
        code: one of :data:`REFUSAL_CODES`.
        reason: for the inspector and the auditor (no personal data).
    """

    code: str
    reason: str

    def __post_init__(self) -> None:
        if self.code not in REFUSAL_CODES:
            raise ValueError(f"refusal code: expected one of {', '.join(REFUSAL_CODES)}, got {self.code!r}")
        if not self.reason.strip():
            raise ValueError("refusal reason: expected a non-empty text")


def unfinable(measurements: Mapping[str, Any] | None, metadata: Mapping[str, Any] | None = None) -> Refusal | None:
    """The refusal for a violation whose measurements or evidence metadata say it is not finable.

    Args:
        measurements: the stored violation's ``measurements`` (``review_reason`` when the
            pipeline could not fine on the signal phase).
        metadata: its evidence ``metadata.json`` (``finable``, ``review_reason``); None when
            not read yet.

    Returns:
        None when nothing stands against a fine (the amount is checked separately).
    """
    reason = (measurements or {}).get("review_reason")
    if isinstance(reason, str) and reason.strip():
        return Refusal(NEEDS_REVIEW, f"the measurement is marked for review: {reason.strip()}")
    meta = metadata or {}
    if meta.get("finable") is False:
        why = meta.get("review_reason") if isinstance(meta.get("review_reason"), str) and meta["review_reason"].strip() else None
        source = meta.get("signal_source") or "unknown"
        return Refusal(SIGNAL_NOT_FINABLE, f"the evidence marks the case not finable (signal source {source})" + (f": {why}" if why else ""))
    return None

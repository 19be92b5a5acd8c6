"""Delivery of issued notices: a protocol, an explicit registry of adapters, and the adapters.

``outbox`` (default) writes each notice into a local folder, write-once and atomically, for a
print shop or a batch transfer to pick up; ``portal`` posts it to a state-services portal API
(since Oct 2025 notices may be delivered officially through the state portal/app).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from safecity.plugins import LazyRegistry


@dataclass(frozen=True)
class OutgoingNotice:
    """What an adapter delivers: the notice's facts and its PDF.

    ``plate`` and ``owner_ref`` (the data holder's opaque reference of the registered owner,
    from the case's registry answer; None when the case has none) are personal data: adapters
    send them to the receiver and never log them.
    """

    notice_id: str
    number: str
    violation_id: str
    plate: str
    payment_reference: str
    amount: int
    discounted_amount: int
    currency: str
    discount_until: dt.date
    issued_at: dt.datetime
    pdf: bytes
    pdf_sha256: str
    owner_ref: str | None = None


@dataclass(frozen=True)
class DeliveryReceipt:
    """The receiver's acknowledgement: which adapter, its receipt id, when (UTC)."""

    adapter: str
    receipt: str
    delivered_at: dt.datetime


class DeliveryAdapter(Protocol):
    """Hands one notice to its receiver.

    ``deliver`` must be idempotent for the same ``notice_id`` (a retry after a lost answer
    must not deliver twice) and raises
    :class:`~notices.errors.DeliveryTransientError` (try again later) or
    :class:`~notices.errors.DeliveryPermanentError` (a person must look).
    """

    name: str

    def deliver(self, notice: OutgoingNotice) -> DeliveryReceipt: ...


ADAPTERS: dict[str, str] = {
    "outbox": "notices.delivery.outbox:OutboxAdapter",
    "portal": "notices.delivery.portal:PortalAdapter",
}
registry = LazyRegistry("delivery adapter", ADAPTERS)


def create_adapter(name: str, *, home_dir: Path, settings=None, **options) -> DeliveryAdapter:  # noqa: ANN001
    """The adapter registered as ``name``, configured from ``settings`` (NoticeSettings).

    Raises:
        ValueError: an unknown name (with the valid names and the closest one).
    """
    cls = registry.resolve(name)
    return cls.from_settings(settings, home_dir=home_dir, **options)

"""Notices and their delivery attempts (SQLAlchemy 2.0, on the shared ``store.schema.Base``).

A notice row is written once when the notice is issued; only its delivery columns change
afterwards. Delivery attempts are insert-only: every try is kept, successful or not, so an
auditor can see when and how each notice went out.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from store.schema import Base

DELIVERY_STATES = ("pending", "delivered", "needs_attention")
ATTEMPT_OUTCOMES = ("delivered", "transient_error", "permanent_error")


class NoticeRow(Base):
    """One fine notice per confirmed violation.

    ``number`` is ``<year>-<seq>`` (per-year sequence, printed on the notice);
    ``payment_reference`` is its ISO 11649 RF reference. Amounts are whole units of
    ``currency`` as the fines table version ``fines_table_version`` gave them on the decision day.
    """

    __tablename__ = "notices"
    __table_args__ = (UniqueConstraint("year", "seq"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    violation_id: Mapped[str] = mapped_column(ForeignKey("violations.id"), unique=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    payment_reference: Mapped[str] = mapped_column(String(34), unique=True)
    violation_type: Mapped[str] = mapped_column(String(40))
    article: Mapped[str] = mapped_column(Text)
    amount: Mapped[int] = mapped_column(Integer)
    discounted_amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    discount_until: Mapped[dt.date] = mapped_column(Date)
    fines_table_version: Mapped[str] = mapped_column(String(40))
    decided_by: Mapped[str] = mapped_column(String(100))
    decided_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    pdf_key: Mapped[str] = mapped_column(Text)
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    envelope_id: Mapped[str] = mapped_column(String(32))
    exchange_entry_idx: Mapped[int] = mapped_column(Integer)
    delivery_status: Mapped[str] = mapped_column(String(24), default="pending", index=True)
    delivery_attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    delivery_adapter: Mapped[str | None] = mapped_column(String(40), nullable=True)
    delivery_receipt: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    attempts: Mapped[list[DeliveryAttemptRow]] = relationship(back_populates="notice", order_by="DeliveryAttemptRow.attempt")


class DeliveryAttemptRow(Base):
    """One try to deliver a notice (insert-only). ``error`` never holds personal data."""

    __tablename__ = "notice_delivery_attempts"
    __table_args__ = (UniqueConstraint("notice_id", "attempt"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    notice_id: Mapped[str] = mapped_column(ForeignKey("notices.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    adapter: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str] = mapped_column(String(24))
    receipt: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)

    notice: Mapped[NoticeRow] = relationship(back_populates="attempts")


class NoticeRefusalRow(Base):
    """Why a confirmed case got no notice (insert-only; one row per case and reason code).

    Written by :func:`notices.service.record_refusal` when :func:`notices.service.issue_notice`
    refused (a measurement marked for review, a signal phase that may not fine, no amount in the
    fines table on the decision day). The case page and ``safecity notices`` show it; a later
    notice (e.g. after the fines table is completed) leaves the row as history.
    """

    __tablename__ = "notice_refusals"
    __table_args__ = (UniqueConstraint("violation_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    violation_id: Mapped[str] = mapped_column(ForeignKey("violations.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(String(100))
    decided_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

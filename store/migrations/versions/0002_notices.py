"""Notices and their delivery attempts (notices/models.py).

Revision ID: 0002_notices
Revises: 0001_baseline
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_notices"
down_revision: str | Sequence[str] | None = "0001_baseline"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notices",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("violation_id", sa.String(length=64), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("payment_reference", sa.String(length=34), nullable=False),
        sa.Column("violation_type", sa.String(length=40), nullable=False),
        sa.Column("article", sa.Text(), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("discounted_amount", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("discount_until", sa.Date(), nullable=False),
        sa.Column("fines_table_version", sa.String(length=40), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pdf_key", sa.Text(), nullable=False),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=False),
        sa.Column("envelope_id", sa.String(length=32), nullable=False),
        sa.Column("exchange_entry_idx", sa.Integer(), nullable=False),
        sa.Column("delivery_status", sa.String(length=24), nullable=False),
        sa.Column("delivery_attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivery_adapter", sa.String(length=40), nullable=True),
        sa.Column("delivery_receipt", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(["violation_id"], ["violations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number"),
        sa.UniqueConstraint("payment_reference"),
        sa.UniqueConstraint("violation_id"),
        sa.UniqueConstraint("year", "seq"),
    )
    op.create_index(op.f("ix_notices_delivery_status"), "notices", ["delivery_status"], unique=False)
    op.create_index(op.f("ix_notices_next_attempt_at"), "notices", ["next_attempt_at"], unique=False)
    op.create_table(
        "notice_delivery_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("notice_id", sa.String(length=32), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("adapter", sa.String(length=40), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("receipt", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["notice_id"], ["notices.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("notice_id", "attempt"),
    )
    op.create_index(op.f("ix_notice_delivery_attempts_notice_id"), "notice_delivery_attempts", ["notice_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_notice_delivery_attempts_notice_id"), table_name="notice_delivery_attempts")
    op.drop_table("notice_delivery_attempts")
    op.drop_index(op.f("ix_notices_next_attempt_at"), table_name="notices")
    op.drop_index(op.f("ix_notices_delivery_status"), table_name="notices")
    op.drop_table("notices")

"""Refused notices: why a confirmed case got no fine notice (notices/models.py NoticeRefusalRow).

Revision ID: 0008_notice_refusals
Revises: 0007_merge_heads
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_notice_refusals"
down_revision: str | Sequence[str] | None = "0007_merge_heads"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notice_refusals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("violation_id", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(["violation_id"], ["violations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("violation_id", "code"),
    )
    op.create_index(op.f("ix_notice_refusals_violation_id"), "notice_refusals", ["violation_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_notice_refusals_violation_id"), table_name="notice_refusals")
    op.drop_table("notice_refusals")

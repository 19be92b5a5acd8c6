"""Registry matches of cases (registry_adapters/models.py); camera positions for clone checks.

Revision ID: 0006_registry_matches
Revises: 0001_baseline
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_registry_matches"
down_revision: str | Sequence[str] | None = "0001_baseline"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "registry_matches",
        sa.Column("violation_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("query_plate", sa.String(length=32), nullable=True),
        sa.Column("vehicle_plate", sa.String(length=32), nullable=True),
        sa.Column("vehicle", sa.JSON(), nullable=True),
        sa.Column("candidates", sa.JSON(), nullable=False),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.Column("needs_review", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("matched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(["violation_id"], ["violations.id"]),
        sa.PrimaryKeyConstraint("violation_id"),
    )
    op.create_index(op.f("ix_registry_matches_status"), "registry_matches", ["status"], unique=False)
    with op.batch_alter_table("cameras") as batch:
        batch.add_column(sa.Column("lat", sa.Float(), nullable=True))
        batch.add_column(sa.Column("lon", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cameras") as batch:
        batch.drop_column("lon")
        batch.drop_column("lat")
    op.drop_index(op.f("ix_registry_matches_status"), table_name="registry_matches")
    op.drop_table("registry_matches")

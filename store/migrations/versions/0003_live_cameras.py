"""Live camera registry and operator alerts (workers/live_models.py).

Revision ID: 0003_live_cameras
Revises: 0001_baseline
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_live_cameras"
down_revision: str | Sequence[str] | None = "0001_baseline"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "live_cameras",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("stream_url", sa.Text(), nullable=False),
        sa.Column("config_path", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("pool", sa.String(length=16), nullable=False),
        sa.Column("desired_worker", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "camera_alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("camera_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("worker_id", sa.String(length=128), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("at_utc", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_camera_alerts_camera_id"), "camera_alerts", ["camera_id"], unique=False)
    op.create_index(op.f("ix_camera_alerts_at_utc"), "camera_alerts", ["at_utc"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_camera_alerts_at_utc"), table_name="camera_alerts")
    op.drop_index(op.f("ix_camera_alerts_camera_id"), table_name="camera_alerts")
    op.drop_table("camera_alerts")
    op.drop_table("live_cameras")

"""Web application: accounts, server-side sessions, login attempts, plate corrections (web/models.py).

Revision ID: 0004_web
Revises: 0001_baseline
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004_web'
down_revision: str | Sequence[str] | None = '0001_baseline'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('web_login_attempts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('client_ip', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('success', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('web_login_attempts', schema=None) as batch_op:
        batch_op.create_index('ix_web_login_attempts_ip_at', ['client_ip', 'at'], unique=False)
        batch_op.create_index('ix_web_login_attempts_user_at', ['username', 'at'], unique=False)

    op.create_table('web_users',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username')
    )
    op.create_table('web_sessions',
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('csrf_token', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['web_users.id'], ),
    sa.PrimaryKeyConstraint('token_sha256')
    )
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_web_sessions_user_id'), ['user_id'], unique=False)

    op.create_table('web_plate_corrections',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('violation_id', sa.String(length=64), nullable=False),
    sa.Column('old_text', sa.String(length=32), nullable=True),
    sa.Column('old_status', sa.String(length=16), nullable=True),
    sa.Column('new_text', sa.String(length=32), nullable=False),
    sa.Column('corrected_by', sa.String(length=64), nullable=False),
    sa.Column('corrected_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('entry_idx', sa.Integer(), nullable=False),
    sa.Column('lookup_status', sa.String(length=16), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['violation_id'], ['violations.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('web_plate_corrections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_web_plate_corrections_violation_id'), ['violation_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('web_plate_corrections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_web_plate_corrections_violation_id'))

    op.drop_table('web_plate_corrections')
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_web_sessions_user_id'))

    op.drop_table('web_sessions')
    op.drop_table('web_users')
    with op.batch_alter_table('web_login_attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_web_login_attempts_user_at')
        batch_op.drop_index('ix_web_login_attempts_ip_at')

    op.drop_table('web_login_attempts')

"""Baseline: the schema as ``create_all`` made it before migrations, plus the exchange triggers.

Revision ID: 0001_baseline
Revises: (none)
Create Date: 2026-11-26

Frozen: the tables are spelled out here (not ``Base.metadata.create_all``), so later model
changes arrive as their own revisions on top of this one. Databases made by the
pre-migration ``init_db`` are stamped at this revision (store/migrate.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from store.migrate import install_append_only_triggers


revision: str = '0001_baseline'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('cameras',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('calibration_version', sa.String(length=100), nullable=False),
    sa.Column('speed_limit_kmh', sa.Float(), nullable=False),
    sa.Column('config_sha256', sa.String(length=64), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('exchange_checkpoints',
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('entry_idx', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('chain_digest', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.String(length=32), nullable=False),
    sa.Column('key_id', sa.String(length=64), nullable=False),
    sa.Column('signature', sa.String(length=128), nullable=False),
    sa.PrimaryKeyConstraint('seq')
    )
    op.create_table('exchange_entries',
    sa.Column('idx', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('recorded_at', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('envelope_id', sa.String(length=64), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('sender', sa.String(length=32), nullable=False),
    sa.Column('receiver', sa.String(length=32), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.String(length=32), nullable=False),
    sa.Column('payload_sha256', sa.String(length=64), nullable=False),
    sa.Column('prev_digest', sa.String(length=64), nullable=False),
    sa.Column('signature', sa.String(length=128), nullable=False),
    sa.Column('stored_payload_sha256', sa.String(length=64), nullable=False),
    sa.Column('entry_sha256', sa.String(length=64), nullable=False),
    sa.Column('chain_digest', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('idx')
    )
    op.create_index(op.f('ix_exchange_entries_envelope_id'), 'exchange_entries', ['envelope_id'], unique=False)
    op.create_index('ix_exchange_entries_recorded_at', 'exchange_entries', ['recorded_at'], unique=False)
    op.create_index('ix_exchange_entries_sender_seq', 'exchange_entries', ['sender', 'status', 'seq'], unique=False)
    op.create_index(op.f('ix_exchange_entries_type'), 'exchange_entries', ['type'], unique=False)
    op.create_table('exchange_case_states',
    sa.Column('entry_idx', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('case_id', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=24), nullable=False),
    sa.ForeignKeyConstraint(['entry_idx'], ['exchange_entries.idx'], ),
    sa.PrimaryKeyConstraint('entry_idx')
    )
    op.create_index(op.f('ix_exchange_case_states_case_id'), 'exchange_case_states', ['case_id'], unique=False)
    op.create_table('exchange_payloads',
    sa.Column('entry_idx', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['entry_idx'], ['exchange_entries.idx'], ),
    sa.PrimaryKeyConstraint('entry_idx')
    )
    op.create_table('exchange_tombstones',
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('entry_idx', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('stored_payload_sha256', sa.String(length=64), nullable=False),
    sa.Column('purged_at', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('key_id', sa.String(length=64), nullable=False),
    sa.Column('signature', sa.String(length=128), nullable=False),
    sa.ForeignKeyConstraint(['entry_idx'], ['exchange_entries.idx'], ),
    sa.PrimaryKeyConstraint('seq'),
    sa.UniqueConstraint('entry_idx')
    )
    op.create_table('runs',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('camera_id', sa.String(length=64), nullable=False),
    sa.Column('video_path', sa.Text(), nullable=False),
    sa.Column('video_sha256', sa.String(length=64), nullable=False),
    sa.Column('frame_count', sa.Integer(), nullable=False),
    sa.Column('fps', sa.Float(), nullable=False),
    sa.Column('start_time_utc', sa.DateTime(timezone=True), nullable=False),
    sa.Column('software_version', sa.String(length=40), nullable=False),
    sa.Column('model', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['camera_id'], ['cameras.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('tracks',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('track_id', sa.Integer(), nullable=False),
    sa.Column('class_name', sa.String(length=32), nullable=False),
    sa.Column('first_frame', sa.Integer(), nullable=False),
    sa.Column('last_frame', sa.Integer(), nullable=False),
    sa.Column('n_points', sa.Integer(), nullable=False),
    sa.Column('speed_kmh', sa.Float(), nullable=True),
    sa.Column('max_speed_kmh', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('run_id', 'track_id')
    )
    op.create_table('violations',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('camera_id', sa.String(length=64), nullable=False),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('track_id', sa.Integer(), nullable=False),
    sa.Column('class_name', sa.String(length=32), nullable=False),
    sa.Column('first_frame', sa.Integer(), nullable=False),
    sa.Column('last_frame', sa.Integer(), nullable=False),
    sa.Column('first_time_utc', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_time_utc', sa.DateTime(timezone=True), nullable=False),
    sa.Column('speed_kmh', sa.Float(), nullable=True),
    sa.Column('limit_kmh', sa.Float(), nullable=True),
    sa.Column('signal_state', sa.String(length=16), nullable=True),
    sa.Column('measurements', sa.JSON(), nullable=False),
    sa.Column('plate_text', sa.String(length=32), nullable=True),
    sa.Column('plate_confidence', sa.Float(), nullable=True),
    sa.Column('plate_status', sa.String(length=16), nullable=True),
    sa.Column('plate_country', sa.String(length=16), nullable=True),
    sa.Column('plate_guess', sa.String(length=32), nullable=True),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['camera_id'], ['cameras.id'], ),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_violations_camera_id'), 'violations', ['camera_id'], unique=False)
    op.create_index(op.f('ix_violations_first_time_utc'), 'violations', ['first_time_utc'], unique=False)
    op.create_index(op.f('ix_violations_type'), 'violations', ['type'], unique=False)
    op.create_table('evidence_files',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('violation_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['violation_id'], ['violations.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('violation_id', 'kind')
    )
    # The exchange log refuses UPDATE/DELETE (and TRUNCATE on PostgreSQL): exchange/schema.py's DDL.
    install_append_only_triggers(op.get_bind())


def downgrade() -> None:
    # Dropping a table drops its triggers; PostgreSQL's trigger functions go separately.
    op.drop_table('evidence_files')
    op.drop_index(op.f('ix_violations_type'), table_name='violations')
    op.drop_index(op.f('ix_violations_first_time_utc'), table_name='violations')
    op.drop_index(op.f('ix_violations_camera_id'), table_name='violations')
    op.drop_table('violations')
    op.drop_table('tracks')
    op.drop_table('runs')
    op.drop_table('exchange_tombstones')
    op.drop_table('exchange_payloads')
    op.drop_index(op.f('ix_exchange_case_states_case_id'), table_name='exchange_case_states')
    op.drop_table('exchange_case_states')
    op.drop_index(op.f('ix_exchange_entries_type'), table_name='exchange_entries')
    op.drop_index('ix_exchange_entries_sender_seq', table_name='exchange_entries')
    op.drop_index('ix_exchange_entries_recorded_at', table_name='exchange_entries')
    op.drop_index(op.f('ix_exchange_entries_envelope_id'), table_name='exchange_entries')
    op.drop_table('exchange_entries')
    op.drop_table('exchange_checkpoints')
    op.drop_table('cameras')
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS exchange_payload_purge_only()")
        op.execute("DROP FUNCTION IF EXISTS exchange_refuse_change()")

"""Exchange-log tables on ``store.schema.Base``, and the triggers that keep them append-only.

Tables (every one insert-only; the triggers refuse UPDATE and DELETE on SQLite and
PostgreSQL, and TRUNCATE on PostgreSQL):

- ``exchange_entries``: one row per logged envelope: header, status, digests. No payload, so
  the chain verifies after a purge.
- ``exchange_payloads``: the payload of an entry as canonical JSON text. The one permitted
  change of the whole log: a row may be DELETEd once a signed tombstone for its entry exists
  (retention purge of personal data); it can never be UPDATEd.
- ``exchange_tombstones``: why and when an entry's payload was purged, signed by the log keeper.
- ``exchange_checkpoints``: signed chain heads.
- ``exchange_case_states``: case id -> state after each lifecycle entry (an index for lookups;
  the log is the record).

Times are canonical UTC text (``YYYY-MM-DDTHH:MM:SS.ffffffZ``) rather than ``DateTime``: the
signed and hashed bytes must come back exactly, and SQLite drops the UTC offset. The text
sorts chronologically, so time-range queries work on it.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Engine, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from store.schema import Base

APPEND_ONLY_TABLES = ("exchange_entries", "exchange_tombstones", "exchange_checkpoints", "exchange_case_states")


class ExchangeEntryRow(Base):
    """One logged envelope. ``idx`` is the 1-based position in the chain."""

    __tablename__ = "exchange_entries"
    __table_args__ = (
        Index("ix_exchange_entries_sender_seq", "sender", "status", "seq"),
        Index("ix_exchange_entries_recorded_at", "recorded_at"),
    )

    idx: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False)
    recorded_at: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    envelope_id: Mapped[str] = mapped_column(String(64), index=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    sender: Mapped[str] = mapped_column(String(32))
    receiver: Mapped[str] = mapped_column(String(32))
    type: Mapped[str] = mapped_column(String(32), index=True)
    created_at: Mapped[str] = mapped_column(String(32))
    payload_sha256: Mapped[str] = mapped_column(String(64))
    prev_digest: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))
    stored_payload_sha256: Mapped[str] = mapped_column(String(64))
    entry_sha256: Mapped[str] = mapped_column(String(64))
    chain_digest: Mapped[str] = mapped_column(String(64))


class ExchangePayloadRow(Base):
    __tablename__ = "exchange_payloads"

    entry_idx: Mapped[int] = mapped_column(ForeignKey("exchange_entries.idx"), primary_key=True, autoincrement=False)
    payload: Mapped[str] = mapped_column(Text)


class ExchangeTombstoneRow(Base):
    __tablename__ = "exchange_tombstones"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    entry_idx: Mapped[int] = mapped_column(ForeignKey("exchange_entries.idx"), unique=True)
    stored_payload_sha256: Mapped[str] = mapped_column(String(64))
    purged_at: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))


class ExchangeCheckpointRow(Base):
    __tablename__ = "exchange_checkpoints"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    entry_idx: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    chain_digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[str] = mapped_column(String(32))
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))


class ExchangeCaseStateRow(Base):
    __tablename__ = "exchange_case_states"

    entry_idx: Mapped[int] = mapped_column(ForeignKey("exchange_entries.idx"), primary_key=True, autoincrement=False)
    case_id: Mapped[str] = mapped_column(String(64), index=True)
    state: Mapped[str] = mapped_column(String(24))


def _sqlite_ddl() -> list[str]:
    ddl = []
    for table in APPEND_ONLY_TABLES:
        for op in ("UPDATE", "DELETE"):
            ddl.append(
                f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {op} refused'); END"
            )
    ddl.append(
        "CREATE TRIGGER IF NOT EXISTS exchange_payloads_no_update BEFORE UPDATE ON exchange_payloads "
        "BEGIN SELECT RAISE(ABORT, 'exchange_payloads is append-only: UPDATE refused'); END"
    )
    ddl.append(
        "CREATE TRIGGER IF NOT EXISTS exchange_payloads_purge_only BEFORE DELETE ON exchange_payloads "
        "WHEN NOT EXISTS (SELECT 1 FROM exchange_tombstones t WHERE t.entry_idx = OLD.entry_idx) "
        "BEGIN SELECT RAISE(ABORT, 'exchange_payloads: DELETE refused without a tombstone'); END"
    )
    return ddl


def _postgres_ddl() -> list[str]:
    ddl = [
        """CREATE OR REPLACE FUNCTION exchange_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP; END $$""",
        """CREATE OR REPLACE FUNCTION exchange_payload_purge_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'DELETE' AND EXISTS (SELECT 1 FROM exchange_tombstones t WHERE t.entry_idx = OLD.entry_idx) THEN
            RETURN OLD;
          END IF;
          RAISE EXCEPTION 'exchange_payloads: % refused without a tombstone', TG_OP;
        END $$""",
    ]
    for table in APPEND_ONLY_TABLES:
        ddl.append(
            f"CREATE OR REPLACE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION exchange_refuse_change()"
        )
    for table in (*APPEND_ONLY_TABLES, "exchange_payloads"):
        ddl.append(
            f"CREATE OR REPLACE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION exchange_refuse_change()"
        )
    ddl.append(
        "CREATE OR REPLACE TRIGGER exchange_payloads_purge_only BEFORE UPDATE OR DELETE ON exchange_payloads "
        "FOR EACH ROW EXECUTE FUNCTION exchange_payload_purge_only()"
    )
    return ddl


def install_append_only_triggers(engine: Engine) -> None:
    """Create the triggers that refuse UPDATE/DELETE on the exchange tables (idempotent).

    Call after ``Base.metadata.create_all``. SQLite and PostgreSQL 14+ (``CREATE OR REPLACE
    TRIGGER``) are supported; other backends get no trigger, only the code's insert-only
    discipline.
    """
    dialect = engine.dialect.name
    if dialect == "sqlite":
        ddl = _sqlite_ddl()
    elif dialect == "postgresql":
        ddl = _postgres_ddl()
    else:
        return
    with engine.begin() as conn:
        for statement in ddl:
            conn.execute(text(statement))


def create_exchange_tables(engine: Engine) -> None:
    """Create the exchange tables (and only those) and their triggers; for replicas and tests."""
    tables = [Base.metadata.tables[name] for name in (*APPEND_ONLY_TABLES[:1], "exchange_payloads", *APPEND_ONLY_TABLES[1:])]
    Base.metadata.create_all(engine, tables=tables)
    install_append_only_triggers(engine)

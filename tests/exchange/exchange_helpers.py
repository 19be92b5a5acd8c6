"""Builders of the exchange tests: times, candidates, a populated log, raw-SQL tampering."""

from __future__ import annotations

import datetime as dt
import functools

from sqlalchemy import text

from exchange.access import record_pd_access
from exchange.cases import advance_case
from exchange.envelope import build_envelope
from exchange.flow import CandidateManifest, record_candidates
from exchange.home import Home
from exchange.log import checkpoint, log_head, next_seq, receive, send
from exchange.schema import APPEND_ONLY_TABLES, install_append_only_triggers

T0 = dt.datetime(2026, 11, 20, 8, 0, 0, tzinfo=dt.timezone.utc)
PLATE = "01 123 ABC"


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def candidates(n: int, camera_id: str = "cam-1") -> list[CandidateManifest]:
    return [
        CandidateManifest(f"v{i:031d}", "speeding", camera_id, f"2026-11-20T08:00:{i:02d}.400+00:00", ((f"v{i}/at.jpg", f"{i:064x}"),))
        for i in range(n)
    ]


def populate(sessions, home: Home, n_candidates: int = 3) -> None:
    """A realistic log: candidates, one case through its whole lifecycle, personal-data
    accesses, a forged and a replayed envelope (both rejected), a checkpoint."""
    with sessions.begin() as s:
        record_candidates(s, home, "cam-1", "run-1", candidates(n_candidates), at(10))
    case = "v" + "0" * 31
    with sessions.begin() as s:
        advance_case(s, home, case, "plate_read", at(11), details={"plate": PLATE, "confidence": 0.97})
        send(s, home, sender="ais_owner", receiver="data_holder", type="registry_query", payload={"case_id": case, "plate": PLATE}, at=at(12))
        record_pd_access(s, home, "registry-adapter", "data_holder", f"registry lookup for case {case}", PLATE, case, at=at(12))
        advance_case(s, home, case, "registry_matched", at(13), details={"make": "Toyota", "owner": "A. Example"})
        advance_case(s, home, case, "ready_for_review", at(14))
        record_pd_access(s, home, "officer-17", "ais_user", "case review", PLATE, case, at=at(15))
        advance_case(s, home, case, "confirmed", at(16), officer_id="officer-17")
        advance_case(s, home, case, "notice_issued", at(17), officer_id="officer-17")
    with sessions.begin() as s:
        forged = build_envelope(
            functools.partial(home.sign, "info_provider"), seq=next_seq(s, "data_holder"), sender="data_holder",
            receiver="ais_owner", type="registry_answer", created_at=at(18), payload={"owner": "forged"}, prev_digest=log_head(s).digest,
        )
        receive(s, home, forged, at(18))
        first = send(s, home, sender="info_provider", receiver="ais_owner", type="case_event", payload={"note": "once"}, at=at(19))
        receive(s, home, first.envelope, at(20))  # replayed
        checkpoint(s, home, at(21))


def drop_triggers(engine) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            for name in conn.execute(text("SELECT name FROM sqlite_master WHERE type='trigger'")).scalars().all():
                conn.execute(text(f"DROP TRIGGER {name}"))
            return
        for table in (*APPEND_ONLY_TABLES, "exchange_payloads"):
            names = conn.execute(text(
                "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE c.relname = :t AND NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace"
            ), {"t": table}).scalars().all()
            for name in names:
                conn.execute(text(f'DROP TRIGGER "{name}" ON {table}'))


def tamper(engine, *statements: str, params: dict | None = None) -> None:
    """Run raw SQL as an attacker with database access would: append-only triggers dropped and
    foreign keys off for the statements, triggers put back afterwards."""
    drop_triggers(engine)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.commit()
        with conn.begin():
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            for stmt in statements:
                conn.execute(text(stmt), params or {})
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
            conn.commit()
    install_append_only_triggers(engine)

"""Engine and session factory, built on request (never at import time)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker



def sqlite_url(path: Path) -> str:
    return f"sqlite:///{Path(path).resolve()}"


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets foreign keys and a busy timeout."""
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001 - DBAPI types
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=5000")
            cur.close()

    return engine


def init_db(engine: Engine) -> None:
    """Bring the database schema to the current release: ``alembic upgrade head``.

    Cheap when the database is current (one query). A new database gets every revision; one
    made by the pre-migration ``create_all`` is checked and stamped at the baseline first
    (see store/migrate.py). Safe to call from several processes at once.

    Raises:
        store.migrate.SchemaError: the database cannot be migrated as it is.
    """
    from store.migrate import upgrade

    upgrade(engine)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)

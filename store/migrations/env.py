"""Alembic environment for the Safe City database (SQLite and PostgreSQL).

Run from code (``store.migrate``), which hands over an open connection in
``config.attributes["connection"]`` inside the transaction and lock it holds, or from the
``alembic`` command line (alembic.ini at the repository root), which connects to
``-x db=URL``, else ``SAFECITY_DB_URL``, else ``sqlalchemy.url``.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine

from store.migrate import migration_context_options
from store.models_index import load_all_models

config = context.config
target_metadata = load_all_models()


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("db") or os.environ.get("SAFECITY_DB_URL")
    url = url or config.get_main_option("sqlalchemy.url")
    if not url:
        raise ValueError("no database URL: pass -x db=URL, set SAFECITY_DB_URL, or set sqlalchemy.url in alembic.ini")
    return url


def run_migrations_offline() -> None:
    """Emit SQL to stdout (``alembic upgrade head --sql``) instead of running it."""
    context.configure(url=_url(), literal_binds=True, **migration_context_options(target_metadata))
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, **migration_context_options(target_metadata))
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(_url())
    try:
        with engine.connect() as conn:
            context.configure(connection=conn, **migration_context_options(target_metadata))
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

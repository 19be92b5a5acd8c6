"""``safecity db ...``: schema migrations for operators.

Mount with ``app.add_typer(db_app, name="db")``. Exit codes: 0 done / up to date / schema
matches; 1 the check failed (pending revisions, schema differs, database not migratable);
2 bad input (unparsable URL, database unreachable or missing).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

EXIT_FAILED = 1
EXIT_INPUT = 2

db_app = typer.Typer(
    name="db",
    help="Database schema: upgrade to this release, show the revision, list revisions, check models against the database.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
_err = Console(stderr=True)
_out = Console()

DbOpt = Annotated[Optional[str], typer.Option("--db", help="SQLAlchemy URL (default: SAFECITY_DB_URL or SAFECITY_HOME/safecity.sqlite)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print only machine-readable JSON")]


def _fail(message: str, code: int = EXIT_INPUT) -> None:
    _err.print("[bold red]error:[/]", end=" ")
    _err.print(message, markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _url(db: str | None) -> str:
    if db:
        return db
    from exchange.home import home_path

    return os.environ.get("SAFECITY_DB_URL") or f"sqlite:///{(home_path() / 'safecity.sqlite').resolve()}"


def _engine(db: str | None, *, create: bool) -> Engine:
    """An engine for ``--db``; a missing SQLite file is created only when ``create``."""
    from store.db import make_engine

    url = _url(db)
    try:
        parsed = make_url(url)
        engine = make_engine(url)
    except (ArgumentError, ValueError, ImportError) as exc:
        _fail(f"--db {url!r}: not a usable SQLAlchemy URL: {exc}")
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database)
        if not path.exists():
            if not create:
                _fail(f"--db {url!r}: no database file at {path}")
            path.parent.mkdir(parents=True, exist_ok=True)
    return engine


def _connect_error(engine: Engine, exc: Exception) -> None:
    _fail(f"{engine.url.render_as_string(hide_password=True)}: cannot connect: {type(exc).__name__}: {str(exc).splitlines()[0]}")


@db_app.command("upgrade")
def upgrade_command(db: DbOpt = None, json_out: JsonOpt = False) -> None:
    """Apply every pending revision up to the release's one head; stamp a pre-migration database after checking it."""
    from store.migrate import SchemaError, upgrade

    engine = _engine(db, create=True)
    try:
        report = upgrade(engine)
    except SchemaError as exc:
        _fail(str(exc), EXIT_FAILED)
    except OperationalError as exc:
        _connect_error(engine, exc)
    finally:
        engine.dispose()
    if json_out:
        print(json.dumps({"before": report.before, "after": report.after, "stamped_legacy": report.stamped_legacy,
                          "seconds": round(report.seconds, 3)}))
        return
    if report.stamped_legacy:
        _out.print("pre-migration database: schema matches the baseline, stamped 0001_baseline", highlight=False)
    if report.changed:
        _out.print(f"upgraded {', '.join(report.before) or '(empty)'} -> {', '.join(report.after)} in {report.seconds:.3f} s", highlight=False)
    else:
        _out.print(f"already at {', '.join(report.after)}", highlight=False)


@db_app.command("current")
def current_command(db: DbOpt = None, json_out: JsonOpt = False) -> None:
    """Show the database's revision(s) and this release's heads; exit 1 when revisions are pending."""
    from store.migrate import current_revisions, script_heads

    engine = _engine(db, create=False)
    try:
        with engine.connect() as conn:
            current = current_revisions(conn)
    except OperationalError as exc:
        _connect_error(engine, exc)
    finally:
        engine.dispose()
    heads = script_heads()
    up_to_date = current == heads
    if json_out:
        print(json.dumps({"current": current, "heads": heads, "up_to_date": up_to_date}))
    else:
        _out.print(f"database: {', '.join(current) or '(not migrated)'}", highlight=False)
        _out.print(f"release heads: {', '.join(heads)}", highlight=False)
        _out.print("up to date" if up_to_date else "pending revisions: run `safecity db upgrade`", highlight=False)
    if not up_to_date:
        raise typer.Exit(EXIT_FAILED)


@db_app.command("history")
def history_command(json_out: JsonOpt = False) -> None:
    """List the revisions this release ships, newest first."""
    from store.migrate import history, script_heads

    heads = set(script_heads())
    revs = history()
    if json_out:
        print(json.dumps([{"revision": r, "down_revisions": d, "message": m, "head": r in heads} for r, d, m in revs]))
        return
    for rev, downs, message in revs:
        mark = " (head)" if rev in heads else ""
        first_line = message.splitlines()[0] if message else ""
        _out.print(f"{', '.join(downs) or '<base>'} -> {rev}{mark}: {first_line}", highlight=False, markup=False)


@db_app.command("check")
def check_command(db: DbOpt = None, json_out: JsonOpt = False) -> None:
    """Compare the database with the models and the exchange triggers; exit 1 on any difference."""
    from store.migrate import current_revisions, schema_differences, script_heads

    engine = _engine(db, create=False)
    try:
        with engine.connect() as conn:
            current = current_revisions(conn)
            differences = schema_differences(conn)
    except OperationalError as exc:
        _connect_error(engine, exc)
    finally:
        engine.dispose()
    heads = script_heads()
    if current != heads:
        differences.insert(0, f"database at {list(current) or 'no revision'}, release heads {list(heads)}")
    if json_out:
        print(json.dumps({"ok": not differences, "differences": differences}))
    elif differences:
        _err.print("schema differs from the models:", highlight=False)
        for line in differences:
            _err.print(f"  {line}", highlight=False, markup=False)
    else:
        _out.print(f"schema matches the models at {', '.join(heads)}", highlight=False)
    if differences:
        raise typer.Exit(EXIT_FAILED)

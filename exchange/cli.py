"""The regulator's commands (``safecity audit ...``) and ``safecity init``.

Mount with ``app.add_typer(audit_app, name="audit")`` and ``app.command("init")(init_command)``.
Exit codes: 0 all checks pass, 1 a check failed, 2 bad input (no home, no log, bad time).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import inspect

from exchange.envelope import parse_utc, utc_text
from exchange.errors import HomeError
from safecity.errors import SafeCityError

EXIT_FAILED = 1
EXIT_INPUT = 2

audit_app = typer.Typer(
    name="audit",
    help="Regulator's tools: verify and export the signed exchange log, list personal-data accesses.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
_err = Console(stderr=True)
_out = Console()

HomeOpt = Annotated[Optional[Path], typer.Option("--home", help="home folder (default: SAFECITY_HOME or ~/.safecity)")]
DbOpt = Annotated[Optional[str], typer.Option("--db", help="SQLAlchemy URL (default: SAFECITY_DB_URL or SAFECITY_HOME/safecity.sqlite)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print only machine-readable JSON")]
FromOpt = Annotated[Optional[str], typer.Option("--from", help="ISO 8601 time with offset, e.g. 2026-11-20T00:00:00Z")]
ToOpt = Annotated[Optional[str], typer.Option("--to", help="ISO 8601 time with offset (inclusive)")]


def _fail(message: str, code: int = EXIT_INPUT) -> None:
    _err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def _time(text: str | None, flag: str) -> str | None:
    if text is None:
        return None
    try:
        return utc_text(parse_utc(text))
    except ValueError:
        _fail(f"{flag}: expected an ISO 8601 time with a UTC offset, got {text!r}")
    return None


def _open(db: str | None, home_dir: Path | None, roster_path: Path | None = None):
    """(engine, roster document) for the given options."""
    from exchange.home import HOME_ENV, home_path, load_home
    from store.db import make_engine

    try:
        if roster_path is not None:
            roster_doc = json.loads(Path(roster_path).read_text(encoding="utf-8"))
            url = db or _default_url(home_path(home_dir))
        else:
            home = load_home(home_dir)
            roster_doc, url = home.roster.to_doc(), db or home.default_db_url
    except (HomeError, OSError, ValueError) as exc:
        _fail(f"{exc} (home: --home or {HOME_ENV})")
    engine = make_engine(url)
    if not inspect(engine).has_table("exchange_entries"):
        engine.dispose()
        _fail(f"{url}: no exchange log in this database")
    return engine, roster_doc


def _default_url(home: Path) -> str:
    import os

    return os.environ.get("SAFECITY_DB_URL") or f"sqlite:///{(home / 'safecity.sqlite').resolve()}"


@audit_app.command("verify")
def verify_command(
    db: DbOpt = None,
    time_from: FromOpt = None,
    time_to: ToOpt = None,
    json_out: JsonOpt = False,
    backup_db: Annotated[Optional[str], typer.Option("--backup-db", help="also check this backup replica's completeness")] = None,
    roster: Annotated[Optional[Path], typer.Option("--roster", help="trusted roster.json (default: the home folder's)")] = None,
    home: HomeOpt = None,
) -> None:
    """Check chain, signatures, checkpoints, sequence gaps, receipts (and a backup); exit 1 on any failure."""
    from exchange.audit import verify_database
    from exchange.backup import BackupReplica, backup_problems
    from exchange.errors import ReplicationError
    from exchange.home import Roster
    from exchange.verifier import Problem, format_report
    from store.db import session_factory

    t_from, t_to = _time(time_from, "--from"), _time(time_to, "--to")
    engine, roster_doc = _open(db, home, roster)
    try:
        with session_factory(engine)() as session:
            report = verify_database(session, roster_doc, time_from=t_from, time_to=t_to)
            if backup_db:
                try:
                    replica = BackupReplica(backup_db, Roster.from_doc(roster_doc), create=False)
                except ReplicationError as exc:
                    extra = [Problem("backup", None, "backup_missing", str(exc))]
                else:
                    try:
                        extra = backup_problems(session, replica)
                    finally:
                        replica.close()
                report = dataclasses.replace(report, problems=report.problems + tuple(extra))
    except SafeCityError as exc:
        _fail(str(exc))
    finally:
        engine.dispose()
    if json_out:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        (_out if report.ok else _err).print(format_report(report), highlight=False, markup=False)
    if not report.ok:
        raise typer.Exit(EXIT_FAILED)


@audit_app.command("export")
def export_command(
    out: Annotated[Path, typer.Option("--out", help="new folder for the bundle")],
    db: DbOpt = None,
    roster: Annotated[Optional[Path], typer.Option("--roster", help="roster.json to include (default: the home folder's)")] = None,
    home: HomeOpt = None,
) -> None:
    """Write a self-contained bundle (entries, checkpoints, roster, verify_bundle.py) that verifies offline."""
    from exchange.audit import export_bundle
    from store.db import session_factory

    engine, roster_doc = _open(db, home, roster)
    try:
        with session_factory(engine)() as session:
            summary = export_bundle(session, roster_doc, out, dt.datetime.now(dt.timezone.utc))
    except ValueError as exc:
        _fail(str(exc))
    finally:
        engine.dispose()
    _out.print(f"{summary.entries} entries, {summary.checkpoints} checkpoints, head {summary.head_index} {summary.head_digest}\n"
               f"bundle {summary.path}; verify with: python {summary.path / 'verify_bundle.py'}", highlight=False)


@audit_app.command("access-log")
def access_log_command(
    db: DbOpt = None,
    time_from: FromOpt = None,
    time_to: ToOpt = None,
    json_out: JsonOpt = False,
    home: HomeOpt = None,
) -> None:
    """List personal-data accesses: who, when, which plate, why."""
    from exchange.access import list_pd_access
    from store.db import session_factory

    t_from, t_to = _time(time_from, "--from"), _time(time_to, "--to")
    engine, _ = _open(db, home)
    try:
        with session_factory(engine)() as session:
            rows = list_pd_access(session, t_from, t_to)
    finally:
        engine.dispose()
    if json_out:
        print(json.dumps([dataclasses.asdict(r) for r in rows], ensure_ascii=False, indent=2))
        return
    table = Table(title=f"{len(rows)} personal-data accesses", title_justify="left")
    for col in ("entry", "when (UTC)", "who", "role", "plate", "case", "why", "status"):
        table.add_column(col)
    for r in rows:
        table.add_row(str(r.entry_index), r.accessed_at, r.actor or "(purged)", r.role, r.plate or "(purged)", r.case_id or "", r.purpose or "(purged)", r.status)
    _out.print(table)


def init_command(home: HomeOpt = None) -> None:
    """Create the home folder: roles.yaml, a key pair per role (private keys 0600), roster.json."""
    from exchange.errors import KeyMismatchError
    from exchange.home import init_home

    try:
        h = init_home(home)
    except (HomeError, KeyMismatchError, OSError) as exc:
        _fail(str(exc))
    _out.print(f"home {h.path}", highlight=False)
    for role, entry in sorted(h.roster.entries.items()):
        _out.print(f"  {role:14s} {entry.key_id[:16]}  {entry.organisation}", highlight=False)
    _out.print(f"roster {h.path / 'roster.json'}", highlight=False)


def main() -> None:  # pragma: no cover - for `python -m exchange.cli` before the lead mounts it
    app = typer.Typer(no_args_is_help=True, add_completion=False)
    app.add_typer(audit_app, name="audit")
    app.command("init")(init_command)
    app(sys.argv[1:])


if __name__ == "__main__":  # pragma: no cover
    main()

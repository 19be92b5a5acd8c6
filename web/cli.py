"""``safecity serve`` and ``safecity users add``.

Mount with ``app.command("serve")(serve_command)`` and ``app.add_typer(users_app, name="users")``.
Exit codes: 0 success, 2 bad input or configuration.
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from pydantic import ValidationError
from rich.console import Console

from safecity.errors import SafeCityError

EXIT_INPUT = 2

users_app = typer.Typer(name="users", help="Web application accounts.", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
_err = Console(stderr=True)
_out = Console()

HomeOpt = Annotated[Optional[Path], typer.Option("--home", help="home folder (default: SAFECITY_HOME or ~/.safecity)")]
DbOpt = Annotated[Optional[str], typer.Option("--db", help="SQLAlchemy URL (default: SAFECITY_DB_URL or SAFECITY_HOME/safecity.sqlite)")]


def _fail(message: str) -> None:
    _err.print("[bold red]error:[/]", end=" ")
    _err.print(message, markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_INPUT)


def _settings(db: str | None, home: Path | None, **extra: object):
    from web.settings import load_settings

    try:
        return load_settings(db_url=db, home=home, **extra)
    except ValidationError as exc:
        _fail(f"web settings: {exc}")


def _read_password() -> str:
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        _fail("password: the two entries differ")
    return first


@users_app.command("add")
def users_add_command(
    username: Annotated[str, typer.Argument(help="login name (lower-case letters, digits, . _ -)")],
    role: Annotated[str, typer.Option("--role", help="reviewer, supervisor, operator, regulator, data_holder or backup")],
    db: DbOpt = None,
    home: HomeOpt = None,
) -> None:
    """Create an account; the password is read from stdin (one line) or prompted for twice."""
    import web.models  # noqa: F401 - registers the tables
    from store.db import init_db, make_engine, session_factory
    from web.auth import add_user

    settings = _settings(db, home)
    password = _read_password()
    engine = make_engine(settings.db_url)
    try:
        init_db(engine)
        with session_factory(engine).begin() as session:
            add_user(session, username, role, password)
    except ValueError as exc:
        _fail(str(exc))
    finally:
        engine.dispose()
    _out.print(f"user {username} ({role}) added", highlight=False)


def _user_session(db: str | None, home: Path | None):
    import web.models  # noqa: F401 - registers the tables
    from store.db import init_db, make_engine, session_factory

    engine = make_engine(_settings(db, home).db_url)
    init_db(engine)
    return engine, session_factory(engine)


@users_app.command("list")
def users_list_command(db: DbOpt = None, home: HomeOpt = None) -> None:
    """List accounts: name, role, active."""
    from web.auth import list_users

    engine, sessions = _user_session(db, home)
    try:
        with sessions() as session:
            for user in list_users(session):
                _out.print(f"{user.username:24s} {user.role:12s} {'active' if user.active else 'disabled'}", highlight=False)
    finally:
        engine.dispose()


def _set_active(username: str, active: bool, db: str | None, home: Path | None) -> None:
    from web.auth import set_active

    engine, sessions = _user_session(db, home)
    try:
        with sessions.begin() as session:
            set_active(session, username, active)
    except ValueError as exc:
        _fail(str(exc))
    finally:
        engine.dispose()
    _out.print(f"user {username} {'enabled' if active else 'disabled'}", highlight=False)


@users_app.command("disable")
def users_disable_command(username: Annotated[str, typer.Argument(help="login name")], db: DbOpt = None, home: HomeOpt = None) -> None:
    """Disable an account; its open sessions end at once (the account and its history stay)."""
    _set_active(username, False, db, home)


@users_app.command("enable")
def users_enable_command(username: Annotated[str, typer.Argument(help="login name")], db: DbOpt = None, home: HomeOpt = None) -> None:
    """Enable a disabled account again."""
    _set_active(username, True, db, home)


def serve_command(
    host: Annotated[str, typer.Option("--host", help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port")] = 8000,
    db: DbOpt = None,
    home: HomeOpt = None,
    evidence_dir: Annotated[Optional[list[Path]], typer.Option("--evidence-dir", help="evidence folder (<process --out>/evidence); repeat for several")] = None,
    evidence_url: Annotated[Optional[str], typer.Option("--evidence-url", help="evidence store s3://bucket/prefix (default: SAFECITY_EVIDENCE_URL; endpoint and keys: SAFECITY_S3_*)")] = None,
    registry: Annotated[Optional[str], typer.Option("--registry", help="SQLAlchemy URL of the vehicle registry (default: SAFECITY_REGISTRY_URL)")] = None,
    insecure_cookies: Annotated[bool, typer.Option("--insecure-cookies", help="send the session cookie over plain HTTP (local testing only)")] = False,
) -> None:
    """Run the web application (police review, operator dashboard, regulator audit)."""
    import uvicorn

    from web.app import create_app, dispose_app

    extra: dict[str, object] = {}
    if evidence_dir:
        extra["evidence_dirs"] = tuple(evidence_dir)
    if evidence_url:
        extra["evidence_url"] = evidence_url
    if registry:
        extra["registry_url"] = registry
    if insecure_cookies:
        extra["cookie_secure"] = False
    settings = _settings(db, home, **extra)
    try:
        app = create_app(settings)
    except SafeCityError as exc:
        _fail(str(exc))
    try:
        uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=False)
    finally:
        dispose_app(app)

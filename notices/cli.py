"""``safecity notices ...``: issue, list, deliver, print and requeue notices.

Mount with ``app.add_typer(notices_app, name="notices")``. Exit codes: 0 success, 1 some
notice needs a person (delivery refused) or the case gets no notice (not finable, no fine
configured: the refusal is recorded with the case), 2 bad input (unknown violation, case not
confirmed, bad settings).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from safecity.errors import SafeCityError

EXIT_FAILED = 1
EXIT_INPUT = 2

notices_app = typer.Typer(
    name="notices",
    help="Fine notices: issue the PDF of a confirmed case, list notices, deliver them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
_err = Console(stderr=True)
_out = Console()

DbOpt = Annotated[Optional[str], typer.Option("--db", help="SQLAlchemy URL (default: SAFECITY_DB_URL or SAFECITY_HOME/safecity.sqlite)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print only machine-readable JSON")]


def _fail(exc: Exception | str, code: int = EXIT_INPUT) -> None:
    _err.print("[bold red]error:[/]", end=" ")
    _err.print(str(exc), markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _open(db: str | None):
    """(home, settings, session factory, engine); the schema is brought up to date."""
    from exchange.home import load_home
    from notices.config import load_notice_settings
    from store.db import init_db, make_engine, session_factory

    home = load_home()
    settings = load_notice_settings(home.path)
    engine = make_engine(db or home.default_db_url)
    init_db(engine)
    return home, settings, session_factory(engine), engine


def _record_doc(rec) -> dict:  # noqa: ANN001 - NoticeRecord
    doc = dict(rec.__dict__)
    for key, value in doc.items():
        if isinstance(value, (dt.date, dt.datetime)):
            doc[key] = value.isoformat()
    return doc


@notices_app.command("issue")
def issue_cmd(
    violation_id: Annotated[str, typer.Argument(help="the confirmed violation's id")],
    officer: Annotated[str, typer.Option("--officer", help="officer id of the inspector who decided the case")],
    decided_at: Annotated[Optional[str], typer.Option("--decided-at", help="decision time, ISO 8601 with offset (default: now)")] = None,
    evidence_root: Annotated[Optional[Path], typer.Option("--evidence-root", help="evidence folder of the run (default: notices.yaml or SAFECITY_EVIDENCE_ROOT)")] = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Issue the notice of a confirmed case (idempotent: prints the existing one if issued).

    A case that must not be fined (measurement marked for review, a signal phase that may not
    fine, no amount in the fines table) gets no notice: the refusal is recorded with the case
    and the command exits 1 naming the reason.
    """
    from exchange.envelope import parse_utc
    from notices.errors import NoticeRefusedError
    from notices.service import issue_notice, record_refusal

    try:
        when = parse_utc(decided_at) if decided_at else dt.datetime.now(dt.timezone.utc)
    except ValueError:
        _fail(f"--decided-at: expected an ISO 8601 time with a UTC offset, got {decided_at!r}")
    try:
        home, settings, sessions, engine = _open(db)
        started = time.perf_counter()
        try:
            with sessions.begin() as s:
                rec = issue_notice(
                    s, violation_id, decided_by=officer, decided_at=when, home=home,
                    evidence_root=evidence_root, settings=settings,
                )
        except NoticeRefusedError as refused:  # nothing was written; record why, then report
            with sessions.begin() as s:
                record_refusal(s, refused, decided_by=officer, decided_at=when)
            raise
        finally:
            engine.dispose()
    except NoticeRefusedError as exc:
        if json_out:
            print(json.dumps({"violation_id": exc.violation_id, "refused": exc.code, "reason": exc.reason}, ensure_ascii=False))
            raise typer.Exit(EXIT_FAILED) from None
        _fail(exc, EXIT_FAILED)
    except (SafeCityError, ValueError) as exc:
        _fail(exc)
    seconds = time.perf_counter() - started
    pdf_path = settings.resolved_store_dir(home.path) / rec.pdf_key
    if json_out:
        print(json.dumps({**_record_doc(rec), "pdf_path": str(pdf_path)}, ensure_ascii=False))
        return
    _out.print(
        f"notice {rec.number} for {rec.violation_id}: {rec.amount} {rec.currency} "
        f"({rec.discounted_amount} until {rec.discount_until:%d.%m.%Y}), reference {rec.payment_reference}",
        highlight=False,
    )
    _out.print(f"pdf {pdf_path} sha256 {rec.pdf_sha256} ({seconds:.2f} s)", highlight=False)


@notices_app.command("list")
def list_cmd(
    status: Annotated[Optional[str], typer.Option("--status", help="only pending, delivered or needs_attention")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100000, help="most notices shown")] = 200,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """List notices, newest decision first, with their delivery state."""
    from notices.models import DELIVERY_STATES
    from notices.service import list_notices

    if status is not None and status not in DELIVERY_STATES:
        _fail(f"--status: expected one of {', '.join(DELIVERY_STATES)}, got {status!r}")
    try:
        _, _, sessions, engine = _open(db)
        try:
            with sessions() as s:
                recs = list_notices(s, status=status, limit=limit)
        finally:
            engine.dispose()
    except (SafeCityError, ValueError) as exc:
        _fail(exc)
    if json_out:
        print(json.dumps([_record_doc(r) for r in recs], ensure_ascii=False))
        return
    table = Table(title=f"{len(recs)} notices", title_justify="left")
    for col in ("number", "violation", "type", "amount", "discount until", "decided (UTC)", "delivery", "tries"):
        table.add_column(col)
    for r in recs:
        table.add_row(
            r.number, r.violation_id[:12], r.violation_type, f"{r.amount} {r.currency}", f"{r.discount_until:%d.%m.%Y}",
            f"{r.decided_at:%Y-%m-%d %H:%M}", r.delivery_status, str(r.delivery_attempts),
        )
    _out.print(table)


@notices_app.command("deliver")
def deliver_cmd(
    adapter: Annotated[Optional[str], typer.Option("--adapter", help="delivery adapter: outbox or portal (default: notices.yaml)")] = None,
    outbox: Annotated[Optional[Path], typer.Option("--outbox", help="outbox folder (outbox adapter)")] = None,
    portal_url: Annotated[Optional[str], typer.Option("--portal-url", help="portal base URL (portal adapter)")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100000, help="most notices this run")] = 100,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Deliver every pending notice that is due; failures stay pending and are retried later."""
    from notices.deliver import deliver_due
    from notices.delivery import create_adapter

    try:
        home, settings, sessions, engine = _open(db)
        name = adapter or settings.delivery.adapter
        options = {}
        if name == "outbox" and outbox:
            options["folder"] = outbox
        if name == "portal" and portal_url:
            options["base_url"] = portal_url
        try:
            chosen = create_adapter(name, home_dir=home.path, settings=settings, **options)
            started = time.perf_counter()
            run = deliver_due(
                sessions, chosen, store_dir=settings.resolved_store_dir(home.path), now=dt.datetime.now(dt.timezone.utc),
                limit=limit, retry_base_s=settings.delivery.retry_base_s, retry_max_s=settings.delivery.retry_max_s,
            )
        finally:
            engine.dispose()
    except (SafeCityError, ValueError) as exc:
        _fail(exc)
    seconds = time.perf_counter() - started
    if json_out:
        print(json.dumps({**run.to_dict(), "adapter": name, "seconds": round(seconds, 3)}))
    else:
        _out.print(
            f"{name}: {len(run.delivered)} delivered, {len(run.retry_later)} left pending for a retry, "
            f"{len(run.needs_attention)} need a person ({seconds:.2f} s)", highlight=False,
        )
    if run.needs_attention:
        raise typer.Exit(EXIT_FAILED)


@notices_app.command("pdf")
def pdf_cmd(
    notice: Annotated[str, typer.Argument(help="notice id or number (e.g. 2026-0000001)")],
    out: Annotated[Path, typer.Option("--out", help="file to write the PDF to")],
    db: DbOpt = None,
) -> None:
    """Write a notice's PDF to a file (checked against its recorded SHA-256)."""
    from sqlalchemy import select

    from notices.models import NoticeRow
    from notices.service import notice_pdf

    try:
        home, settings, sessions, engine = _open(db)
        try:
            with sessions() as s:
                nid = s.scalar(select(NoticeRow.id).where((NoticeRow.id == notice) | (NoticeRow.number == notice))) or notice
                data = notice_pdf(s, nid, settings=settings, store_dir=settings.resolved_store_dir(home.path))
        finally:
            engine.dispose()
        if out.exists():
            raise ValueError(f"--out {out}: exists; choose a new file (nothing is overwritten)")
        out.write_bytes(data)
    except (SafeCityError, ValueError, OSError) as exc:
        _fail(exc)
    _out.print(f"{out} ({len(data)} bytes)", highlight=False)


@notices_app.command("requeue")
def requeue_cmd(
    notice_id: Annotated[str, typer.Argument(help="a notice whose delivery needs attention")],
    db: DbOpt = None,
) -> None:
    """Put a refused notice back in the delivery queue (after the cause was fixed)."""
    from notices.deliver import requeue

    try:
        _, _, sessions, engine = _open(db)
        try:
            with sessions.begin() as s:
                requeue(s, notice_id, dt.datetime.now(dt.timezone.utc))
        finally:
            engine.dispose()
    except (SafeCityError, ValueError) as exc:
        _fail(exc)
    _out.print(f"notice {notice_id} is pending again", highlight=False)

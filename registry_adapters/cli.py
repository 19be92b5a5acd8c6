"""``safecity registry-serve`` and ``safecity seed-registry``: command functions the main CLI mounts.

Mount with::

    from registry_adapters.cli import registry_serve_cmd, seed_registry_cmd
    app.command("registry-serve")(registry_serve_cmd)
    app.command("seed-registry")(seed_registry_cmd)
"""

from __future__ import annotations

import logging
import os
from typing import Annotated, Optional

import typer
from rich.console import Console

from safecity.errors import SafeCityError

EXIT_INPUT = 2
API_KEYS_ENV = "SAFECITY_REGISTRY_API_KEYS"

err = Console(stderr=True)
out = Console()
logger = logging.getLogger(__name__)


def seed_registry_cmd(
    db: Annotated[str, typer.Option("--db", help="SQLAlchemy URL of the (empty) registry database")],
    n: Annotated[int, typer.Option("--n", min=1, max=10_000_000, help="vehicles to generate")] = 100_000,
    seed: Annotated[int, typer.Option("--seed", help="random seed")] = 0,
    include_plate: Annotated[
        Optional[list[str]], typer.Option("--include-plate", help="a plate that must be registered (repeat)")
    ] = None,
) -> None:
    """Fill an empty registry database with a synthetic Kyrgyz vehicle registry."""
    from registry_adapters.seed import seed_registry

    try:
        count = seed_registry(db, n=n, seed=seed, include_plates=list(include_plate or []))
    except (ValueError, SafeCityError) as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_INPUT) from exc
    out.print(f"registry seeded: {count} vehicles")


def registry_serve_cmd(
    db: Annotated[str, typer.Option("--db", help="SQLAlchemy URL of the registry database")],
    host: Annotated[str, typer.Option("--host", help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port")] = 8081,
) -> None:
    """Serve the registry as the data holder would: authenticated REST over the database.

    API keys come from the environment variable SAFECITY_REGISTRY_API_KEYS (comma-separated),
    never from the command line (it shows in process lists).
    """
    import uvicorn

    from registry_adapters.service import create_app

    keys = [k.strip() for k in os.environ.get(API_KEYS_ENV, "").split(",") if k.strip()]
    try:
        app = create_app(db, keys)
    except (ValueError, SafeCityError) as exc:
        err.print(f"[bold red]error:[/] {exc} (set {API_KEYS_ENV})", highlight=False)
        raise typer.Exit(EXIT_INPUT) from exc
    # No access log: request lines are not personal data here (plates travel in bodies), but
    # the holder's access record is the only place lookups belong.
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="warning")


def registry_match_cmd(
    violation_ids: Annotated[Optional[list[str]], typer.Argument(help="violation ids to match (default: see --pending/--unmatched)")] = None,
    registry: Annotated[str, typer.Option("--registry", help="sql:SQLALCHEMY_URL or http://host:port (key in SAFECITY_REGISTRY_API_KEY)")] = "",
    db: Annotated[Optional[str], typer.Option("--db", help="our database URL (default: SAFECITY_DB_URL or the embedded SQLite)")] = None,
    pending: Annotated[bool, typer.Option("--pending", help="retry every case whose match is pending")] = False,
    unmatched: Annotated[bool, typer.Option("--unmatched", help="match every stored violation never matched")] = False,
    actor: Annotated[str, typer.Option("--actor", help="who asks (recorded with every access)")] = "svc:pipeline",
    purpose: Annotated[str, typer.Option("--purpose", help="why (recorded with every access)")] = "violation-owner-lookup",
    json_out: Annotated[bool, typer.Option("--json", help="print machine-readable JSON")] = False,
) -> None:
    """Match stored violations' plates against the vehicle registry (each lookup a logged access).

    Exit 0 when every case was matched or classified; 1 when some stay pending (registry down).
    """
    import json

    from exchange.home import load_home
    from registry_adapters.matching import match_many

    if not registry:
        err.print("[bold red]error:[/] --registry is required (sql:URL or http://host:port)", highlight=False)
        raise typer.Exit(EXIT_INPUT)
    if not (violation_ids or pending or unmatched):
        err.print("[bold red]error:[/] name violation ids, or pass --pending or --unmatched", highlight=False)
        raise typer.Exit(EXIT_INPUT)
    try:
        home = load_home()
        results = match_many(db or home.default_db_url, registry, home, ids=list(violation_ids or []), pending=pending,
                             unmatched=unmatched, actor=actor, purpose=purpose)
    except (ValueError, SafeCityError) as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_INPUT) from exc
    if json_out:
        print(json.dumps([{"violation_id": r.violation_id, "status": r.status, "needs_review": r.needs_review,
                           "flags": list(r.flags), "candidates": r.candidate_count} for r in results], indent=2))
    else:
        for r in results:
            out.print(f"{r.violation_id}  {r.status}{'  (review)' if r.needs_review else ''}"
                      + "".join(f"\n    {f}" for f in r.flags), highlight=False)
        counts: dict[str, int] = {}
        for r in results:
            counts[r.status] = counts.get(r.status, 0) + 1
        out.print("matched: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "nothing to do"))
    if any(r.status == "pending" for r in results):
        raise typer.Exit(1)


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

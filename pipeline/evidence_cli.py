"""``safecity evidence``: verify a package's signed manifest; export privacy-safe copies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

evidence_app = typer.Typer(help="Evidence packages: verify signatures and digests, export blurred copies.", no_args_is_help=True)
err = Console(stderr=True)
out = Console()

EXIT_FAILED = 1
EXIT_INPUT = 2


def _trusted_keys(roster: Path | None) -> dict[str, str] | None:
    """role -> public key from ``roster`` (or the home folder's roster.json when it exists)."""
    from exchange.home import home_path
    from exchange.verifier import roster_keys

    path = roster if roster is not None else home_path() / "roster.json"
    if not path.exists():
        if roster is not None:
            raise ValueError(f"{path}: roster not found")
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: unreadable roster: {exc}") from exc
    keys, problems = roster_keys(doc)
    if problems:
        raise ValueError(f"{path}: " + "; ".join(p.detail for p in problems))
    return keys


def _fetch_stored_package(url: str, violation_id: str, into: Path) -> Path:
    """Copy the package ``violation_id`` out of the evidence store at ``url`` into ``into/<id>``.

    Raises:
        ValueError: the store holds no object under ``<violation_id>/``.
        EvidenceIntegrityError, EvidenceStoreUnavailable: from the store (a changed object, no
            answer); both are SafeCityErrors.
    """
    from pipeline.manifest import path_inside
    from store.evidence_backends import open_evidence_store

    store = open_evidence_store(url)
    prefix = f"{violation_id}/"
    keys = store.keys(prefix)
    if not keys:
        raise ValueError(f"violation {violation_id!r}: no package in the evidence store {store.location}")
    dest = into / violation_id
    for key in keys:
        rel = key.removeprefix(prefix)
        target = path_inside(dest, rel)  # a key naming a path outside the package is refused
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(store.get(key))
    return dest


@evidence_app.command("verify")
def verify_cmd(
    package: Annotated[str, typer.Argument(help="evidence package folder (evidence/<violation id>), or a violation id in the evidence store")],
    roster: Annotated[Optional[Path], typer.Option("--roster", help="roster.json with the info_provider key (default: the home folder's)")] = None,
    evidence_url: Annotated[Optional[str], typer.Option("--evidence-url", help="evidence store holding the package: s3://bucket/prefix or a folder (default: $SAFECITY_EVIDENCE_URL; endpoint and keys: SAFECITY_S3_*)")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print only machine-readable JSON")] = False,
) -> None:
    """Check the manifest signature and the SHA-256 of every file; exit 1 naming what failed.

    A folder is checked on disk; otherwise, with an evidence store configured, PACKAGE is the
    violation id and every object is read through the store.
    """
    import os

    from pipeline.manifest import verify_package, verify_stored_package
    from safecity.errors import SafeCityError

    try:
        keys = _trusted_keys(roster)
        url = evidence_url or os.environ.get("SAFECITY_EVIDENCE_URL") or None
        store = None
        if not Path(package).is_dir() and url is not None:
            if "/" in package or package in (".", ".."):
                raise ValueError(f"{package}: no such package folder; in the store {url} give the violation id")
            from store.evidence_backends import open_evidence_store

            store = open_evidence_store(url)
        report = verify_stored_package(store, package, keys) if store is not None else verify_package(Path(package), keys)
    except (ValueError, SafeCityError) as exc:
        err.print("[bold red]error:[/]", end=" ")
        err.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_INPUT) from None
    where = report.package
    if json_out:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        for w in report.warnings:
            err.print(f"[yellow]warning:[/] {w}", highlight=False)
        for p in report.problems:
            err.print(f"[bold red]FAILED:[/] {p}", highlight=False, markup=True)
        if report.ok:
            out.print(f"OK {where}: {len(report.manifests)} manifest(s), {report.files_checked} files, signature and digests verified", highlight=False)
    raise typer.Exit(0 if report.ok else EXIT_FAILED)


@evidence_app.command("export")
def export_cmd(
    package: Annotated[str, typer.Argument(help="a violation id (under --evidence-root, or in the store of --evidence-url) or a package folder")],
    out_dir: Annotated[Path, typer.Option("--out", help="new folder for the copies (must not exist)")],
    blur: Annotated[bool, typer.Option("--blur/--no-blur", help="blur faces and other vehicles' plates (default: on)")] = True,
    evidence_root: Annotated[Path, typer.Option("--evidence-root", help="where violation packages live (process --out DIR/evidence)")] = Path("evidence"),
    evidence_url: Annotated[Optional[str], typer.Option("--evidence-url", help="evidence store holding the package, used when PACKAGE is not a folder and --evidence-root has no such package: s3://bucket/prefix or a folder (default: $SAFECITY_EVIDENCE_URL; endpoint and keys: SAFECITY_S3_*)")] = None,
    roster: Annotated[Optional[Path], typer.Option("--roster", help="roster.json to verify the original against")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print only machine-readable JSON")] = False,
) -> None:
    """Write copies that may leave the system, with their own signed manifest; originals untouched.

    A package in an object store (S3) is read through the store into a private temporary copy,
    verified there like a folder, exported, and the temporary copy removed; the stored objects
    are only read.
    """
    import os
    import shutil
    import tempfile

    from exchange.home import load_home
    from pipeline.manifest import EvidenceSigner
    from pipeline.privacy import export_package
    from safecity.errors import SafeCityError

    src = Path(package)
    url = evidence_url or os.environ.get("SAFECITY_EVIDENCE_URL") or None
    staged: Path | None = None
    if not src.is_dir():
        if "/" in package or package in (".", ".."):
            err.print(f"[bold red]error:[/] {package}: no such package folder", highlight=False)
            raise typer.Exit(EXIT_INPUT)
        src = evidence_root / package
        if not src.is_dir() and url is None:
            err.print(f"[bold red]error:[/] violation {package!r}: no package folder {src} (set --evidence-root or --evidence-url)", highlight=False)
            raise typer.Exit(EXIT_INPUT)
    try:
        if not src.is_dir():
            staged = Path(tempfile.mkdtemp(prefix="safecity-export-"))
            src = _fetch_stored_package(url, package, staged)  # type: ignore[arg-type]
        signer = EvidenceSigner.from_home(load_home())
        report = export_package(src, out_dir, signer, blur=blur, trusted_keys=_trusted_keys(roster))
    except (SafeCityError, ValueError) as exc:
        err.print("[bold red]error:[/]", end=" ")
        err.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_INPUT) from None
    finally:
        if staged is not None:  # a private read-only copy of stored objects, not evidence itself
            shutil.rmtree(staged, ignore_errors=True)
    if json_out:
        print(json.dumps(report.to_dict(), indent=2))
        return
    c = report.counts
    out.print(f"exported {src} -> {out_dir}: {len(report.files)} files; blurred {c.faces} face(s), {c.plates_blurred} other plate(s); kept {c.plates_kept} offender plate view(s)", highlight=False)

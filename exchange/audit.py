"""The regulator's side: verify the log in a database, export a self-contained bundle."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from sqlalchemy.orm import Session

from exchange import verifier
from exchange.envelope import utc_text
from exchange.records import checkpoint_docs, iter_records
from exchange.verifier import BUNDLE_FORMAT, Problem, Report, canonical_json, verify_records

logger = logging.getLogger(__name__)

BUNDLE_FILES = ("entries.jsonl", "checkpoints.jsonl", "roster.json", "verify_bundle.py", "README.txt")

_README = """Safe City exchange-log audit bundle ({format})

entries.jsonl      one log record per line (canonical JSON): the entry (envelope header, the
                   receiver's decision, digests), its chain digest, the payload or, after a
                   retention purge, the signed tombstone that replaced it
checkpoints.jsonl  chain heads signed by the AIS owner
roster.json        role -> organisation, Ed25519 public key (hex), key id (SHA-256 of the key)
manifest.json      counts, head digest, SHA-256 of every file
verify_bundle.py   the verifier; needs Python 3.10+ and the `cryptography` package only

Verify offline:   python verify_bundle.py            (exit 0: valid, 1: a check failed)
With a roster obtained separately (recommended; the bundle's own roster is not a trust anchor):
                  python verify_bundle.py --roster trusted-roster.json
"""


def verify_database(
    session: Session, roster_doc: Mapping[str, Any], *, time_from: str | None = None, time_to: str | None = None
) -> Report:
    """Verify the exchange log stored in ``session``'s database (see ``verifier.verify_records``).

    Args:
        roster_doc: the roster document the regulator trusts.
        time_from, time_to: canonical UTC text (``exchange.envelope.utc_text``) or None.
    """
    problems: list[Problem] = []
    records = iter_records(session, problems)
    report = verify_records(records, checkpoint_docs(session), roster_doc, time_from=time_from, time_to=time_to)
    if problems:  # payload-text problems are found while streaming, so they join afterwards
        merged = sorted(problems + list(report.problems), key=lambda p: (p.kind != "entry", p.index or 0))
        report = dataclasses.replace(report, problems=tuple(merged))
    return report


@dataclass(frozen=True)
class BundleSummary:
    path: Path
    entries: int
    checkpoints: int
    head_index: int
    head_digest: str


def export_bundle(session: Session, roster_doc: Mapping[str, Any], out_dir: Path, at: dt.datetime) -> BundleSummary:
    """Write a self-contained audit bundle into ``out_dir`` (created; must be empty).

    Args:
        roster_doc: the roster to include.
        at: export time, aware datetime (recorded in manifest.json).

    Raises:
        ValueError: ``out_dir`` exists and is not empty (a bundle is never overwritten).
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ValueError(f"{out_dir}: not empty; export into a new folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    n = 0
    head_index, head_digest = 0, verifier.GENESIS_DIGEST
    with open(out_dir / "entries.jsonl", "wb") as f:
        for rec in iter_records(session):
            f.write(canonical_json(rec) + b"\n")
            n += 1
            head_index, head_digest = rec["entry"]["index"], rec["chain_digest"]
    cps = checkpoint_docs(session)
    (out_dir / "checkpoints.jsonl").write_bytes(b"".join(canonical_json(c) + b"\n" for c in cps))
    (out_dir / "roster.json").write_text(json.dumps(roster_doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out_dir / "verify_bundle.py").write_bytes(Path(verifier.__file__).read_bytes())
    (out_dir / "README.txt").write_text(_README.format(format=BUNDLE_FORMAT), encoding="utf-8")
    manifest = {
        "format": BUNDLE_FORMAT, "exported_at": utc_text(at), "entries": n, "checkpoints": len(cps),
        "head_index": head_index, "head_digest": head_digest,
        "files": {name: hashlib.sha256((out_dir / name).read_bytes()).hexdigest() for name in BUNDLE_FILES},
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    logger.info("exported audit bundle path=%s entries=%d checkpoints=%d", out_dir, n, len(cps))
    return BundleSummary(out_dir, n, len(cps), head_index, head_digest)

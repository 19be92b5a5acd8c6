"""The live spool's bookkeeping: which recorded chunks still wait for the pipeline.

A finished chunk file (``<spool>/<camera>/<name>.mp4``, ``workers/live_runner.py``) gets a
sidecar ``<name>.pending.json`` written atomically beside it: the chunk's segment window (core
frames, plan), start time, fps and the fencing token it was recorded under. The processor
replaces it by ``<name>.done.json`` in the same step that ends the chunk's work (stored, or
removed as empty), so after a crash or a ``kill -9`` the spool says exactly which chunks were
recorded but never stored: those with a pending sidecar.

When a worker takes a camera (a restart, or failover to another worker that sees the same
spool folder), its runner first queues the camera's pending chunks of *earlier* lease tokens,
oldest first, and processes them like its own: each with its own recorded segment window, so
the ownership rules of ``workers/segments.py`` still decide which vehicles it counts and a
vehicle at a seam is still counted once. Exactly once: a chunk is marked done only after its
result committed under the current lease; the violation ids are deterministic
(``pipeline.run.violation_id``), so a chunk stored just before a crash and processed again
adds nothing.

A chunk file without a sidecar was still being written when its worker died; it is left alone
(a truncated H.264 file; the operator may keep or delete it) and logged.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workers.live_runner import Chunk

log = logging.getLogger(__name__)

PENDING = ".pending.json"
DONE = ".done.json"
SIDECAR_VERSION = 1


def _sidecar(chunk_path: Path, suffix: str) -> Path:
    return chunk_path.with_name(chunk_path.stem + suffix)


def _write_atomic(path: Path, doc: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def chunk_doc(chunk: Chunk) -> dict[str, Any]:
    """The JSON form of a chunk's metadata (everything but the file, which sits beside it)."""
    return {
        "version": SIDECAR_VERSION, "file": chunk.path.name, "start_utc": chunk.start_utc.isoformat(),
        "frames": chunk.frames, "fps": chunk.fps, "token": chunk.token, "seq": chunk.seq,
        "core_start": chunk.core_start, "core_end": chunk.core_end, "plan": chunk.plan.to_dict(),
    }


def chunk_from_doc(folder: Path, doc: dict[str, Any]) -> Chunk:
    """The :class:`~workers.live_runner.Chunk` a sidecar describes.

    Raises:
        ValueError: a field is missing or of the wrong type (names the file).
    """
    from workers.live_runner import Chunk
    from workers.segments import SegmentPlan

    try:
        if doc["version"] != SIDECAR_VERSION:
            raise ValueError(f"version {doc['version']!r}, expected {SIDECAR_VERSION}")
        return Chunk(
            folder / str(doc["file"]), dt.datetime.fromisoformat(doc["start_utc"]), int(doc["frames"]), float(doc["fps"]),
            int(doc["token"]), int(doc["seq"]), int(doc["core_start"]), int(doc["core_end"]), SegmentPlan(**doc["plan"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{folder}: chunk sidecar for {doc.get('file')!r} is unusable: {exc}") from exc


def mark_pending(chunk: Chunk) -> None:
    """Record a finished chunk as waiting for the pipeline (before it is queued)."""
    _write_atomic(_sidecar(chunk.path, PENDING), chunk_doc(chunk))


def mark_done(chunk: Chunk, outcome: str, **details: Any) -> None:
    """Record that a chunk's work ended (``stored`` or ``empty``): it is never processed again.

    The done record is written first, then the pending one removed; a crash between the two
    leaves both, and :func:`leftover_chunks` trusts the done record.
    """
    doc = {**chunk_doc(chunk), "outcome": outcome, "at_utc": dt.datetime.now(dt.timezone.utc).isoformat(), **details}
    _write_atomic(_sidecar(chunk.path, DONE), doc)
    _sidecar(chunk.path, PENDING).unlink(missing_ok=True)


def leftover_chunks(folder: Path, before_token: int) -> list[Chunk]:
    """The chunks under ``folder`` recorded under a token before ``before_token`` and not done.

    Oldest first (start time, then sequence number). A pending sidecar whose video is gone
    (removed by a person) is skipped and logged; so is a chunk file without any sidecar (it
    was being written when its worker died).
    """
    if not folder.is_dir():
        return []
    out: list[Chunk] = []
    for side in sorted(folder.glob(f"*{PENDING}")):
        try:
            chunk = chunk_from_doc(folder, json.loads(side.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError, ValueError) as exc:
            log.warning("spool sidecar unreadable, chunk left alone path=%s error=%s", side, exc)
            continue
        if chunk.token >= before_token:
            continue  # this holder's own chunks (queued already) or a newer holder's
        if _sidecar(chunk.path, DONE).exists():
            side.unlink(missing_ok=True)  # crashed between the two writes of mark_done
            continue
        if not chunk.path.is_file():
            log.warning("spool chunk missing, sidecar kept chunk=%s", chunk.path.name)
            continue
        out.append(chunk)
    known = {c.path.name for c in out} | {p.name[: -len(PENDING)] + ".mp4" for p in folder.glob(f"*{PENDING}")}
    known |= {p.name[: -len(DONE)] + ".mp4" for p in folder.glob(f"*{DONE}")}
    for video in folder.glob("*.mp4"):
        if video.name not in known:
            log.warning("spool chunk without a sidecar left alone (its worker died while writing it) chunk=%s", video.name)
    return sorted(out, key=lambda c: (c.start_utc, c.seq))


def forget(chunk: Chunk) -> None:
    """Remove a chunk whose work ended with nothing to keep (stored without violations, or an
    empty core). The sidecar goes first: a crash in between leaves a video without a sidecar,
    which is left alone, never a sidecar that would send a half-removed chunk round again."""
    _sidecar(chunk.path, PENDING).unlink(missing_ok=True)
    chunk.path.unlink(missing_ok=True)

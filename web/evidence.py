"""Evidence files by (violation id, kind), never by path.

The stored path (an evidence-store key) is only ever joined to a configured evidence folder,
must resolve inside it (no ``..``, no absolute path, no symlink out), or is fetched from the
configured object store (``SAFECITY_EVIDENCE_URL=s3://...``) by its key; either way the
bytes' SHA-256 must equal the digest stored with the violation: a swapped or damaged file is
refused, not served.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Sequence, Union

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.evidence import EvidenceIntegrityError as StoreIntegrityError
from pipeline.evidence import ReadableEvidenceStore
from store.schema import EvidenceRow

#: Where evidence is read from: evidence folders, or evidence stores (S3) read by key.
Source = Union[Path, ReadableEvidenceStore]

logger = logging.getLogger(__name__)

MEDIA_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".mp4": "video/mp4", ".json": "application/json"}
#: Evidence kinds written by the pipeline (docs/results.md).
KINDS = ("clip", "frame_before", "frame_at", "frame_after", "vehicle_crop", "plate_crop", "metadata", "manifest")


class EvidenceIntegrityError(Exception):
    """The file exists but its digest differs from the stored one."""


@dataclass(frozen=True)
class EvidenceFile:
    """A verified evidence file: on disk (``path``, a folder) or in memory (``data``, an object
    store; evidence files are a few MB at most: a 5 s clip and JPEGs)."""

    path: Path | None
    media_type: str
    sha256: str
    data: bytes | None = None
    source: Source | None = None  # the folder or store it was found in

    def read_bytes(self) -> bytes:
        return self.data if self.data is not None else self.path.read_bytes()  # type: ignore[union-attr]


def find_evidence(session: Session, roots: Sequence[Source], violation_id: str, kind: str) -> EvidenceFile:
    """The verified file of ``kind`` for ``violation_id``, from the first folder or store holding it.

    Raises:
        LookupError: unknown kind, no such evidence, or no file under any root.
        EvidenceIntegrityError: a file is there but its SHA-256 does not match.
    """
    if kind not in KINDS:
        raise LookupError(f"evidence kind {kind!r}: expected one of {', '.join(KINDS)}")
    row = session.scalar(select(EvidenceRow).where(EvidenceRow.violation_id == violation_id, EvidenceRow.kind == kind))
    if row is None:
        raise LookupError(f"no {kind} evidence for violation {violation_id!r}")
    rel = PurePosixPath(row.path)
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        raise LookupError(f"evidence {row.id}: stored path is not relative to the evidence store")
    mismatch = False
    media = MEDIA_TYPES.get(Path(rel.name).suffix.lower(), "application/octet-stream")
    for root in roots:
        if not isinstance(root, (str, Path)):  # an evidence store: read by key, digest checked there
            try:
                data = root.get(row.path, row.sha256)
            except FileNotFoundError:
                continue
            except StoreIntegrityError:
                mismatch = True
                continue
            return EvidenceFile(None, media, row.sha256, data, root)
        base = Path(root).resolve()
        candidate = (base / Path(*rel.parts)).resolve()
        if not candidate.is_relative_to(base) or not candidate.is_file():
            continue
        digest = _sha256(candidate)
        if digest != row.sha256:
            mismatch = True
            continue
        return EvidenceFile(candidate, MEDIA_TYPES.get(candidate.suffix.lower(), "application/octet-stream"), digest, source=Path(root))
    if mismatch:
        logger.error("evidence digest mismatch violation=%s kind=%s", violation_id, kind)
        raise EvidenceIntegrityError(f"{kind} of violation {violation_id}: file digest differs from the stored SHA-256")
    raise LookupError(f"{kind} of violation {violation_id}: file not found in the evidence folders or store")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()

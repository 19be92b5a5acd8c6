"""Reading evidence and notice files by their store key, checked against the recorded SHA-256.

Keys are relative POSIX paths inside a store root (what ``store.schema.EvidenceRow.path``
holds); an absolute key, a ``..`` part or a symlink that leads outside the root is refused, so a
row can never make the notice service read an arbitrary file. Writes go through
:class:`pipeline.evidence.FolderEvidenceStore` (atomic, write-once, never overwrites).
"""

from __future__ import annotations

import hashlib
from pathlib import Path, PurePosixPath

from typing import Protocol, Union

from notices.errors import EvidenceIntegrityError, NoticeError
from safecity.errors import PermanentError


class ReadableStore(Protocol):
    """An evidence store that can read back what it stored (the S3 store, for one)."""

    def get(self, key: str) -> bytes: ...


Source = Union[Path, str, ReadableStore]


def safe_path(root: Path, key: str) -> Path:
    """The file of ``key`` under ``root``.

    Raises:
        NoticeError: the key is empty, absolute, has ``..`` or resolves outside ``root``.
    """
    parts = PurePosixPath(key).parts if isinstance(key, str) else ()
    if not parts or key.startswith(("/", "\\")) or ".." in parts or "\\" in key or ":" in key:
        raise NoticeError(f"store key {key!r}: expected a relative path inside the store")
    base = Path(root).resolve()
    target = (base / Path(*parts)).resolve()
    if base != target and base not in target.parents:
        raise NoticeError(f"store key {key!r}: resolves outside the store root")
    return target


def read_checked(root: Source, key: str, sha256: str) -> bytes:
    """The bytes stored under ``key``, after checking their SHA-256.

    Args:
        root: a store folder, or a store object with ``get(key) -> bytes`` (e.g. S3).

    Raises:
        EvidenceIntegrityError: the file is missing or its digest differs from ``sha256``.
        NoticeError: a bad key (see :func:`safe_path`).
    """
    if not isinstance(root, (str, Path)):
        try:
            data = root.get(key)
        except (OSError, ValueError, PermanentError) as exc:
            raise EvidenceIntegrityError(f"stored file {key!r} cannot be read from {root!r}: {exc}") from exc
    else:
        path = safe_path(Path(root), key)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise EvidenceIntegrityError(f"stored file {key!r} cannot be read under {root}: {exc.strerror}") from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise EvidenceIntegrityError(f"stored file {key!r}: SHA-256 {digest[:16]}... is not the recorded {sha256[:16]}...")
    return data

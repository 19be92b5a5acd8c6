"""The signed manifest of an evidence package: the SHA-256 of every file, Ed25519-signed.

``manifest.json`` (format ``safecity-evidence-manifest/1``) lists every file of the package
with its size and SHA-256, the violation it belongs to and, for an export, the originals it
was derived from. The information provider (the camera operator, role ``info_provider``)
signs the canonical JSON of the document without its ``signature`` field. Verification
checks the signature against the roster's published key, every digest, and that the folder
holds no file that no manifest lists. A package written twice (a re-run that stored files
beside the old ones) carries ``manifest.<digest>.json`` beside ``manifest.json``; each is
verified and together they must cover the folder.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from exchange.verifier import canonical_json, key_id, verify_signature
from safecity.digests import file_sha256

FORMAT = "safecity-evidence-manifest/1"
SIGNER_ROLE = "info_provider"
MANIFEST_NAME = "manifest.json"


class Signer(Protocol):
    """Signs for a role (``exchange.home.Home`` is one)."""

    def sign(self, role: str, message: bytes) -> str: ...

    def key_id(self, role: str) -> str: ...


@dataclass(frozen=True)
class EvidenceSigner:
    """The information provider's signing identity: a :class:`Signer` and its public key."""

    signer: Signer
    public_key_hex: str

    @classmethod
    def from_home(cls, home: Any) -> "EvidenceSigner":
        """From an ``exchange.home.Home`` that holds the ``info_provider`` key."""
        if not home.has_key(SIGNER_ROLE):
            raise ValueError(f"{home.path}: no private key for role {SIGNER_ROLE}; evidence cannot be signed here")
        return cls(home, home.roster.entries[SIGNER_ROLE].public_key)


def signing_bytes(doc: Mapping[str, Any]) -> bytes:
    """What the signature covers: the canonical JSON of the document without ``signature``."""
    return canonical_json({k: v for k, v in doc.items() if k != "signature"})


def build_manifest(
    entries: Sequence[tuple[str, str]],
    violation_id: str,
    signer: EvidenceSigner | None,
    derived_from: Mapping[str, Any] | None = None,
    created_utc: dt.datetime | None = None,
) -> dict[str, Any]:
    """The manifest document for ``entries``, signed when a signer is given.

    Args:
        entries: (path relative to the package, SHA-256 hex) per file.
        violation_id: the violation the package documents.
        signer: signs for ``info_provider``; None leaves the manifest unsigned (``verify``
            then fails with "not signed").
        derived_from: for an export: the original package's manifest digest and files.
        created_utc: when the manifest was made (default: now).

    Raises:
        ValueError: a path outside the package, a duplicate path or a malformed digest.
    """
    files = []
    seen: set[str] = set()
    for rel, digest in sorted(entries):
        path_inside(Path("."), rel)
        if rel in seen:
            raise ValueError(f"manifest entry {rel!r} appears twice")
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError(f"manifest entry {rel!r}: {digest!r} is not a SHA-256 hex digest")
        seen.add(rel)
        files.append({"path": rel, "sha256": digest})
    created = (created_utc or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    doc: dict[str, Any] = {
        "format": FORMAT,
        "violation_id": violation_id,
        "created_utc": created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "files": files,
    }
    if derived_from is not None:
        doc["derived_from"] = dict(derived_from)
    if signer is not None:
        doc["signer"] = {"role": SIGNER_ROLE, "key_id": key_id(bytes.fromhex(signer.public_key_hex)), "public_key": signer.public_key_hex}
        doc["signature"] = signer.signer.sign(SIGNER_ROLE, signing_bytes(doc))
    return doc


def folder_entries(package_dir: Path, paths: Sequence[str]) -> list[tuple[str, str]]:
    """(path, SHA-256) of each of ``paths`` in ``package_dir``, read from disk.

    Raises:
        ValueError: a path outside the package or not a file.
    """
    out = []
    for rel in paths:
        target = path_inside(package_dir, rel)
        if not target.is_file():
            raise ValueError(f"{package_dir}: {rel!r} is not a file")
        out.append((rel, file_sha256(target)))
    return out


def write_manifest(package_dir: Path, doc: Mapping[str, Any]) -> str:
    """Write ``doc`` as ``manifest.json`` (atomically, never over a different manifest).

    Returns:
        The file name used: ``manifest.json``, or ``manifest.<digest8>.json`` when a
        different ``manifest.json`` is already there (evidence is write-once).
    """
    data = (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    digest = hashlib.sha256(data).hexdigest()
    name = MANIFEST_NAME
    target = Path(package_dir) / name
    if target.exists():
        if file_sha256(target) == digest:
            return name
        name = f"manifest.{digest[:8]}.json"
        target = Path(package_dir) / name
    fd, tmp = tempfile.mkstemp(dir=package_dir, prefix=".tmp-manifest-")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, target)
    return name


@dataclass
class VerifyReport:
    """The outcome of :func:`verify_package`: ok when ``problems`` is empty."""

    package: str
    manifests: list[str] = field(default_factory=list)
    files_checked: int = 0
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.manifests)

    def to_dict(self) -> dict[str, Any]:
        return {"package": self.package, "ok": self.ok, "manifests": self.manifests, "files_checked": self.files_checked,
                "problems": self.problems, "warnings": self.warnings}


def verify_package(package_dir: Path, trusted_keys: Mapping[str, str] | None = None) -> VerifyReport:
    """Check every manifest's signature and every listed file's digest; flag unlisted files.

    Args:
        package_dir: the package folder.
        trusted_keys: role -> raw public key hex from the roster. The signer's key must be
            the one published for ``info_provider``; without a roster the key recorded in the
            manifest is used and a warning says so.
    """
    root = Path(package_dir)
    if not root.is_dir():
        report = VerifyReport(str(root))
        report.problems.append(f"{root}: not a folder")
        return report
    names = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())

    def read(rel: str) -> bytes | None:
        target = path_inside(root, rel)
        return target.read_bytes() if target.is_file() else None

    def digest(rel: str) -> str | None:
        target = path_inside(root, rel)
        return file_sha256(target) if target.is_file() else None

    return verify_listing(str(root), names, read, digest, trusted_keys)


def verify_stored_package(store: Any, violation_id: str, trusted_keys: Mapping[str, str] | None = None) -> VerifyReport:
    """:func:`verify_package` for a package in an evidence store (``<violation id>/...`` keys,
    e.g. S3): the same checks, reading every object through the store.

    Args:
        store: has ``keys(prefix)``, ``get(key)`` and ``location`` (pipeline.evidence.ReadableEvidenceStore).
    """
    from pipeline.evidence import EvidenceIntegrityError

    prefix = f"{violation_id}/"
    names = [k.removeprefix(prefix) for k in store.keys(prefix)]

    def read(rel: str) -> bytes | None:
        path_inside(Path("."), rel)
        try:
            return store.get(prefix + rel)
        except FileNotFoundError:
            return None
        except EvidenceIntegrityError as exc:  # the store's own digest check failed: report, do not stop
            raise OSError(str(exc)) from exc

    def digest(rel: str) -> str | None:
        try:
            data = read(rel)
        except OSError:
            return "changed"  # the object differs from the digest it was stored with
        return hashlib.sha256(data).hexdigest() if data is not None else None

    return verify_listing(f"{store.location}/{violation_id}", names, read, digest, trusted_keys)


def verify_listing(
    package: str, names: Sequence[str], read: Callable[[str], bytes | None], digest: Callable[[str], str | None],
    trusted_keys: Mapping[str, str] | None = None,
) -> VerifyReport:
    """The checks of :func:`verify_package` over any listing of a package.

    Args:
        package: what to call the package in the report.
        names: every file of the package, relative POSIX paths.
        read: the bytes of a file, None when missing.
        digest: the SHA-256 of a file, None when missing.
    """
    report = VerifyReport(package)
    manifests = sorted(n for n in names if "/" not in n and n.startswith("manifest") and n.endswith(".json"))
    if not manifests:
        report.problems.append(f"{package}: no manifest.json")
        return report
    listed: set[str] = set()
    for name in manifests:
        report.manifests.append(name)
        try:
            raw = read(name)
            if raw is None:
                raise OSError("missing")
            doc = json.loads(raw.decode("utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            report.problems.append(f"{name}: unreadable manifest: {exc}")
            continue
        if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("files"), list):
            report.problems.append(f"{name}: not a {FORMAT} document")
            continue
        _check_signature(name, doc, trusted_keys, report)
        for item in doc["files"]:
            if not isinstance(item, dict) or not isinstance(item.get("path"), str) or not isinstance(item.get("sha256"), str):
                report.problems.append(f"{name}: malformed file entry {str(item)[:80]}")
                continue
            rel = item["path"]
            listed.add(rel)
            try:
                path_inside(Path("."), rel)
                actual = digest(rel)
            except ValueError as exc:
                report.problems.append(f"{name}: {exc}")
                continue
            if actual is None:
                report.problems.append(f"{rel}: listed in {name} but missing")
                continue
            report.files_checked += 1
            if actual != item["sha256"]:
                report.problems.append(f"{rel}: SHA-256 differs from {name} (file changed)")
    for rel in names:
        if rel not in listed and rel not in manifests:
            report.problems.append(f"{rel}: not listed in any manifest (file added)")
    return report


def _check_signature(name: str, doc: Mapping[str, Any], trusted: Mapping[str, str] | None, report: VerifyReport) -> None:
    signer, signature = doc.get("signer"), doc.get("signature")
    if not isinstance(signer, dict) or not isinstance(signature, str):
        report.problems.append(f"{name}: not signed")
        return
    role = signer.get("role")
    if role != SIGNER_ROLE:
        report.problems.append(f"{name}: signed by role {role!r}, expected {SIGNER_ROLE}")
        return
    key = (trusted or {}).get(SIGNER_ROLE)
    if key is None:
        key = signer.get("public_key")
        report.warnings.append(f"{name}: no roster given; checked against the key recorded in the manifest only")
        if not isinstance(key, str):
            report.problems.append(f"{name}: no public key to check the signature with")
            return
    elif signer.get("public_key") not in (None, key):
        report.problems.append(f"{name}: signed with a key that is not the roster's {SIGNER_ROLE} key")
        return
    try:
        expected_id = key_id(bytes.fromhex(key))
    except ValueError:
        report.problems.append(f"{name}: public key is not hex")
        return
    if signer.get("key_id") != expected_id:
        report.problems.append(f"{name}: key_id does not match the public key")
    if not verify_signature(key, signing_bytes(doc), signature):
        report.problems.append(f"{name}: signature does not verify (manifest changed or wrong key)")


def path_inside(root: Path, rel: str) -> Path:
    """``root / rel`` when ``rel`` is a relative path that stays inside ``root``, else ValueError.

    Manifests, packages and the evidence store's keys all name files this way; a name that
    climbs out (``..``), is absolute or uses backslashes is refused.
    """
    if rel.startswith("/") or ".." in Path(rel).parts or "\\" in rel:
        raise ValueError(f"path {rel!r} is not a relative path inside the package")
    return Path(root) / rel

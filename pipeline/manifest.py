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
from collections.abc import Mapping, Sequence
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
        _inside(Path("."), rel)
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
        target = _inside(package_dir, rel)
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
    report = VerifyReport(str(root))
    if not root.is_dir():
        report.problems.append(f"{root}: not a folder")
        return report
    manifests = sorted(p.name for p in root.iterdir() if p.is_file() and p.name.startswith("manifest") and p.name.endswith(".json"))
    if not manifests:
        report.problems.append(f"{root}: no manifest.json")
        return report
    listed: set[str] = set()
    for name in manifests:
        report.manifests.append(name)
        try:
            doc = json.loads((root / name).read_text(encoding="utf-8"))
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
                target = _inside(root, rel)
            except ValueError as exc:
                report.problems.append(f"{name}: {exc}")
                continue
            if not target.is_file():
                report.problems.append(f"{rel}: listed in {name} but missing")
                continue
            report.files_checked += 1
            if file_sha256(target) != item["sha256"]:
                report.problems.append(f"{rel}: SHA-256 differs from {name} (file changed)")
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and rel not in listed and rel not in manifests:
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


def _inside(root: Path, rel: str) -> Path:
    if rel.startswith("/") or ".." in Path(rel).parts or "\\" in rel:
        raise ValueError(f"path {rel!r} is not a relative path inside the package")
    return Path(root) / rel

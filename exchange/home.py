"""The home folder: ``roles.yaml``, one Ed25519 key pair per role, and the public roster.

Layout (default ``~/.safecity``, ``SAFECITY_HOME`` overrides)::

    roles.yaml          which organisation plays each role; log settings
    keys/<role>.key     PKCS#8 PEM private key, mode 0600 (folder 0700)
    roster.json         role -> organisation, raw public key (hex), key id; what regulators use

A private key may instead come from the environment: ``SAFECITY_KEY_<ROLE>`` holds the PEM
text (or the 32-byte raw seed as hex), ``SAFECITY_KEY_<ROLE>_FILE`` the path of a secret file
(e.g. a mounted Kubernetes/Docker secret). The environment wins over ``keys/``. A machine of
one organisation normally holds only its own role's key; signing for a role without a key
raises :class:`~exchange.errors.HomeError`.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from exchange.errors import HomeError, KeyMismatchError
from exchange.roles import RolesConfig, default_roles_yaml, load_roles
from exchange.verifier import ROLES, ROSTER_FORMAT, key_id

logger = logging.getLogger(__name__)

HOME_ENV = "SAFECITY_HOME"
DB_URL_ENV = "SAFECITY_DB_URL"


@dataclass(frozen=True)
class RosterEntry:
    """One role's published identity: organisation, raw Ed25519 public key (hex), key id."""

    role: str
    organisation: str
    public_key: str
    key_id: str


@dataclass(frozen=True)
class Roster:
    """The public roster: who plays each role and the key that signs for it."""

    entries: Mapping[str, RosterEntry]

    def public_keys(self) -> dict[str, str]:
        return {role: e.public_key for role, e in self.entries.items()}

    def to_doc(self) -> dict:
        """The ``roster.json`` document (format ``safecity-roster/1``)."""
        return {
            "format": ROSTER_FORMAT,
            "roles": {r: {"organisation": e.organisation, "public_key": e.public_key, "key_id": e.key_id} for r, e in sorted(self.entries.items())},
        }

    @classmethod
    def from_doc(cls, doc: dict) -> "Roster":
        try:
            if doc["format"] != ROSTER_FORMAT:
                raise ValueError(f"format {doc['format']!r}")
            entries = {r: RosterEntry(r, v["organisation"], v["public_key"], v["key_id"]) for r, v in doc["roles"].items()}
        except (KeyError, TypeError, ValueError) as exc:
            raise HomeError(f"roster: expected format {ROSTER_FORMAT} with organisation, public_key, key_id per role ({exc})") from exc
        return cls(entries)


@dataclass(frozen=True)
class Home:
    """A loaded home folder. Private keys never leave this object; ask it to sign.

    Attributes:
        path: the folder. config: ``roles.yaml``. roster: the public roster.
    """

    path: Path
    config: RolesConfig
    roster: Roster
    _keys: Mapping[str, Ed25519PrivateKey] = field(repr=False, default_factory=dict)

    def has_key(self, role: str) -> bool:
        return role in self._keys

    def sign(self, role: str, message: bytes) -> str:
        """Ed25519 signature (hex, 128 chars) of ``message`` with ``role``'s private key."""
        key = self._keys.get(role)
        if key is None:
            env = _env_name(role)
            raise HomeError(f"no private key for role {role}: put it in {self.path / 'keys' / (role + '.key')}, {env} or {env}_FILE")
        return key.sign(message).hex()

    def key_id(self, role: str) -> str:
        return self.roster.entries[role].key_id

    @property
    def default_db_url(self) -> str:
        """``SAFECITY_DB_URL`` or the SQLite file ``safecity.sqlite`` in the home folder."""
        return os.environ.get(DB_URL_ENV) or f"sqlite:///{(self.path / 'safecity.sqlite').resolve()}"


def home_path(path: Path | str | None = None) -> Path:
    """The home folder: ``path``, else ``SAFECITY_HOME``, else ``~/.safecity``."""
    if path is not None:
        return Path(path).expanduser()
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".safecity").expanduser()


def _env_name(role: str) -> str:
    return f"SAFECITY_KEY_{role.upper()}"


def _parse_private(data: bytes, source: str) -> Ed25519PrivateKey:
    text = data.strip()
    try:
        if text.startswith(b"-----BEGIN"):
            key = serialization.load_pem_private_key(text, password=None)
        else:
            key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(text.decode("ascii")))
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise HomeError(f"{source}: not an Ed25519 private key (PEM or 64 hex chars)") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise HomeError(f"{source}: expected an Ed25519 key, got {type(key).__name__}")
    return key


def _load_private(role: str, keys_dir: Path) -> Ed25519PrivateKey | None:
    env = _env_name(role)
    if os.environ.get(env):
        return _parse_private(os.environ[env].encode(), env)
    if os.environ.get(env + "_FILE"):
        secret = Path(os.environ[env + "_FILE"])
        try:
            return _parse_private(secret.read_bytes(), str(secret))
        except OSError as exc:
            raise HomeError(f"{env}_FILE={secret}: cannot read: {exc.strerror}") from exc
    path = keys_dir / f"{role}.key"
    if not path.exists():
        return None
    if os.name == "posix" and path.stat().st_mode & 0o077:
        raise HomeError(f"{path}: private key is readable by others (mode {path.stat().st_mode & 0o777:o}); chmod 600 it")
    return _parse_private(path.read_bytes(), str(path))


def _raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _write_new_key(path: Path) -> Ed25519PrivateKey:
    """Create a key file exclusively (O_EXCL: an existing key is never overwritten), mode 0600."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return key


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def init_home(path: Path | str | None = None) -> Home:
    """Create or complete a home folder; existing files and keys are kept.

    Writes ``roles.yaml`` (defaults) if missing, a key pair for every role that has none (in
    the environment or ``keys/``), and ``roster.json`` from the keys and organisations.

    Raises:
        KeyMismatchError: an existing roster publishes another key than the one found for a
            role (keys are never replaced silently: old signatures would stop verifying).
    """
    root = home_path(path)
    root.mkdir(parents=True, exist_ok=True)
    keys_dir = root / "keys"
    keys_dir.mkdir(mode=0o700, exist_ok=True)
    roles_file = root / "roles.yaml"
    if not roles_file.exists():
        _write_atomic(roles_file, default_roles_yaml())
        logger.info("wrote roles file path=%s", roles_file)
    config = load_roles(roles_file)
    keys: dict[str, Ed25519PrivateKey] = {}
    for role in ROLES:
        key = _load_private(role, keys_dir)
        if key is None:
            key = _write_new_key(keys_dir / f"{role}.key")
            logger.info("created key pair role=%s", role)
        keys[role] = key
    old = _read_roster(root / "roster.json") if (root / "roster.json").exists() else None
    entries = {}
    for role in ROLES:
        raw = _raw_public(keys[role])
        if old is not None and role in old.entries and old.entries[role].public_key != raw.hex():
            raise KeyMismatchError(f"{root / 'roster.json'}: role {role} publishes another public key than its private key; refusing to replace it")
        entries[role] = RosterEntry(role, config.roles[role].organisation, raw.hex(), key_id(raw))
    roster = Roster(entries)
    _write_atomic(root / "roster.json", json.dumps(roster.to_doc(), indent=2, ensure_ascii=False) + "\n")
    return Home(root, config, roster, keys)


def _read_roster(path: Path) -> Roster:
    try:
        return Roster.from_doc(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise HomeError(f"{path}: cannot read roster: {exc}") from exc


def load_home(path: Path | str | None = None, *, require_keys: bool = False) -> Home:
    """Load an existing home folder (run ``safecity init`` first).

    Args:
        path: the folder (default: ``SAFECITY_HOME`` or ``~/.safecity``).
        require_keys: raise unless every role's private key is available.

    Raises:
        HomeError: missing folder, roles.yaml or roster; a missing key when required.
        KeyMismatchError: a private key that is not the one the roster publishes.
    """
    root = home_path(path)
    if not (root / "roster.json").exists():
        raise HomeError(f"{root}: no roster.json; run `safecity init` first (or set {HOME_ENV})")
    config = load_roles(root / "roles.yaml")
    roster = _read_roster(root / "roster.json")
    keys: dict[str, Ed25519PrivateKey] = {}
    for role in ROLES:
        key = _load_private(role, root / "keys")
        if key is None:
            if require_keys:
                raise HomeError(f"no private key for role {role} in {root / 'keys'} or {_env_name(role)}")
            continue
        published = roster.entries.get(role)
        if published is None or published.public_key != _raw_public(key).hex():
            raise KeyMismatchError(f"private key of role {role} does not match the roster's public key")
        keys[role] = key
    return Home(root, config, roster, keys)

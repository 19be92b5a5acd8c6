"""The home folder: roles.yaml, key pairs (0600), the roster, keys from the environment."""

from __future__ import annotations

import hashlib
import json
import os
import stat

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from exchange.errors import HomeError, KeyMismatchError
from exchange.home import home_path, init_home, load_home
from exchange.verifier import ROLES, verify_signature


def test_init_creates_everything(tmp_path):
    """roles.yaml with the default organisations, one 0600 key per role, a roster with key ids."""
    home = init_home(tmp_path / "h")
    assert set(home.roster.entries) == set(ROLES)
    assert "Kyzmat" in home.config.roles["ais_owner"].organisation
    assert stat.S_IMODE((tmp_path / "h" / "keys").stat().st_mode) == 0o700
    for role in ROLES:
        assert stat.S_IMODE((tmp_path / "h" / "keys" / f"{role}.key").stat().st_mode) == 0o600
        entry = home.roster.entries[role]
        assert entry.key_id == hashlib.sha256(bytes.fromhex(entry.public_key)).hexdigest()
        assert verify_signature(entry.public_key, b"m", home.sign(role, b"m"))
    doc = json.loads((tmp_path / "h" / "roster.json").read_text())
    assert doc["roles"]["ais_user"]["organisation"].startswith("Patrol police")


def test_rerun_keeps_keys_and_takes_new_organisations(tmp_path):
    """A second init never replaces a key; an edited organisation reaches the roster."""
    first = init_home(tmp_path / "h")
    before = {r: (tmp_path / "h" / "keys" / f"{r}.key").read_bytes() for r in ROLES}
    roles = tmp_path / "h" / "roles.yaml"
    roles.write_text(roles.read_text().replace("Operator of the reserve data-processing centre", "Reserve DC LLC"))
    second = init_home(tmp_path / "h")
    assert {r: (tmp_path / "h" / "keys" / f"{r}.key").read_bytes() for r in ROLES} == before
    assert second.roster.public_keys() == first.roster.public_keys()
    assert second.roster.entries["backup_centre"].organisation == "Reserve DC LLC"


def test_home_path_from_environment(tmp_path, monkeypatch):
    """SAFECITY_HOME overrides ~/.safecity; an explicit path wins over both."""
    monkeypatch.setenv("SAFECITY_HOME", str(tmp_path / "env-home"))
    assert home_path() == tmp_path / "env-home"
    assert home_path(tmp_path / "x") == tmp_path / "x"
    monkeypatch.delenv("SAFECITY_HOME")
    assert home_path() == home_path("~/.safecity")


def test_key_from_environment_and_secret_file(tmp_path, monkeypatch):
    """A police key given as PEM in SAFECITY_KEY_AIS_USER or via SAFECITY_KEY_AIS_USER_FILE is used."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    monkeypatch.setenv("SAFECITY_KEY_AIS_USER", pem.decode())
    home = init_home(tmp_path / "h")
    assert not (tmp_path / "h" / "keys" / "ais_user.key").exists()
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert home.roster.entries["ais_user"].public_key == raw.hex()
    monkeypatch.delenv("SAFECITY_KEY_AIS_USER")
    secret = tmp_path / "secret"
    secret.write_text(key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()).hex())
    monkeypatch.setenv("SAFECITY_KEY_AIS_USER_FILE", str(secret))
    assert load_home(tmp_path / "h").has_key("ais_user")
    monkeypatch.delenv("SAFECITY_KEY_AIS_USER_FILE")
    loaded = load_home(tmp_path / "h")
    assert not loaded.has_key("ais_user")
    with pytest.raises(HomeError, match="no private key for role ais_user"):
        loaded.sign("ais_user", b"x")


def test_wrong_key_is_refused(tmp_path, monkeypatch):
    """A private key that is not the roster's is refused on load and on re-init."""
    init_home(tmp_path / "h")
    monkeypatch.setenv("SAFECITY_KEY_AIS_OWNER", Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()).hex())
    with pytest.raises(KeyMismatchError):
        load_home(tmp_path / "h")
    with pytest.raises(KeyMismatchError):
        init_home(tmp_path / "h")


def test_readable_key_file_is_refused(tmp_path):
    """A private key file readable by others is an error, not silently used."""
    init_home(tmp_path / "h")
    os.chmod(tmp_path / "h" / "keys" / "ais_owner.key", 0o644)
    with pytest.raises(HomeError, match="chmod 600"):
        load_home(tmp_path / "h")


@pytest.mark.parametrize("text,expected", [
    ("roles:\n  ais_owner:\n    organisation: X\n", "missing"),
    ("log:\n  checkpoint_every_entries: 0\n", "log.checkpoint_every_entries (line 2)"),
    ("roles:\n  police:\n    organisation: X\n", "roles.police"),
    ("colour: blue\n", "colour (line 1)"),
])
def test_invalid_roles_file(tmp_path, text, expected):
    """roles.yaml errors name the field and its line."""
    init_home(tmp_path / "h")
    (tmp_path / "h" / "roles.yaml").write_text(text)
    with pytest.raises(HomeError, match="invalid roles file") as info:
        load_home(tmp_path / "h")
    assert expected in str(info.value)


def test_load_without_init(tmp_path):
    """Loading a folder that was never initialised says to run init."""
    with pytest.raises(HomeError, match="safecity init"):
        load_home(tmp_path / "none")

"""Signed evidence manifests: every digest and the Ed25519 signature checked; tampering named."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from exchange.home import init_home
from pipeline.evidence import FolderEvidenceStore
from pipeline.manifest import EvidenceSigner, build_manifest, verify_package, write_manifest
from safecity.cli import app

FILES = {"at.jpg": b"\xff\xd8frame-at", "before.jpg": b"\xff\xd8frame-before", "clip.mp4": b"\x00\x00\x00 ftypisom",
         "metadata.json": b'{"violation_id": "v1"}'}


@pytest.fixture
def home():
    return init_home()  # SAFECITY_HOME points at a tmp folder (tests/conftest.py)


@pytest.fixture
def package(tmp_path, home):
    """A package written like process_video writes it: store.put, then a signed manifest."""
    store = FolderEvidenceStore(tmp_path / "evidence")
    recs = [store.put(f"v1/{name}", data, "x") for name, data in FILES.items()]
    doc = build_manifest([(r.path.removeprefix("v1/"), r.sha256) for r in recs], "v1", EvidenceSigner.from_home(home))
    store.put("v1/manifest.json", json.dumps(doc).encode(), "manifest")
    return tmp_path / "evidence" / "v1"


def keys(home):
    return home.roster.public_keys()


def test_intact_package_verifies(package, home):
    """An untouched package verifies against the roster: every file checked, no problem."""
    report = verify_package(package, keys(home))
    assert report.ok and report.files_checked == len(FILES) and not report.problems and not report.warnings


@pytest.mark.parametrize("name", sorted(FILES))
def test_tampered_file_is_named(package, home, name):
    """Changing any one file fails verification, naming that file."""
    path = package / name
    path.write_bytes(path.read_bytes() + b"!")
    report = verify_package(package, keys(home))
    assert not report.ok
    assert report.problems == [f"{name}: SHA-256 differs from manifest.json (file changed)"]


def test_tampered_manifest_fails_signature(package, home):
    """Editing the manifest (e.g. to match a swapped file) breaks the signature."""
    doc = json.loads((package / "manifest.json").read_text())
    (package / "at.jpg").write_bytes(b"forged")
    import hashlib

    doc["files"] = [dict(f, sha256=hashlib.sha256(b"forged").hexdigest()) if f["path"] == "at.jpg" else f for f in doc["files"]]
    (package / "manifest.json").write_text(json.dumps(doc))
    report = verify_package(package, keys(home))
    assert any("signature does not verify" in p for p in report.problems)


def test_added_and_removed_files_are_named(package, home):
    """A file slipped in, or one taken out, is reported by name."""
    (package / "extra.jpg").write_bytes(b"x")
    (package / "before.jpg").unlink()
    problems = verify_package(package, keys(home)).problems
    assert "extra.jpg: not listed in any manifest (file added)" in problems
    assert "before.jpg: listed in manifest.json but missing" in problems


def test_foreign_key_is_refused(package, home, tmp_path):
    """A manifest re-signed with another key is refused when checked against the roster."""
    other = init_home(tmp_path / "other-home")
    doc = json.loads((package / "manifest.json").read_text())
    forged = build_manifest([(f["path"], f["sha256"]) for f in doc["files"]], "v1", EvidenceSigner.from_home(other))
    (package / "manifest.json").write_text(json.dumps(forged))
    assert any("not the roster's info_provider key" in p for p in verify_package(package, keys(home)).problems)
    # Without a roster, only the recorded key is checked, and a warning says so.
    loose = verify_package(package, None)
    assert loose.ok and loose.warnings


def test_unsigned_manifest_fails(tmp_path):
    """A manifest written without a signer does not verify."""
    (tmp_path / "a.jpg").write_bytes(b"a")
    import hashlib

    doc = build_manifest([("a.jpg", hashlib.sha256(b"a").hexdigest())], "v2", None)
    write_manifest(tmp_path, doc)
    assert verify_package(tmp_path).problems == ["manifest.json: not signed"]


@pytest.mark.parametrize(
    "entries, problem",
    [([("../a.jpg", "0" * 64)], "not a relative path"), ([("a.jpg", "xyz")], "not a SHA-256"), ([("a", "0" * 64), ("a", "0" * 64)], "twice")],
)
def test_bad_entries_refused(entries, problem):
    """Manifest entries outside the package, with bad digests or twice are refused."""
    with pytest.raises(ValueError, match=problem):
        build_manifest(entries, "v", None)


def test_write_manifest_never_overwrites(tmp_path):
    """A second, different manifest is written beside the first; both are kept."""
    assert write_manifest(tmp_path, {"format": "x", "n": 1}) == "manifest.json"
    assert write_manifest(tmp_path, {"format": "x", "n": 1}) == "manifest.json"
    second = write_manifest(tmp_path, {"format": "x", "n": 2})
    assert second.startswith("manifest.") and second != "manifest.json"
    assert json.loads((tmp_path / "manifest.json").read_text())["n"] == 1


def test_cli_verify_exit_codes(package, home):
    """`safecity evidence verify` exits 0 on an intact package and 1 naming the changed file."""
    runner = CliRunner()
    ok = runner.invoke(app, ["evidence", "verify", str(package)])
    assert ok.exit_code == 0, ok.output
    assert "OK" in ok.output
    (package / "clip.mp4").write_bytes(b"edited")
    bad = runner.invoke(app, ["evidence", "verify", str(package), "--json"])
    assert bad.exit_code == 1
    assert json.loads(bad.stdout)["problems"] == ["clip.mp4: SHA-256 differs from manifest.json (file changed)"]

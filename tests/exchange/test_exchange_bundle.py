"""Audit bundles verify offline with only the standard library and cryptography; any changed byte fails."""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange.audit import export_bundle
from exchange.envelope import build_envelope
from exchange.log import checkpoint, log_head, next_seq, receive, send
from exchange.retention import purge_expired
from exchange.schema import create_exchange_tables
from exchange.verifier import ENVELOPE_TYPES, ROLES, verify_bundle
from exchange_helpers import T0, at, populate
from store.db import make_engine, session_factory


def _run_verifier(folder: Path, *args: str) -> subprocess.CompletedProcess:
    """Run verify_bundle.py from a clean interpreter: no project on the path, only site-packages."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    return subprocess.run([sys.executable, "-I", str(folder / "verify_bundle.py"), *args], cwd=folder, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def bundle(sessions, home, tmp_path):
    populate(sessions, home)
    with sessions.begin() as s:
        purge_expired(s, home, at(400 * 86400), retention_days=365)
        send(s, home, sender="info_provider", receiver="ais_owner", type="candidate", payload={"case_id": "x", "plate": "Ö1 ЖЖЖ"}, at=at(400 * 86400))
    with sessions() as s:
        export_bundle(s, home.roster.to_doc(), tmp_path / "bundle", T0)
    return tmp_path / "bundle"


def test_bundle_verifies_offline_in_a_subprocess(bundle):
    """The exported verifier, run in isolation (-I), passes a clean bundle and its files match the manifest."""
    done = _run_verifier(bundle, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] and report["tombstones"] > 0 and report["checkpoints"] >= 3
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["head_index"] == report["head_index"] and manifest["head_digest"] == report["head_digest"]
    assert sorted(os.listdir(bundle)) == sorted(["entries.jsonl", "checkpoints.jsonl", "roster.json", "manifest.json", "verify_bundle.py", "README.txt"])


def test_tampered_bundle_fails_in_a_subprocess(bundle):
    """Editing one entry's reason in the bundle makes the offline verifier exit 1 naming that entry."""
    lines = (bundle / "entries.jsonl").read_text(encoding="utf-8").splitlines()
    rec = json.loads(lines[20])
    rec["entry"]["recorded_at"] = rec["entry"]["recorded_at"].replace("08:00", "09:00")
    lines[20] = json.dumps(rec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    (bundle / "entries.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = _run_verifier(bundle)
    assert done.returncode == 1
    assert "first bad entry 21: entry_digest_mismatch" in done.stdout


def test_wrong_trusted_roster_fails(bundle, tmp_path):
    """Verified against another organisation's roster, every signature fails."""
    from exchange.home import init_home

    other = init_home(tmp_path / "other-home")
    (tmp_path / "trusted.json").write_text(json.dumps(other.roster.to_doc()))
    done = _run_verifier(bundle, "--roster", str(tmp_path / "trusted.json"))
    assert done.returncode == 1 and "bad_signature" in done.stdout


def test_export_refuses_a_non_empty_folder(sessions, home, tmp_path):
    """A bundle is never written over existing files."""
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x").write_text("keep")
    with sessions() as s, pytest.raises(ValueError, match="not empty"):
        export_bundle(s, home.roster.to_doc(), tmp_path / "b", T0)


# ------------------------------------------------------------------ property tests

_step = st.tuples(
    st.sampled_from(["ok", "ok", "ok", "forged", "replay", "altered"]),
    st.sampled_from(ROLES),
    st.sampled_from(ROLES),
    st.sampled_from([t for t in ENVELOPE_TYPES if t != "receipt"]),
    st.dictionaries(st.text(min_size=1, max_size=6), st.one_of(st.integers(), st.text(max_size=8), st.booleans(), st.none()), max_size=3),
)


def _random_log(home, folder: Path, steps) -> Path:
    """Build a log from random steps on an in-memory SQLite database and export it."""
    engine = make_engine("sqlite://")
    create_exchange_tables(engine)
    sessions = session_factory(engine)
    last = None
    with sessions.begin() as s:
        for n, (kind, sender, receiver, type_, payload) in enumerate(steps):
            when = T0 + dt.timedelta(seconds=n)
            if kind == "ok" or last is None:
                last = send(s, home, sender=sender, receiver=receiver, type=type_, payload=payload, at=when).envelope
            elif kind == "replay":
                receive(s, home, last, when)
            else:
                signer = "info_provider" if sender != "info_provider" else "ais_user"
                env = build_envelope(functools.partial(home.sign, signer if kind == "forged" else sender), seq=next_seq(s, sender),
                                     sender=sender, receiver=receiver, type=type_, created_at=when, payload=payload, prev_digest=log_head(s).digest)
                if kind == "altered":
                    env = env.__class__(**{**env.__dict__, "payload": {**payload, "x": 1}})
                receive(s, home, env, when)
        checkpoint(s, home, T0)
    with sessions() as s:
        export_bundle(s, home.roster.to_doc(), folder, T0)
    engine.dispose()
    return folder


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(_step, min_size=1, max_size=8), data=st.data())
def test_any_single_byte_tamper_is_detected(home, tmp_path_factory, steps, data):
    """Random logs verify clean; changing any one byte of entries or checkpoints makes them fail."""
    folder = _random_log(home, tmp_path_factory.mktemp("b"), steps)
    assert verify_bundle(folder).ok
    name = data.draw(st.sampled_from(["entries.jsonl", "checkpoints.jsonl"]))
    raw = bytearray((folder / name).read_bytes())
    pos = data.draw(st.integers(0, len(raw) - 1))
    raw[pos] ^= data.draw(st.integers(1, 255))
    (folder / name).write_bytes(bytes(raw))
    report = verify_bundle(folder)
    assert not report.ok, (name, pos)

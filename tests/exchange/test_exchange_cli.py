"""`safecity init` and `safecity audit verify|export|access-log` through Typer."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from exchange.backup import BackupReplica, replicate
from exchange.cli import audit_app, init_command
from exchange.schema import create_exchange_tables
from exchange_helpers import PLATE, at, populate, tamper
from store.db import make_engine, session_factory

app = typer.Typer()
app.add_typer(audit_app, name="audit")
app.command("init")(init_command)
runner = CliRunner()


@pytest.fixture
def cli_home(tmp_path, monkeypatch):
    """A fresh home via `safecity init`, SAFECITY_HOME pointing at it, a populated default database."""
    monkeypatch.setenv("SAFECITY_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SAFECITY_DB_URL", raising=False)
    result = runner.invoke(app, ["init"])
    assert result.exit_code == 0, result.output
    from exchange.home import load_home

    home = load_home()
    engine = make_engine(home.default_db_url)
    create_exchange_tables(engine)
    populate(session_factory(engine), home)
    yield home, engine
    engine.dispose()


def test_init_lists_roles_and_keys(cli_home):
    """init prints the home, each role's key id and organisation."""
    home, _ = cli_home
    result = runner.invoke(app, ["init"])
    assert result.exit_code == 0 and "Kyzmat" in result.output and home.roster.entries["ais_user"].key_id[:16] in result.output


def test_verify_ok_and_json(cli_home):
    """A clean log exits 0; --json gives the report."""
    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output
    doc = json.loads(runner.invoke(app, ["audit", "verify", "--json"]).output)
    assert doc["ok"] and doc["problems"] == []


def test_verify_time_window(cli_home):
    """--from/--to limit the signature checks to entries recorded in the window."""
    doc = json.loads(runner.invoke(app, ["audit", "verify", "--json", "--from", "2026-11-20T08:00:13Z", "--to", "2026-11-20T08:00:15+00:00"]).output)
    assert doc["ok"] and 0 < doc["checked"] < doc["entries"]
    bad = runner.invoke(app, ["audit", "verify", "--from", "yesterday"])
    assert bad.exit_code == 2 and "--from" in bad.output


def test_verify_fails_and_names_first_bad_entry(cli_home):
    """After tampering, verify exits 1 and names the entry."""
    _, engine = cli_home
    tamper(engine, "UPDATE exchange_entries SET sender = 'ais_user' WHERE idx = 5")
    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 1
    assert "first bad entry 5" in result.output


def test_verify_with_backup(cli_home, tmp_path):
    """--backup-db checks the replica's completeness."""
    home, engine = cli_home
    url = f"sqlite:///{tmp_path / 'backup.sqlite'}"
    replica = BackupReplica(url, home.roster)
    with session_factory(engine).begin() as s:
        replicate(s, home, replica, at(40), max_entries=1000)
    replica.close()
    assert runner.invoke(app, ["audit", "verify", "--backup-db", url]).exit_code == 0
    empty = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    BackupReplica(empty, home.roster).close()  # a replica that never received a batch
    result = runner.invoke(app, ["audit", "verify", "--backup-db", empty, "--json"])
    assert result.exit_code == 1 and json.loads(result.output)["problems"][0]["code"] == "backup_behind_ack"
    result = runner.invoke(app, ["audit", "verify", "--backup-db", f"sqlite:///{tmp_path / 'none.sqlite'}", "--json"])
    assert result.exit_code == 1 and json.loads(result.output)["problems"][0]["code"] == "backup_missing"


def test_export_and_access_log(cli_home, tmp_path):
    """export writes the bundle; access-log lists who, when, which plate, why."""
    result = runner.invoke(app, ["audit", "export", "--out", str(tmp_path / "bundle")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "bundle" / "verify_bundle.py").exists()
    rows = json.loads(runner.invoke(app, ["audit", "access-log", "--json"]).output)
    assert [(r["actor"], r["plate"], r["purpose"][:8]) for r in rows] == [("registry-adapter", PLATE, "registry"), ("officer-17", PLATE, "case rev")]
    table = runner.invoke(app, ["audit", "access-log"]).output
    assert "2 personal-data accesses" in table


def test_missing_home_or_log_is_an_input_error(tmp_path, monkeypatch):
    """Without a home (or without a log in the database) the exit code is 2."""
    monkeypatch.setenv("SAFECITY_HOME", str(tmp_path / "nowhere"))
    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 2 and "safecity init" in result.output
    monkeypatch.setenv("SAFECITY_HOME", str(tmp_path / "h"))
    runner.invoke(app, ["init"])
    result = runner.invoke(app, ["audit", "verify", "--db", f"sqlite:///{tmp_path / 'none.sqlite'}"])
    assert result.exit_code == 2 and "no exchange log" in result.output

"""`safecity db upgrade|current|history|check`: output and exit codes on SQLite and PostgreSQL."""

from __future__ import annotations

import json

from sqlalchemy import text
from typer.testing import CliRunner

from safecity.cli import app
from store.db import make_engine
from store.migrate import script_heads

runner = CliRunner()


def _db(*args: str):
    return runner.invoke(app, ["db", *args])


def test_upgrade_current_check_on_a_new_database(db_url):
    """upgrade migrates to every head; current and check then exit 0."""
    res = _db("current", "--db", db_url, "--json")
    if db_url.startswith("sqlite"):
        assert res.exit_code == 2 and "no database file" in res.output  # nothing is created by a read
    else:
        assert res.exit_code == 1 and json.loads(res.output)["current"] == []
    res = _db("upgrade", "--db", db_url, "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["before"] == [] and doc["after"] == list(script_heads()) and doc["seconds"] > 0
    res = _db("current", "--db", db_url, "--json")
    assert res.exit_code == 0 and json.loads(res.output)["up_to_date"] is True
    res = _db("check", "--db", db_url)
    assert res.exit_code == 0 and "schema matches the models" in res.output
    res = _db("upgrade", "--db", db_url)
    assert res.exit_code == 0 and "already at" in res.output


def test_check_fails_on_a_drifted_schema(db_url):
    """A column the models lack makes `db check` exit 1 and name it."""
    assert _db("upgrade", "--db", db_url).exit_code == 0
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE violations ADD COLUMN stray_note TEXT"))
    engine.dispose()
    res = _db("check", "--db", db_url, "--json")
    assert res.exit_code == 1
    doc = json.loads(res.output)
    assert doc["ok"] is False and any("stray_note" in d for d in doc["differences"])


def test_upgrade_refuses_a_foreign_schema(tmp_path):
    """Tables without a version that do not match the baseline: exit 1, the problem named."""
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE runs (id TEXT PRIMARY KEY)"))
    engine.dispose()
    res = _db("upgrade", "--db", url)
    assert res.exit_code == 1 and "do not match revision 0001_baseline" in res.output and "runs" in res.output


def test_history_lists_baseline_and_heads():
    """history names the baseline as the root and marks every head."""
    res = _db("history", "--json")
    assert res.exit_code == 0
    revs = json.loads(res.output)
    root = [r for r in revs if r["down_revisions"] == []]
    assert [r["revision"] for r in root] == ["0001_baseline"]
    assert {r["revision"] for r in revs if r["head"]} == set(script_heads())


def test_bad_url_and_unreachable_server_exit_2():
    """An unparsable URL and a server that does not answer are input errors (exit 2)."""
    res = _db("current", "--db", "not a url")
    assert res.exit_code == 2 and "not a usable SQLAlchemy URL" in res.output
    res = _db("current", "--db", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert res.exit_code == 2 and "cannot connect" in res.output


def test_default_database_is_the_home_sqlite(tmp_path):
    """Without --db the home folder's SQLite file is migrated (SAFECITY_HOME is private here)."""
    assert not (tmp_path / "safecity-home" / "safecity.sqlite").exists()
    res = _db("upgrade")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "safecity-home" / "safecity.sqlite").is_file()

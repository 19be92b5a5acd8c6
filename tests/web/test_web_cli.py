"""`safecity users add` and `safecity serve`."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from store.db import make_engine, session_factory
from web.models import UserRow


@pytest.fixture
def runner():
    return CliRunner()


def test_users_add_reads_the_password_from_stdin_and_hashes_it(runner, tmp_path):
    """The account is stored with an argon2id hash, never the password."""
    from safecity.cli import app

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    r = runner.invoke(app, ["users", "add", "ivanov", "--role", "reviewer", "--db", url], input="Long-enough-pass-1\n")
    assert r.exit_code == 0, r.output
    engine = make_engine(url)
    with session_factory(engine)() as s:
        user = s.scalars(select(UserRow)).one()
    engine.dispose()
    assert (user.username, user.role, user.active) == ("ivanov", "reviewer", True)
    assert user.password_hash.startswith("$argon2id$") and "Long-enough-pass-1" not in user.password_hash


@pytest.mark.parametrize("args,password,message", [
    (["users", "add", "ivanov", "--role", "admin"], "Long-enough-pass-1", "role: expected one of"),
    (["users", "add", "Ivanov!", "--role", "reviewer"], "Long-enough-pass-1", "username: expected"),
    (["users", "add", "ivanov", "--role", "reviewer"], "short", "password: expected at least 12"),
    (["users", "add", "ivanov", "--role", "reviewer"], "aaaaaaaaaaaaaaaa", "different characters"),
])
def test_users_add_refuses_bad_input_with_exit_2(runner, tmp_path, args, password, message):
    """Bad role, username or password: exit 2 and a message naming the input."""
    from safecity.cli import app

    r = runner.invoke(app, [*args, "--db", f"sqlite:///{tmp_path / 'db.sqlite'}"], input=password + "\n")
    assert r.exit_code == 2 and message in r.output


def test_users_add_refuses_a_duplicate(runner, tmp_path):
    """A second account with the same name is refused (exit 2); the first is unchanged."""
    from safecity.cli import app

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    assert runner.invoke(app, ["users", "add", "petrov", "--role", "operator", "--db", url], input="Long-enough-pass-1\n").exit_code == 0
    r = runner.invoke(app, ["users", "add", "petrov", "--role", "regulator", "--db", url], input="Long-enough-pass-2\n")
    assert r.exit_code == 2 and "exists already" in r.output


def test_serve_without_a_home_folder_fails_clearly(runner, tmp_path):
    """serve with no roster in the home folder exits 2 and says to run `safecity init`."""
    from safecity.cli import app

    r = runner.invoke(app, ["serve", "--home", str(tmp_path / "nohome"), "--db", f"sqlite:///{tmp_path / 'db.sqlite'}"])
    assert r.exit_code == 2 and "safecity init" in r.output


def test_users_list_disable_enable(runner, tmp_path):
    """disable marks the account inactive (and says so in list); enable restores it; an unknown name exits 2."""
    from safecity.cli import app

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    assert runner.invoke(app, ["users", "add", "sidorov", "--role", "supervisor", "--db", url], input="Long-enough-pass-1\n").exit_code == 0
    assert runner.invoke(app, ["users", "disable", "sidorov", "--db", url]).exit_code == 0
    listed = runner.invoke(app, ["users", "list", "--db", url])
    assert listed.exit_code == 0 and "sidorov" in listed.output and "disabled" in listed.output
    assert runner.invoke(app, ["users", "enable", "sidorov", "--db", url]).exit_code == 0
    assert "active" in runner.invoke(app, ["users", "list", "--db", url]).output
    missing = runner.invoke(app, ["users", "disable", "nobody", "--db", url])
    assert missing.exit_code == 2 and "no account" in missing.output

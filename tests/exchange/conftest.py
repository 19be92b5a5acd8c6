"""Fixtures of the exchange tests: a home folder with keys, a log database."""

from __future__ import annotations

import pytest

from exchange.home import Home, init_home
from exchange.schema import create_exchange_tables
from store.db import make_engine, session_factory


@pytest.fixture(scope="session")
def home(tmp_path_factory) -> Home:
    """One home folder (keys for every role) shared by the tests; checkpoints every 8 entries."""
    path = tmp_path_factory.mktemp("home")
    init_home(path)
    roles = (path / "roles.yaml").read_text().replace("checkpoint_every_entries: 64", "checkpoint_every_entries: 8")
    (path / "roles.yaml").write_text(roles)
    return init_home(path)


@pytest.fixture
def log_engine(db_url):
    engine = make_engine(db_url)
    create_exchange_tables(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(log_engine):
    return session_factory(log_engine)



"""Fixtures of the web tests: a seeded application and TestClients logged in per role."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from web_testdata import copy_seeded, seed


class Clock:
    """A settable UTC clock for the app (sessions, lockouts, decision times)."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += dt.timedelta(**kw)


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory):
    folder = tmp_path_factory.mktemp("web-template")
    return seed(folder), folder


@pytest.fixture
def seeded(seeded_template, tmp_path):
    """A private copy of the seeded database, registry, keys and evidence."""
    template, folder = seeded_template
    out = copy_seeded(template, folder, tmp_path / "site")
    yield out
    out.sessions.kw["bind"].dispose()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def app(seeded, clock):
    from web.app import create_app
    from web.settings import load_settings

    settings = load_settings(db_url=seeded.db_url, home=seeded.home.path, evidence_dirs=(seeded.evidence_dir,),
                             registry_url=seeded.registry_url, cookie_secure=False)
    return create_app(settings, clock=clock)


@pytest.fixture
def client(app):
    with TestClient(app, follow_redirects=False) as c:
        yield c

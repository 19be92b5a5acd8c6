"""Fixtures for the registry tests: a seeded registry, real uvicorn servers on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from registry_testdata import API_KEY, INCLUDED, ServerThread


@pytest.fixture(scope="module")
def seeded_registry_url(tmp_path_factory) -> str:
    """A SQLite registry with 3,000 synthetic vehicles and the contract plates."""
    from registry_adapters.seed import seed_registry

    path = tmp_path_factory.mktemp("registry") / "registry.sqlite"
    url = f"sqlite:///{path}"
    seed_registry(url, n=3000, seed=7, include_plates=list(INCLUDED))
    return url


@pytest.fixture(scope="module")
def registry_server(seeded_registry_url) -> Iterator[ServerThread]:
    """The project's registry service over the seeded registry, served by uvicorn."""
    from registry_adapters.service import create_app

    with ServerThread(create_app(seeded_registry_url, [API_KEY])) as server:
        yield server

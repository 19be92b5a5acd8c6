"""Fixtures shared by the worker tests: the real Redis broker under a per-test key prefix, and
a real S3-compatible server (moto in its own process) for evidence put by workers."""

from __future__ import annotations

import pytest

from celery_helpers import broker_fixture
from s3_helpers import running_s3_server


@pytest.fixture
def broker(monkeypatch):
    """The shared Redis under a key prefix of this test's own."""
    yield from broker_fixture(monkeypatch)


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """An S3 endpoint served by `python -m moto.server`, one per test module."""
    with running_s3_server(tmp_path_factory.mktemp("moto")) as server:
        yield server

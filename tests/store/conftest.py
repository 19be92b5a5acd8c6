"""A real S3-compatible server for the evidence-store tests (tests/s3_helpers.py: moto's server
mode in its own process; tests skip, saying why, when it cannot start)."""

from __future__ import annotations

import pytest

from s3_helpers import ACCESS, S3Server, running_s3_server  # noqa: F401 - ACCESS, S3Server re-exported for the tests


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """An S3 endpoint served by `python -m moto.server` in its own process."""
    with running_s3_server(tmp_path_factory.mktemp("moto")) as server:
        yield server


@pytest.fixture()
def s3_bucket(s3_server) -> str:
    """A new empty bucket on the test server."""
    return s3_server.new_bucket()

"""A real S3-compatible server for tests: moto's server mode, run as a separate process on a
free local port (tests skip, saying why, when it cannot start). Shared by the evidence-store
tests (tests/store) and the worker tests that put evidence in S3 (tests/workers)."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ACCESS = {"aws_access_key_id": "safecity-test", "aws_secret_access_key": "safecity-test-secret"}


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    region: str = "us-east-1"
    access_key_id: str = ACCESS["aws_access_key_id"]
    secret_access_key: str = ACCESS["aws_secret_access_key"]

    def client(self):
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name=self.region,
                            config=Config(s3={"addressing_style": "path"}), **ACCESS)

    def env(self, url: str) -> dict[str, str]:
        """The ``SAFECITY_*`` settings that point the evidence store at ``url`` on this server."""
        return {"SAFECITY_EVIDENCE_URL": url, "SAFECITY_S3_ENDPOINT": self.endpoint_url, "SAFECITY_S3_REGION": self.region,
                "SAFECITY_S3_ACCESS_KEY_ID": self.access_key_id, "SAFECITY_S3_SECRET_ACCESS_KEY": self.secret_access_key}

    def new_bucket(self) -> str:
        name = f"evidence-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_s3_server(log_dir: Path) -> Iterator[S3Server]:
    """An S3 endpoint served by `python -m moto.server` in its own process, stopped afterwards."""
    try:
        import boto3  # noqa: F401
        import moto.server  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"no S3-compatible server to test against: {exc.name} is not installed (pip install -e '.[dev]')")
    port = _free_port()
    log = Path(log_dir) / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                stdout=out, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                proc.wait(10)
                pytest.skip(f"S3 server (moto) did not start on port {port}: {log.read_text()[-500:]}")
            time.sleep(0.2)
    try:
        yield S3Server(endpoint)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

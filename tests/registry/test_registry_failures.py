"""The HTTP adapter against a real local server that misbehaves on purpose.

Timeouts, HTTP 500, malformed and wrong-shaped answers, refused keys, a dead port: the adapter
retries what may pass, raises a TransientError (the case waits as pending) when the registry
stays down, opens its circuit breaker, and never retries a refused key.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from registry_testdata import ServerThread

from registry_adapters.base import (
    AccessContext,
    InMemoryAccessRecorder,
    RegistryAnswerError,
    RegistryAuthError,
    RegistryUnavailable,
)
from registry_adapters.http import HttpRegistryAdapter
from registry_adapters.resilience import RetryPolicy
from safecity.errors import PermanentError, TransientError

ACCESS = AccessContext(actor="svc:test", purpose="failure-test")
GOOD_RECORD = {
    "plate": "01123ABC",
    "make": "Toyota",
    "model": "Camry",
    "colour": "white",
    "vehicle_class": "car",
    "registration_status": "registered",
    "owner_ref": "OWN-1",
    "year": 2015,
}


class Script:
    """What the misbehaving server answers, request by request (the last step repeats)."""

    def __init__(self) -> None:
        self.steps: list[str] = ["ok"]
        self.requests = 0
        self.lock = threading.Lock()

    def next(self) -> str:
        with self.lock:
            step = self.steps[min(self.requests, len(self.steps) - 1)]
            self.requests += 1
            return step


def misbehaving_app(script: Script):
    """A FastAPI app at the registry's path answering per ``script``."""
    app = FastAPI()

    @app.post("/v1/vehicles/lookup")
    async def lookup(request: Request):
        body = await request.json()
        step = script.next()
        if step == "slow":
            await asyncio.sleep(1.0)
            return JSONResponse({"records": []})
        if step == "500":
            return PlainTextResponse("Internal Server Error", status_code=500)
        if step == "429":
            return PlainTextResponse("slow down", status_code=429)
        if step == "401":
            return JSONResponse({"detail": "bad key"}, status_code=401)
        if step == "not_json":
            return PlainTextResponse("<html>proxy error</html>", status_code=200)
        if step == "wrong_shape":
            return JSONResponse({"records": [{"plate": 1}]})
        if step == "bad_value":
            return JSONResponse({"records": [{**GOOD_RECORD, "vehicle_class": "spaceship"}]})
        if step == "unasked":
            return JSONResponse({"records": [{**GOOD_RECORD, "plate": "05555XYZ"}]})
        found = [GOOD_RECORD] if GOOD_RECORD["plate"] in body["plates"] else []
        return JSONResponse(json.loads(json.dumps({"records": found})))

    return app


@pytest.fixture(scope="module")
def script_server():
    script = Script()
    with ServerThread(misbehaving_app(script)) as server:
        yield server, script


@pytest.fixture
def bad(script_server):
    """(adapter with 3 attempts, 0.3 s timeout, breaker at 5 failures; script; recorded sleeps)."""
    server, script = script_server
    script.steps, script.requests = ["ok"], 0
    sleeps: list[float] = []
    adapter = HttpRegistryAdapter(
        server.url,
        "key",
        recorder=InMemoryAccessRecorder(),
        timeout_s=0.3,
        retry=RetryPolicy(attempts=3, base_delay_s=0.1, max_delay_s=1.0),
        breaker_failures=5,
        breaker_reset_s=60.0,
        sleep=sleeps.append,
    )
    yield adapter, script, sleeps
    adapter.close()


def test_ok_answer(bad) -> None:
    """Sanity: the script's good answer is a normal exact lookup."""
    adapter, script, _ = bad
    assert adapter.lookup("01123ABC", ACCESS, fuzzy=False).status == "exact"
    assert script.requests == 1


@pytest.mark.parametrize(
    ("steps", "error"),
    [
        (["slow"], RegistryUnavailable),
        (["500"], RegistryUnavailable),
        (["429"], RegistryUnavailable),
        (["not_json"], RegistryAnswerError),
        (["wrong_shape"], RegistryAnswerError),
        (["bad_value"], RegistryAnswerError),
        (["unasked"], RegistryAnswerError),
    ],
)
def test_persistent_failure_is_transient_after_all_attempts(bad, steps, error) -> None:
    """A registry that keeps failing is retried 3 times with backoff, then a TransientError."""
    adapter, script, sleeps = bad
    script.steps = steps
    with pytest.raises(error) as caught:
        adapter.lookup("01123ABC", ACCESS, fuzzy=False)
    assert isinstance(caught.value, TransientError)
    assert script.requests == 3
    assert len(sleeps) == 2 and 0.05 <= sleeps[0] <= 0.1 and 0.1 <= sleeps[1] <= 0.2


@pytest.mark.parametrize("first", ["slow", "500", "not_json"])
def test_a_passing_failure_is_retried_to_success(bad, first) -> None:
    """One bad answer then a good one: the lookup succeeds on the second attempt."""
    adapter, script, _ = bad
    script.steps = [first, "ok"]
    assert adapter.lookup("01123ABC", ACCESS, fuzzy=False).status == "exact"
    assert script.requests == 2
    assert adapter.breaker.state == "closed"


def test_refused_key_is_permanent_and_not_retried(bad) -> None:
    """HTTP 401: RegistryAuthError (a PermanentError), one request only."""
    adapter, script, _ = bad
    script.steps = ["401"]
    with pytest.raises(RegistryAuthError) as caught:
        adapter.lookup("01123ABC", ACCESS)
    assert isinstance(caught.value, PermanentError)
    assert script.requests == 1


def test_circuit_opens_and_then_fails_fast(bad) -> None:
    """After 5 consecutive failures the breaker opens: the next lookup sends nothing."""
    adapter, script, _ = bad
    script.steps = ["500"]
    with pytest.raises(RegistryUnavailable):
        adapter.lookup("01123ABC", ACCESS, fuzzy=False)  # 3 failures
    with pytest.raises(RegistryUnavailable):
        adapter.lookup("01123ABC", ACCESS, fuzzy=False)  # 2 more: open
    assert adapter.breaker.state == "open"
    sent = script.requests
    with pytest.raises(RegistryUnavailable, match="circuit open"):
        adapter.lookup("01123ABC", ACCESS, fuzzy=False)
    assert script.requests == sent


def test_dead_port_is_unavailable() -> None:
    """Nothing listening: connection refused on every attempt, then RegistryUnavailable."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    adapter = HttpRegistryAdapter(
        f"http://127.0.0.1:{port}",
        "key",
        recorder=InMemoryAccessRecorder(),
        timeout_s=0.5,
        retry=RetryPolicy(attempts=2, base_delay_s=0.0, max_delay_s=0.0),
        sleep=lambda s: None,
    )
    try:
        with pytest.raises(RegistryUnavailable, match="after 2 attempts: ConnectError"):
            adapter.lookup("01123ABC", ACCESS)
    finally:
        adapter.close()


def test_access_is_recorded_even_when_the_registry_is_down(bad) -> None:
    """The access attempt is recorded before the request, so a failed lookup is still logged."""
    adapter, script, _ = bad
    script.steps = ["500"]
    with pytest.raises(RegistryUnavailable):
        adapter.lookup("01123ABC", ACCESS, fuzzy=False)
    assert [r.plate for r in adapter.recorder.records] == ["01123ABC"]


def test_plates_never_reach_the_log(bad, caplog) -> None:
    """Failures are logged with their error type, never with the plate."""
    adapter, script, _ = bad
    script.steps = ["500"]
    with caplog.at_level("DEBUG"), pytest.raises(RegistryUnavailable):
        adapter.lookup("01123ABC", ACCESS, fuzzy=False)
    assert caplog.records and all("01123ABC" not in r.getMessage() for r in caplog.records)

"""The registry service itself (`safecity registry-serve`): auth, validation, access record."""

from __future__ import annotations

import httpx
import pytest
from registry_testdata import API_KEY, EXACT_PLATE

from registry_adapters.base import AccessContext, InMemoryAccessRecorder, RegistryAuthError
from registry_adapters.http import HttpRegistryAdapter
from registry_adapters.service import create_app


def test_health_needs_no_key(registry_server) -> None:
    """The health endpoint answers without a key."""
    assert httpx.get(f"{registry_server.url}/v1/health").json() == {"status": "ok"}


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong"}, {"X-API-Key": ""}])
def test_lookup_needs_a_valid_key(registry_server, headers) -> None:
    """No key or a wrong key: 401, nothing disclosed."""
    response = httpx.post(f"{registry_server.url}/v1/vehicles/lookup", json={"plates": [EXACT_PLATE]}, headers=headers)
    assert response.status_code == 401 and "records" not in response.text


@pytest.mark.parametrize(
    "body",
    [
        {"plates": []},
        {"plates": ["01 123 abc"]},
        {"plates": ["A" * 17]},
        {"plates": ["01123ABC"] * 1001},
        {"plate": "x"},
    ],
)
def test_lookup_validates_the_body(registry_server, body) -> None:
    """Empty, non-canonical, too long, too many plates or unknown fields: 422."""
    response = httpx.post(f"{registry_server.url}/v1/vehicles/lookup", json=body, headers={"X-API-Key": API_KEY})
    assert response.status_code == 422


def test_holder_records_who_asked(seeded_registry_url) -> None:
    """The service records each plate asked for with the caller's actor, purpose and case."""
    from registry_testdata import ServerThread

    holder_log = InMemoryAccessRecorder()
    with ServerThread(create_app(seeded_registry_url, ["k"], recorder=holder_log)) as server:
        adapter = HttpRegistryAdapter(server.url, "k", recorder=InMemoryAccessRecorder())
        adapter.lookup(EXACT_PLATE, AccessContext("inspector:7", "review", "case-9"), fuzzy=False)
        adapter.close()
    assert [(r.actor, r.purpose, r.plate, r.case_id) for r in holder_log.records] == [
        ("inspector:7", "review", EXACT_PLATE, "case-9")
    ]


def test_adapter_with_a_wrong_key_gets_auth_error(registry_server) -> None:
    """The HTTP adapter turns 401 into RegistryAuthError."""
    adapter = HttpRegistryAdapter(registry_server.url, "wrong", recorder=InMemoryAccessRecorder())
    try:
        with pytest.raises(RegistryAuthError):
            adapter.lookup(EXACT_PLATE, AccessContext("svc:test", "auth-test"))
    finally:
        adapter.close()


def test_service_needs_keys(seeded_registry_url) -> None:
    """A service without API keys is refused at construction."""
    with pytest.raises(ValueError, match="at least one non-empty API key"):
        create_app(seeded_registry_url, [])

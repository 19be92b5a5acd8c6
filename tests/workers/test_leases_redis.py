"""Camera leases against the real local Redis: exclusivity, fencing, compare-and-renew/delete."""

from __future__ import annotations

import time

import pytest
from tests.workers.live_helpers import delete_prefix, private_prefix, redis_client

from workers.leases import CameraLeases, alive_workers, lease_holders, publish_heartbeat


@pytest.fixture
def red():
    client = redis_client()
    prefix = private_prefix()
    yield client, prefix
    delete_prefix(client, prefix)


def test_only_one_worker_holds_a_camera(red):
    """A second worker cannot acquire a camera that is held; the first keeps it while renewing."""
    client, prefix = red
    a = CameraLeases(client, "worker-a", prefix, ttl_ms=500)
    b = CameraLeases(client, "worker-b", prefix, ttl_ms=500)
    lease = a.acquire("cam-1")
    assert lease is not None and lease.worker_id == "worker-a"
    for _ in range(4):  # 4 x 200 ms > the 500 ms TTL: only renewal keeps it
        assert b.acquire("cam-1") is None
        time.sleep(0.2)
        assert a.renew(lease)
    assert lease_holders(client, prefix)["cam-1"].worker_id == "worker-a"


def test_expired_lease_moves_with_a_higher_fencing_token(red):
    """After the TTL the camera is free; the new holder's token is larger, the old holder can neither renew nor delete."""
    client, prefix = red
    a = CameraLeases(client, "worker-a", prefix, ttl_ms=200)
    b = CameraLeases(client, "worker-b", prefix, ttl_ms=5000)
    old = a.acquire("cam-1")
    time.sleep(0.35)
    new = b.acquire("cam-1")
    assert new is not None and new.token > old.token
    assert not a.renew(old)
    assert not a.release(old)
    assert not a.is_current(old) and b.is_current(new)
    assert lease_holders(client, prefix)["cam-1"].worker_id == "worker-b"


def test_release_frees_the_camera_at_once(red):
    """A clean release lets another worker acquire without waiting for the TTL."""
    client, prefix = red
    a = CameraLeases(client, "worker-a", prefix, ttl_ms=60_000)
    b = CameraLeases(client, "worker-b", prefix, ttl_ms=60_000)
    lease = a.acquire("cam-1")
    assert a.release(lease)
    assert b.acquire("cam-1") is not None


def test_heartbeats_expire(red):
    """A worker's heartbeat is visible until its TTL passes."""
    client, prefix = red
    publish_heartbeat(client, prefix, "worker-a", 300, {"pool": "cpu", "cameras": []})
    assert alive_workers(client, prefix)["worker-a"]["pool"] == "cpu"
    time.sleep(0.45)
    assert "worker-a" not in alive_workers(client, prefix)


@pytest.mark.parametrize(
    ("worker_id", "ttl_ms", "message"),
    [("bad id", 1000, "worker id 'bad id'"), ("", 1000, "worker id ''"), ("w", 10, "ttl_ms: expected >= 100")],
)
def test_bad_lease_arguments(red, worker_id, ttl_ms, message):
    """Invalid worker ids and TTLs are refused with the field named."""
    client, prefix = red
    with pytest.raises(ValueError, match=message):
        CameraLeases(client, worker_id, prefix, ttl_ms=ttl_ms)

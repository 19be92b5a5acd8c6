"""Camera ownership through Redis leases with a fencing token.

A worker holds a camera while it keeps renewing the camera's lease key. The key is created
with ``SET NX PX`` (only one holder), renewed and released by Lua scripts that compare the
stored holder first (a worker whose lease expired can never extend or delete the lease a
second worker now holds). Every acquisition increments a per-camera fencing counter; the
token travels with the work, so a write made by a stale holder can be recognised and refused.

When a worker dies (even ``kill -9``) its leases simply stop being renewed and expire after
``ttl_ms``; any other worker's next scan acquires them. The failover time is therefore at most
``ttl_ms + scan interval`` (measured in ``tests/workers/test_leases_failover.py``).

Key layout (``prefix`` keeps deployments and test runs apart)::

    {prefix}lease:camera:{camera_id}   "{worker_id}|{token}"   PX ttl
    {prefix}fence:camera:{camera_id}   integer, +1 per acquisition (never expires)
    {prefix}worker:{worker_id}         JSON heartbeat           PX ttl
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass

log = logging.getLogger(__name__)

WORKER_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,127}$")

# Atomic: acquire only when free, and bump the fencing counter in the same step.
_ACQUIRE = """
local ok = redis.call('SET', KEYS[1], ARGV[1] .. '|pending', 'NX', 'PX', ARGV[2])
if not ok then return nil end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. token, 'XX', 'KEEPTTL')
return token
"""
# Extend only the lease this holder still owns (compare-and-renew).
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
# Delete only the lease this holder still owns (compare-and-delete).
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


@dataclass(frozen=True)
class Lease:
    """A held camera lease.

    Attributes:
        camera_id: the camera.
        worker_id: the holder.
        token: fencing token, strictly increasing per camera across all holders.
    """

    camera_id: str
    worker_id: str
    token: int

    @property
    def value(self) -> str:
        return f"{self.worker_id}|{self.token}"


@dataclass(frozen=True)
class LeaseHolder:
    """Who holds a camera now (read by ``safecity status``)."""

    camera_id: str
    worker_id: str
    token: int | None
    ttl_ms: int


def check_worker_id(worker_id: str) -> str:
    if not WORKER_ID_RE.match(worker_id):
        raise ValueError(
            f"worker id {worker_id!r}: expected 1-128 characters of letters, digits and _ . @ : - "
            "(starting with a letter or digit)"
        )
    return worker_id


class CameraLeases:
    """Acquire, renew and release camera leases for one worker.

    Args:
        redis: a ``redis.Redis`` client (decode_responses=True).
        worker_id: this worker's id (unique per process).
        prefix: key prefix, e.g. ``"safecity:"``.
        ttl_ms: lease lifetime; a dead holder's cameras are free after at most this long.
    """

    def __init__(self, redis, worker_id: str, prefix: str = "safecity:", ttl_ms: int = 10_000) -> None:
        if ttl_ms < 100:
            raise ValueError(f"lease ttl_ms: expected >= 100, got {ttl_ms}")
        self.redis = redis
        self.worker_id = check_worker_id(worker_id)
        self.prefix = prefix
        self.ttl_ms = int(ttl_ms)
        self._acquire = redis.register_script(_ACQUIRE)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    def lease_key(self, camera_id: str) -> str:
        return f"{self.prefix}lease:camera:{camera_id}"

    def fence_key(self, camera_id: str) -> str:
        return f"{self.prefix}fence:camera:{camera_id}"

    def acquire(self, camera_id: str) -> Lease | None:
        """Take the camera if nobody holds it; None when another worker does."""
        token = self._acquire(keys=[self.lease_key(camera_id), self.fence_key(camera_id)], args=[self.worker_id, self.ttl_ms])
        if token is None:
            return None
        lease = Lease(camera_id, self.worker_id, int(token))
        log.info("lease acquired camera_id=%s worker_id=%s token=%d", camera_id, self.worker_id, lease.token)
        return lease

    def renew(self, lease: Lease) -> bool:
        """Extend the lease; False when it was lost (expired, or another worker holds it)."""
        ok = bool(self._renew(keys=[self.lease_key(lease.camera_id)], args=[lease.value, self.ttl_ms]))
        if not ok:
            log.warning("lease lost camera_id=%s worker_id=%s token=%d", lease.camera_id, self.worker_id, lease.token)
        return ok

    def release(self, lease: Lease) -> bool:
        """Give the camera up now (clean shutdown), so others need not wait for the TTL."""
        ok = bool(self._release(keys=[self.lease_key(lease.camera_id)], args=[lease.value]))
        log.info("lease released camera_id=%s worker_id=%s token=%d held=%s", lease.camera_id, self.worker_id, lease.token, ok)
        return ok

    def is_current(self, lease: Lease) -> bool:
        """True while ``lease`` is still the camera's lease (the fencing check before a write)."""
        return self.redis.get(self.lease_key(lease.camera_id)) == lease.value


def lease_holders(redis, prefix: str) -> dict[str, LeaseHolder]:
    """Every camera lease under ``prefix`` with its holder and remaining TTL."""
    out: dict[str, LeaseHolder] = {}
    head = f"{prefix}lease:camera:"
    for key in redis.scan_iter(match=f"{head}*", count=500):
        value = redis.get(key)
        ttl = redis.pttl(key)
        if value is None or ttl < 0:
            continue
        worker, _, token = value.rpartition("|")
        camera_id = key[len(head):]
        out[camera_id] = LeaseHolder(camera_id, worker, int(token) if token.isdigit() else None, int(ttl))
    return out


def publish_heartbeat(redis, prefix: str, worker_id: str, ttl_ms: int, info: dict) -> None:
    """Record that ``worker_id`` is alive for ``ttl_ms`` (info: host, pid, pool, cameras...)."""
    redis.set(f"{prefix}worker:{worker_id}", json.dumps(info, sort_keys=True), px=int(ttl_ms))


def alive_workers(redis, prefix: str) -> dict[str, dict]:
    """Workers whose heartbeat has not expired, with their last published info."""
    head = f"{prefix}worker:"
    out: dict[str, dict] = {}
    for key in redis.scan_iter(match=f"{head}*", count=500):
        raw = redis.get(key)
        if raw is None:
            continue
        try:
            out[key[len(head):]] = json.loads(raw)
        except json.JSONDecodeError:
            log.warning("unreadable heartbeat key=%s", key)
    return out

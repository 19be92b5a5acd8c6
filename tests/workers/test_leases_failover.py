"""Failover with real worker processes: kill -9 the worker holding cameras, measure how long
until the other workers hold all of them (real Redis, real ``safecity live`` processes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.workers.live_helpers import REDIS_URL, delete_prefix, free_port, private_prefix, redis_client, wait_for

from store.db import init_db, make_engine, session_factory
from workers.leases import alive_workers, lease_holders
from workers.live_models import add_camera

# Short by default to keep the test quick; the production defaults (10 s, 2 s) can be measured
# with SAFECITY_TEST_FAILOVER_TTL_S=10 SAFECITY_TEST_FAILOVER_SCAN_S=2.
TTL_S = float(os.environ.get("SAFECITY_TEST_FAILOVER_TTL_S", "2.0"))
SCAN_S = float(os.environ.get("SAFECITY_TEST_FAILOVER_SCAN_S", "0.5"))
CAMERAS = [f"cam-{i}" for i in range(6)]


def _worker(worker_id: str, db_url: str, prefix: str, home: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "safecity", "live", "--watch-only", "--db", db_url, "--redis-url", REDIS_URL, "--prefix", prefix,
           "--worker-id", worker_id, "--max-cameras", "4", "--lease-ttl-s", str(TTL_S), "--scan-interval-s", str(SCAN_S),
           "--out", str(home / worker_id)]
    env = dict(os.environ, SAFECITY_HOME=str(home))
    return subprocess.Popen(cmd, env=env, cwd=Path(__file__).resolve().parents[2], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_kill_9_moves_cameras_within_ttl_plus_scan(tmp_path):
    """After kill -9 of the worker holding 4 of 6 cameras, the two survivors hold all 6 within TTL + scan (+ start-up slack)."""
    client = redis_client()
    prefix = private_prefix()
    db_url = f"sqlite:///{tmp_path / 'live.sqlite'}"
    config = tmp_path / "camera.yaml"
    config.write_text("placeholder: the watch-only workers never load it\n")
    engine = make_engine(db_url)
    init_db(engine)
    with session_factory(engine).begin() as session:
        for cam in CAMERAS:  # nothing listens on these ports: the readers sit in backoff, leases still count
            add_camera(session, cam, f"http://127.0.0.1:{free_port()}/none.ts", str(config))
    engine.dispose()
    procs: dict[str, subprocess.Popen] = {}
    try:
        procs["w-a"] = _worker("w-a", db_url, prefix, tmp_path)
        assert wait_for(lambda: sum(h.worker_id == "w-a" for h in lease_holders(client, prefix).values()) == 4, 60), "w-a never held 4 cameras"
        procs["w-b"] = _worker("w-b", db_url, prefix, tmp_path)
        procs["w-c"] = _worker("w-c", db_url, prefix, tmp_path)
        assert wait_for(lambda: len(lease_holders(client, prefix)) == 6 and {"w-b", "w-c"} <= set(alive_workers(client, prefix)), 60)
        before = lease_holders(client, prefix)
        victims = {c for c, h in before.items() if h.worker_id == "w-a"}
        assert len(victims) == 4

        killed_at = time.monotonic()
        procs["w-a"].send_signal(signal.SIGKILL)
        procs["w-a"].wait(timeout=10)
        moved_at: dict[str, float] = {}
        deadline = killed_at + TTL_S + 10
        while time.monotonic() < deadline and len(moved_at) < len(victims):
            for cam, h in lease_holders(client, prefix).items():
                if cam in victims and cam not in moved_at and h.worker_id != "w-a":
                    moved_at[cam] = time.monotonic() - killed_at
                    assert h.token > before[cam].token  # fencing: the new holder's token is newer
            time.sleep(0.02)
        after = lease_holders(client, prefix)
        failover_s = max(moved_at.values()) if len(moved_at) == len(victims) else float("inf")
        print(f"\nfailover after kill -9: ttl={TTL_S}s scan={SCAN_S}s first={min(moved_at.values(), default=float('nan')):.2f}s "
              f"all={failover_s:.2f}s per camera={ {c: round(t, 2) for c, t in sorted(moved_at.items())} }")
        assert len(moved_at) == 4, f"not moved: {victims - set(moved_at)}"
        assert failover_s <= TTL_S + SCAN_S + 1.5, f"failover took {failover_s:.2f} s"
        assert failover_s >= TTL_S - 0.5 * SCAN_S - 0.1, "cameras moved before the dead worker's lease could expire"
        assert {h.worker_id for h in after.values()} == {"w-b", "w-c"} and len(after) == 6
        assert "w-a" not in alive_workers(client, prefix)
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs.values():
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        delete_prefix(client, prefix)

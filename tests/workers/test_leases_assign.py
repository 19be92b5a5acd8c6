"""`cameras assign`: a camera moves to its preferred worker while that worker lives, and back to any worker when it dies."""

from __future__ import annotations

from tests.workers.live_helpers import (
    REDIS_URL, WorkerThread, delete_prefix, free_port, private_prefix, redis_client, register_camera, wait_for,
)
from store.db import make_engine, session_factory
from workers.leases import lease_holders
from workers.live import LiveSettings, LiveWorker
from workers.live_models import assign_camera


def _settings(tmp_path, prefix, db_url, worker_id):
    return LiveSettings(redis_url=REDIS_URL, db_url=db_url, key_prefix=prefix, worker_id=worker_id, lease_ttl_s=1.5,
                        scan_interval_s=0.3, spool_dir=tmp_path / worker_id, out_dir=tmp_path / worker_id, pipeline=False)


def test_assigned_camera_moves_to_its_worker_and_falls_back(tmp_path):
    """w1 holds the camera; assigned to w2 it moves there with a new token; when w2 stops, w1 takes it again."""
    client = redis_client()
    prefix = private_prefix()
    db_url = f"sqlite:///{tmp_path / 'live.sqlite'}"
    config = tmp_path / "camera.yaml"
    config.write_text("# watch-only\n")
    register_camera(db_url, "cam-x", f"http://127.0.0.1:{free_port()}/none.ts", config)

    def holder():
        h = lease_holders(client, prefix).get("cam-x")
        return (h.worker_id, h.token) if h else None

    try:
        with WorkerThread(LiveWorker(_settings(tmp_path, prefix, db_url, "w1"), client)):
            assert wait_for(lambda: (holder() or ("",))[0] == "w1", 20)
            first = holder()
            w2 = WorkerThread(LiveWorker(_settings(tmp_path, prefix, db_url, "w2"), client))
            with w2:
                wait_for(lambda: False, 1.0)
                assert holder() == first  # an unassigned camera stays where it is
                engine = make_engine(db_url)
                with session_factory(engine).begin() as session:
                    assign_camera(session, "cam-x", worker="w2")
                engine.dispose()
                assert wait_for(lambda: (holder() or ("",))[0] == "w2", 10), holder()
                moved = holder()
                assert moved[1] > first[1]
            # w2 stopped (released): the camera is assigned to a dead worker, so any worker runs it
            assert wait_for(lambda: (holder() or ("",))[0] == "w1", 10), holder()
            assert holder()[1] > moved[1]
    finally:
        delete_prefix(client, prefix)

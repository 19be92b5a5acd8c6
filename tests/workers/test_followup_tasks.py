"""The plates and registry queues through a real Redis and a real worker process: a job with
deferred plates and a registry reads each stored violation's plate from its evidence, matches
it once, and duplicate or redelivered messages add nothing."""

from __future__ import annotations

import json
import os

import pytest

from celery_helpers import DETECTOR, OPTIONS, PLAN, SAMPLE, kill_group, shared_clip, start_worker, wait_until

PLATE = "08 123 CAT"


def _ctx(db_url, tmp_path, broker_url):
    from workers.jobs import WorkerContext
    from workers.settings import load_settings

    return WorkerContext(load_settings(env={}, broker_url=broker_url, db_url=db_url, evidence_root=tmp_path / "evidence",
                                      key_prefix=os.environ.get("SAFECITY_BROKER_PREFIX", ""), **PLAN))


def _state(db_url: str, camera_id: str) -> dict:
    """Per violation: plate columns, reader version, match row; and the access-log entry count."""
    from sqlalchemy import create_engine, func, select

    from exchange.schema import ExchangeEntryRow
    from registry_adapters.models import RegistryMatchRow
    from store.schema import ViolationRow

    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            plates = {r.id: (r.plate_status, r.plate_text, r.plate_guess, (r.measurements or {}).get("plate_reader"))
                      for r in conn.execute(select(ViolationRow).where(ViolationRow.camera_id == camera_id))}
            matches = {r.violation_id: (r.status, r.query_plate, r.attempts) for r in conn.execute(select(RegistryMatchRow))}
            match_rows = conn.scalar(select(func.count()).select_from(RegistryMatchRow))
            entries = dict(conn.execute(select(ExchangeEntryRow.type, func.count()).group_by(ExchangeEntryRow.type)).all())
    finally:
        engine.dispose()
    return {"plates": plates, "matches": matches, "match_rows": match_rows, "entries": entries}


def test_routing_table_names_every_queue_task():
    """read_plate goes to plates, match_registry to registry; the app routes them there."""
    from workers.app import celery_config
    from workers.routing import TASK_QUEUES
    from workers.settings import load_settings

    assert TASK_QUEUES["safecity.read_plate"] == "plates" and TASK_QUEUES["safecity.match_registry"] == "registry"
    routes = celery_config(load_settings(env={}))["task_routes"]
    assert routes["safecity.read_plate"] == {"queue": "plates"} and routes["safecity.match_registry"] == {"queue": "registry"}


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [({"plates": False, "plates_deferred": True}, "plates are off"), ({"registry": "mysql://x"}, "expected sql:")],
)
def test_submit_refuses_bad_followups(tmp_path, kwargs, error):
    """Deferred plates without plates, and a registry spec of another form, are refused before anything is stored."""
    from workers.jobs import SubmitRequest, submit_job

    clip, _ = shared_clip()
    ctx = _ctx(f"sqlite:///{tmp_path / 'jobs.sqlite'}", tmp_path, "redis://127.0.0.1:6379/11")
    args = {"plates": True, **kwargs}
    with pytest.raises(ValueError, match=error):
        submit_job(ctx, SubmitRequest(clip / "scene.mp4", clip / "camera.yaml", "cpu", DETECTOR, None, args.pop("plates"), OPTIONS, **args))


def test_deferred_plates_and_registry_match_once(tmp_path, broker):
    """Segments store violations without plates; read_plate (plates queue) reads each from its
    stored clip and sends match_registry (registry queue), which stores one match per violation.
    Duplicate read_plate/match_registry messages and a redelivered segment add no row, no
    access-log entry and no second read."""
    from registry_adapters.seed import seed_registry
    from workers.app import create_app
    from workers.followups import plate_reader_version
    from workers.jobs import SubmitRequest, enqueue, submit_job, wait_for_job

    clip, reference = shared_clip()
    truth = json.loads((SAMPLE / "truth.json").read_text())
    plates = sorted({v["plate"].replace(" ", "") for v in truth["vehicles"] if v.get("plate")})
    registry_url = f"sqlite:///{tmp_path / 'registry.sqlite'}"
    seed_registry(registry_url, n=len(plates) + 20, seed=3, include_plates=plates)
    db_url = f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    ctx = _ctx(db_url, tmp_path, broker)
    app = create_app(ctx.settings)
    job = submit_job(ctx, SubmitRequest(clip / "scene.mp4", clip / "camera.yaml", "cpu", DETECTOR, None, True, OPTIONS,
                                        plates_deferred=True, registry=f"sql:{registry_url}"))
    assert job.created
    worker = start_worker(tmp_path, "w-followups", broker, db_url, queues="detect.cpu,plates,registry")
    try:
        assert enqueue(app, ctx, job.job_id) == len(job.segment_ids)
        view = wait_for_job(ctx, job.job_id, timeout_s=400)
        assert view.status == "done", view.job["error"]
        ids = sorted(v["id"] for s in view.segments for v in s["result"]["violations"])
        assert len(ids) == len(reference) > 0
        # Inside the segment nothing was read: the segment's own result has no plate.
        assert all(v["plate_status"] is None for s in view.segments for v in s["result"]["violations"])

        def settled():
            st = _state(db_url, "clip-day-s1")
            done = all(st["plates"][i][3] is not None for i in ids) and all(
                i in st["matches"] and st["matches"][i][0] != "pending" for i in ids)
            return st if done else None

        first = wait_until(settled, 300, "every violation read and matched", poll_s=1.0)
        version = plate_reader_version()
        assert {p[3] for p in first["plates"].values()} == {version}
        assert all(p[0] in ("read", "unreadable", "no_plate") for p in first["plates"].values())
        # The clip's plates are small (a read needs text about 24 px tall): the reader finds a
        # plate in at least one clip; the registry path with a read plate is the next test's.
        assert any(p[0] != "no_plate" for p in first["plates"].values()), first["plates"]
        for vid in ids:
            status, text, _, _ = first["plates"][vid]
            match_status, query, attempts = first["matches"][vid]
            # The match asked with the plate that was read; only a confident read is looked up.
            assert query == text and attempts == (1 if text else 0)
            if text is None:
                assert match_status == "unreadable"
            elif text in plates:
                assert match_status == "matched"
        assert first["match_rows"] == len(ids)
        # One personal-data access per looked-up plate.
        assert first["entries"].get("pd_access", 0) == sum(1 for p in first["plates"].values() if p[1])

        # Duplicates: every follow-up sent twice more, and the segment message redelivered
        # (it finds the segment done and sends its follow-ups again).
        results = [app.send_task(name, args=[vid], queue=queue)
                   for vid in ids for name, queue in (("safecity.read_plate", "plates"), ("safecity.match_registry", "registry"))
                   for _ in range(2)]
        results += [app.send_task("safecity.process_segment", args=[sid], queue="detect.cpu") for sid in job.segment_ids]
        outcomes = [r.get(timeout=120) for r in results]
        assert {o["status"] for o in outcomes} == {"skipped"}
        wait_until(lambda: not _pending_messages(broker), 60, "the re-sent follow-ups to drain")
    finally:
        kill_group(worker, 15)
    assert _state(db_url, "clip-day-s1") == first


def _pending_messages(broker_url: str) -> int:
    """Messages still waiting in the plates and registry queues (under this test's key prefix)."""
    import redis

    prefix = os.environ.get("SAFECITY_BROKER_PREFIX", "")
    client = redis.Redis.from_url(broker_url)
    try:
        return sum(client.llen(f"{prefix}{q}") for q in ("plates", "registry")) + client.zcard(f"{prefix}unacked_index")
    finally:
        client.close()


def _store_violation(db_url: str, store, vid: str) -> None:
    """A stored violation whose only views are a vehicle crop with a legible plate (rendered by
    plates.synth, as the plate reader's own tests do) and its metadata; no plate read yet."""
    import datetime as dt

    import numpy as np

    from pipeline.evidence import encode_jpeg
    from pipeline.types import Violation
    from plates.synth import CameraLook, sample_plate
    from store.db import init_db, make_engine, session_factory
    from store.repository import CameraRecord, RunRecord, save_run, upsert_camera

    sample = sample_plate(np.random.default_rng(6), PLATE, "car", CameraLook(width_px=170.0), vehicle=True)
    files = (store.put(f"{vid}/vehicle.jpg", encode_jpeg(sample.image), "vehicle_crop"),
             store.put(f"{vid}/metadata.json", json.dumps({"violation_id": vid, "clip": None}).encode(), "metadata"))
    t = dt.datetime(2026, 5, 4, 8, 30, tzinfo=dt.timezone.utc)
    v = Violation(id=vid, type="speeding", camera_id="cam-f", track_id=3, class_name="car", first_frame=10, last_frame=60, at_frame=40,
                  first_time_utc=t.isoformat(), last_time_utc=t.isoformat(), speed_kmh=81.0, limit_kmh=60.0, signal_state=None,
                  measurements={"window_points": 30}, plate_text=None, plate_confidence=None, plate_status=None,
                  plate_country=None, plate_guess=None, evidence=files)
    engine = make_engine(db_url)
    init_db(engine)
    try:
        with session_factory(engine).begin() as s:
            upsert_camera(s, CameraRecord("cam-f", "Камера F", "cal-1", 60.0, "0" * 64))
            save_run(s, RunRecord("run-f", "cam-f", "/videos/f.mp4", "1" * 64, 100, 25.0, t, "test", "onnx:test"), [], [v])
    finally:
        engine.dispose()


def test_read_plate_from_s3_evidence_and_match_once_under_duplicates(tmp_path, broker, s3, monkeypatch):
    """read_plate fetches the vehicle crop from the S3 evidence store and reads the plate;
    match_registry (the worker's SAFECITY_REGISTRY_SPEC: no job named one) looks it up once.
    Each message sent three times: one does the work, the others skip; one match row, one
    personal-data access, one lookup attempt."""
    from registry_adapters.seed import seed_registry
    from store.evidence_backends import open_evidence_store
    from workers.app import create_app
    from workers.followups import plate_reader_version

    url = f"s3://{s3.new_bucket()}/ev"
    for name, value in s3.env(url).items():
        monkeypatch.setenv(name, value)
    registry_url = f"sqlite:///{tmp_path / 'registry.sqlite'}"
    seed_registry(registry_url, n=30, seed=2, include_plates=[PLATE.replace(" ", "")])
    monkeypatch.setenv("SAFECITY_REGISTRY_SPEC", f"sql:{registry_url}")
    db_url = f"sqlite:///{tmp_path / 'cases.sqlite'}"
    vid = "f0" * 16
    _store_violation(db_url, open_evidence_store(url), vid)
    app = create_app(_ctx(db_url, tmp_path, broker).settings)
    worker = start_worker(tmp_path, "w-plates", broker, db_url, queues="plates,registry")
    try:
        reads = [app.send_task("safecity.read_plate", args=[vid], queue="plates").get(timeout=180) for _ in range(3)]
        matches = [app.send_task("safecity.match_registry", args=[vid], queue="registry").get(timeout=120) for _ in range(3)]
    finally:
        kill_group(worker, 15)
    assert [r["status"] for r in reads] == ["done", "skipped", "skipped"] and {r["plate_status"] for r in reads} == {"read"}
    assert [m["status"] for m in matches] == ["done", "skipped", "skipped"] and {m["match_status"] for m in matches} == {"matched"}
    st = _state(db_url, "cam-f")
    assert st["plates"][vid] == ("read", PLATE.replace(" ", ""), None, plate_reader_version())
    assert st["matches"] == {vid: ("matched", PLATE.replace(" ", ""), 1)} and st["match_rows"] == 1
    assert st["entries"].get("pd_access") == 1


@pytest.mark.parametrize("spec", [
    "sql:postgresql+psycopg://registry:s3cret@db.example/registry",
    "http://user:s3cret@registry.example:8080",
])
def test_a_registry_spec_with_a_password_is_refused(spec):
    """The spec is kept in the job row and sent through the broker: a password in it is
    refused before anything is stored, and the message does not repeat it."""
    from workers.followups import check_registry_spec

    with pytest.raises(ValueError, match="carries a password") as err:
        check_registry_spec(spec)
    assert "s3cret" not in str(err.value)


@pytest.mark.parametrize("spec", ["sql:sqlite:///registry.sqlite", "sql:postgresql+psycopg://registry@db.example/registry",
                                  "http://registry.example:8080"])
def test_a_registry_spec_without_secrets_is_accepted(spec):
    from workers.followups import check_registry_spec

    assert check_registry_spec(spec) == spec

"""Evidence in S3 end to end: a real worker process puts a job's evidence into a real local
S3-compatible server (moto), the database rows carry the store keys, and the web app and
`safecity evidence verify` read it back through the store."""

from __future__ import annotations

import hashlib
import json
import os
import re

import pytest

from celery_helpers import OPTIONS, PLAN, SEAM_DETECTOR, kill_group, shared_clip, start_worker

PREFIX = "cases/bishkek"


def _evidence_rows(db_url: str, camera_id: str) -> dict[str, list[tuple[str, str, str]]]:
    """violation id -> [(kind, key, sha256)] as stored in the database."""
    from sqlalchemy import create_engine, select

    from store.schema import EvidenceRow, ViolationRow

    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(EvidenceRow.violation_id, EvidenceRow.kind, EvidenceRow.path, EvidenceRow.sha256)
                .join(ViolationRow, ViolationRow.id == EvidenceRow.violation_id).where(ViolationRow.camera_id == camera_id)
            ).all()
    finally:
        engine.dispose()
    out: dict[str, list[tuple[str, str, str]]] = {}
    for vid, kind, path, sha in rows:
        out.setdefault(vid, []).append((kind, path, sha))
    return out


def _login(client, username: str, password: str) -> None:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = client.post("/login", data={"username": username, "password": password, "csrf_token": token, "next": "/"})
    assert r.status_code == 303, r.text[:300]


def test_job_evidence_goes_to_s3_and_is_served_from_it(tmp_path, broker, s3, monkeypatch):
    """With SAFECITY_EVIDENCE_URL=s3://..., a worker puts every evidence file of a segmented job into the
    bucket (SHA-256 as stored in the database), writes no local evidence folder, and the web app
    and `safecity evidence verify` read the files through the store; a changed object is refused."""
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from safecity.cli import app as cli
    from web.app import create_app, dispose_app
    from web.auth import add_user
    from web.settings import load_settings
    from workers.app import create_app as celery_app
    from workers.jobs import SubmitRequest, WorkerContext, enqueue, submit_job, wait_for_job
    from workers.settings import load_settings as worker_settings

    bucket = s3.new_bucket()
    url = f"s3://{bucket}/{PREFIX}"
    for name, value in s3.env(url).items():
        monkeypatch.setenv(name, value)  # the submitter and the worker process (it inherits the environment)
    clip, _ = shared_clip()
    db_url = f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    local = tmp_path / "evidence"
    ctx = WorkerContext(worker_settings(broker_url=broker, db_url=db_url, evidence_root=local,
                                        key_prefix=os.environ["SAFECITY_BROKER_PREFIX"], **PLAN))
    job = submit_job(ctx, SubmitRequest(clip / "scene.mp4", clip / "camera.yaml", "cpu", SEAM_DETECTOR, None, False, OPTIONS))
    assert ctx.settings.evidence_location() == url and len(job.segment_ids) == 3
    worker = start_worker(tmp_path, "w-s3", broker, db_url)
    try:
        assert enqueue(celery_app(ctx.settings), ctx, job.job_id) == len(job.segment_ids)
        view = wait_for_job(ctx, job.job_id, timeout_s=400)
    finally:
        kill_group(worker, 15)
    assert view.status == "done", view.job["error"]
    assert view.job["evidence_root"] == url
    rows = _evidence_rows(db_url, "clip-day-s1")
    assert sorted(rows) == sorted(v["id"] for s in view.segments for v in s["result"]["violations"]) and rows
    assert all(s["status"] == "done" and s["run_id"] for s in view.segments)  # three segments, each stored its run
    client = s3.client()
    listed = {o["Key"] for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket) for o in page.get("Contents", [])}
    for vid, files in rows.items():
        kinds = {kind for kind, _, _ in files}
        assert {"clip", "frame_at", "metadata", "manifest"} <= kinds
        for kind, key, sha in files:
            assert key.startswith(f"{vid}/"), key  # a store key, not a local path
            body = client.get_object(Bucket=bucket, Key=f"{PREFIX}/{key}")
            data = body["Body"].read()
            assert hashlib.sha256(data).hexdigest() == sha == body["Metadata"]["sha256"]
        # Every object of the package is one of its rows: nothing stored beside them.
        assert sorted(k for k in listed if k.startswith(f"{PREFIX}/{vid}/")) == sorted(f"{PREFIX}/{key}" for _, key, _ in files)
    assert not local.exists(), "no evidence is left in the local folder"

    # `safecity evidence verify <violation id>` reads the package through the store.
    vid = sorted(rows)[0]
    runner = CliRunner()
    ok = runner.invoke(cli, ["evidence", "verify", vid])
    assert ok.exit_code == 0, ok.output
    assert f"OK {url}/{vid}" in ok.output and f"{len(rows[vid]) - 1} files" in ok.output  # the manifest lists all but itself
    client.put_object(Bucket=bucket, Key=f"{PREFIX}/{vid}/extra.jpg", Body=b"added later")
    added = runner.invoke(cli, ["evidence", "verify", vid])
    assert added.exit_code == 1 and "extra.jpg: not listed in any manifest" in added.output

    # The web app: the case page and every evidence file, read from the bucket and verified.
    from store.db import make_engine, session_factory

    engine = make_engine(db_url)
    with session_factory(engine).begin() as s:
        add_user(s, "ivanov", "reviewer", "Correct-horse-battery-42")
    engine.dispose()
    web = create_app(load_settings(db_url=db_url, cookie_secure=False))  # SAFECITY_EVIDENCE_URL from the environment
    try:
        with TestClient(web, follow_redirects=False) as browser:
            _login(browser, "ivanov", "Correct-horse-battery-42")
            page = browser.get(f"/cases/{vid}")
            assert page.status_code == 200 and f"/evidence/{vid}/frame_at" in page.text
            for kind, _, sha in rows[vid]:
                r = browser.get(f"/evidence/{vid}/{kind}")
                assert r.status_code == 200, (kind, r.text[:200])
                assert hashlib.sha256(r.content).hexdigest() == sha == r.headers["X-Evidence-SHA256"]
            # An object changed behind the store's back is refused, not served.
            at_key = next(key for kind, key, _ in rows[vid] if kind == "frame_at")
            client.put_object(Bucket=bucket, Key=f"{PREFIX}/{at_key}", Body=b"forged", Metadata={"sha256": "0" * 64})
            assert browser.get(f"/evidence/{vid}/frame_at").status_code == 409
    finally:
        dispose_app(web)


def test_safecity_process_puts_evidence_in_s3(tmp_path, s3, monkeypatch):
    """`safecity process` with SAFECITY_EVIDENCE_URL=s3://... stores every evidence file of
    violations.json in the bucket (SHA-256 as listed) and creates no local evidence folder."""
    from typer.testing import CliRunner

    from safecity.cli import app as cli

    bucket = s3.new_bucket()
    for name, value in s3.env(f"s3://{bucket}/{PREFIX}").items():
        monkeypatch.setenv(name, value)
    clip, _ = shared_clip()
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["process", str(clip / "scene.mp4"), "--camera", str(clip / "camera.yaml"), "--out", str(out),
                                      "--db", f"sqlite:///{tmp_path / 'p.sqlite'}", "--detector", "motion", "--no-plates", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "violations.json").read_text())
    files = [e for v in doc["violations"] for e in v["evidence"]]
    assert doc["violations"] and {e["kind"] for e in files} >= {"clip", "frame_at", "metadata", "manifest"}
    client = s3.client()
    for e in files:
        data = client.get_object(Bucket=bucket, Key=f"{PREFIX}/{e['path']}")["Body"].read()
        assert hashlib.sha256(data).hexdigest() == e["sha256"]
    assert not (out / "evidence").exists()

"""Every evidence package the workers and the eval suite store carries a signed manifest that
`safecity evidence verify` accepts, as `safecity process` does (real SQLite, in-process segments)."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

from typer.testing import CliRunner

from celery_helpers import OPTIONS, PLAN, SEAM_DETECTOR, shared_clip

from safecity.cli import app


def _verify_all(evidence: Path) -> list[dict]:
    """`safecity evidence verify --json` on every package under ``evidence``; the reports."""
    packages = sorted(p for p in evidence.iterdir() if p.is_dir())
    reports = []
    for package in packages:
        res = CliRunner().invoke(app, ["evidence", "verify", str(package), "--json"])
        assert res.exit_code == 0, (package.name, res.output)
        reports.append(json.loads(res.output))
    return reports


def _signed(package: Path) -> bool:
    doc = json.loads((package / "manifest.json").read_text())
    return isinstance(doc.get("signature"), str) and doc.get("signer", {}).get("role") == "info_provider"


def test_segmented_job_evidence_is_signed_and_verifies(tmp_path):
    """A job cut into several segments, each run as the process_segment task runs it: every stored
    package has a manifest signed by the worker home's info_provider key and passes verify."""
    from workers.jobs import SubmitRequest, WorkerContext, job_view, run_segment, submit_job
    from workers.settings import load_settings

    clip, _ = shared_clip()
    db_url = f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    evidence = tmp_path / "evidence"
    ctx = WorkerContext(load_settings(env={}, broker_url="redis://127.0.0.1:6379/11", db_url=db_url, evidence_root=evidence,
                                      key_prefix=os.environ.get("SAFECITY_BROKER_PREFIX", ""), **PLAN))
    try:
        job = submit_job(ctx, SubmitRequest(clip / "scene.mp4", clip / "camera.yaml", "cpu", SEAM_DETECTOR, None, False, OPTIONS))
        assert len(job.segment_ids) > 1, "the clip must be cut into segments"
        outcomes = [run_segment(ctx, sid, dt.datetime.now(dt.timezone.utc)) for sid in job.segment_ids]
        assert {o.status for o in outcomes} == {"done"}, [o.error for o in outcomes]
        assert job_view(ctx, job.job_id).status == "done"
    finally:
        ctx.close()
    packages = sorted(p for p in evidence.iterdir() if p.is_dir())
    assert packages, "the clip has violations: their evidence must be stored"
    assert all(_signed(p) for p in packages)
    reports = _verify_all(evidence)
    assert all(r["ok"] and not r["problems"] for r in reports)


def test_eval_suite_evidence_is_signed_and_verifies(tmp_path):
    """run_scenes signs each scene's evidence with the home's key; every package passes verify."""
    from evaluation.suite import run_scenes
    from safecity.composition import build_detector

    det, name = build_detector("motion", None)
    result = run_scenes([("default", 1)], tmp_path / "work", det, name)
    evidence = tmp_path / "work" / "default-s1" / "run" / "evidence"
    assert result.frames > 0
    packages = sorted(p for p in evidence.iterdir() if p.is_dir())
    assert packages, "the default scene has violations"
    assert all(_signed(p) for p in packages)
    assert all(r["ok"] for r in _verify_all(evidence))

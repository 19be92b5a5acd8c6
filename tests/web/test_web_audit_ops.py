"""Regulator pages and service-account API; operator pages; notices after a confirmation."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile

import cv2
import numpy as np
import pytest
from sqlalchemy import text, update

from exchange.log import checkpoint
from exchange.schema import ExchangePayloadRow
from web_testdata import login, session_csrf


def _open_and_confirm(client, seeded) -> str:
    login(client, "reviewer")
    vid = seeded.ids["confirm"]
    client.get(f"/cases/{vid}")
    assert client.post(f"/cases/{vid}/confirm", data={"csrf_token": session_csrf(client)}).status_code == 303
    return vid


def test_regulator_sees_a_verified_log_and_the_reviewers_accesses(client, seeded, clock):
    """After a review the log browser marks every entry verified, full verification passes, the
    access log names the reviewer, and a checkpoint shows with a valid signature."""
    vid = _open_and_confirm(client, seeded)
    with seeded.sessions.begin() as s:
        checkpoint(s, seeded.home, clock())
    login(client, "regulator")
    page = client.get("/audit/log")
    assert page.status_code == 200 and "decision" in page.text and "ошибка" not in page.text
    assert client.get("/api/audit/verify").json()["ok"] is True
    assert 'data-testid="verify-ok"' in client.get("/audit/verify").text
    access = client.get("/audit/access-log")
    assert "user:reviewer" in access.text and "01123ABC" in access.text
    cps = client.get("/audit/checkpoints")
    assert "верна" in cps.text and "НЕВЕРНА" not in cps.text
    case_only = client.get("/audit/log", params={"case": vid})
    assert case_only.status_code == 200 and "decision" in case_only.text
    assert client.get("/audit/log/1").status_code == 200 and client.get("/audit/log/999999").status_code == 404


def test_an_altered_payload_is_flagged(client, seeded):
    """Changing a stored payload behind the application's back fails verification at that entry."""
    login(client, "regulator")
    with seeded.sessions.begin() as s:  # an intruder with database access drops the guard first
        for (name,) in s.execute(text("SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name='exchange_payloads'")):
            s.execute(text(f'DROP TRIGGER "{name}"'))
        s.execute(update(ExchangePayloadRow).where(ExchangePayloadRow.entry_idx == 1).values(payload='{"case_id":"forged"}'))
    report = client.get("/api/audit/verify").json()
    assert report["ok"] is False and any(p["index"] == 1 for p in report["problems"])
    assert 'data-testid="verify-failed"' in client.get("/audit/verify").text


def test_export_bundle_verifies_offline(client, seeded, tmp_path):
    """The downloaded zip holds the bundle, and its own verify_bundle.py accepts it (exit 0)."""
    _open_and_confirm(client, seeded)
    login(client, "regulator")
    r = client.get("/audit/export.zip")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    zipfile.ZipFile(io.BytesIO(r.content)).extractall(tmp_path / "x")
    folder = tmp_path / "x" / "safecity-audit"
    assert {"entries.jsonl", "manifest.json", "verify_bundle.py", "roster.json"} <= {p.name for p in folder.iterdir()}
    done = subprocess.run([sys.executable, "verify_bundle.py"], cwd=folder, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_service_accounts_read_what_they_are_for(client, seeded):
    """The data holder lists personal-data accesses; the backup centre pulls the log from an index."""
    _open_and_confirm(client, seeded)
    login(client, "data_holder")
    accesses = client.get("/api/access-log").json()["accesses"]
    assert accesses and {a["actor"] for a in accesses} == {"user:reviewer"}
    login(client, "backup")
    head = client.get("/api/exchange/head").json()
    records = client.get("/api/exchange/records", params={"from_index": 2, "limit": 3}).json()["records"]
    assert [r["entry"]["index"] for r in records] == [2, 3, 4]
    assert head["index"] > 4 and len(head["chain_digest"]) == 64


def test_operator_sees_cameras_thumbnails_and_alerts(client, seeded):
    """Cameras list with their last run; the thumbnail is a 320 px JPEG; stale cameras alert."""
    login(client, "operator")
    page = client.get("/ops/cameras")
    assert page.status_code == 200 and "cam-a" in page.text and "cam-b" in page.text
    thumb = client.get("/ops/cameras/cam-a/thumbnail.jpg")
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    img = cv2.imdecode(np.frombuffer(thumb.content, np.uint8), cv2.IMREAD_COLOR)
    assert img.shape[1] == 320
    assert client.get("/ops/cameras/no-such/thumbnail.jpg").status_code == 404
    alerts = client.get("/ops/alerts").text
    assert "Камера cam-a: нет обработки" in alerts
    status = client.get("/api/ops/status").json()
    assert {c["id"] for c in status["cameras"]} == {"cam-a", "cam-b"} and all(c["stale"] for c in status["cameras"])


def test_operator_pages_without_redis_say_so(client, monkeypatch):
    """No coordination Redis configured: the pages say so instead of failing."""
    for name in ("SAFECITY_REDIS_URL", "SAFECITY_BROKER_URL"):
        monkeypatch.delenv(name, raising=False)
    login(client, "operator")
    for path in ("/ops/workers", "/ops/cameras"):
        r = client.get(path)
        assert r.status_code == 200 and "не настроен" in r.text
    assert client.get("/api/ops/status").json()["live"] is None


def test_operator_sees_live_status_from_the_real_redis(client, seeded, monkeypatch, tmp_path):
    """With the real Redis: queue depths from workers.status, a registered live camera that no
    worker holds, and that problem among the alerts."""
    redis = pytest.importorskip("redis")
    from workers.live_models import add_camera

    url = "redis://127.0.0.1:6379/13"
    r = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        r.ping()
    except Exception as exc:  # no server: nothing to test against
        pytest.skip(f"Redis not reachable at {url}: {type(exc).__name__}")
    prefix = f"webtest-{tmp_path.name}:"
    monkeypatch.setenv("SAFECITY_REDIS_URL", url)
    monkeypatch.delenv("SAFECITY_BROKER_URL", raising=False)
    monkeypatch.setenv("SAFECITY_KEY_PREFIX", prefix)
    config = tmp_path / "camera.yaml"
    config.write_text("id: live-1\n")
    with seeded.sessions.begin() as s:
        add_camera(s, "live-1", "rtsp://10.0.0.5/stream", str(config))
    r.delete("detect.cpu")
    r.rpush("detect.cpu", "a", "b", "c")
    try:
        login(client, "operator")
        assert "detect.cpu</td><td>3</td>" in client.get("/ops/workers").text
        cams = client.get("/ops/cameras").text
        assert 'data-testid="live-cameras"' in cams and "live-1" in cams and "unowned" in cams
        assert "live-1: enabled but no worker holds it" in client.get("/ops/alerts").text
        assert client.get("/api/ops/status").json()["live"]["queues"]["detect.cpu"] == 3
    finally:
        r.delete("detect.cpu")
        r.close()


def test_confirm_issues_the_notice_and_serves_its_pdf(client, seeded):
    """With the notices package present, confirming issues the notice; its PDF is served."""
    pytest.importorskip("notices.service")
    vid = _open_and_confirm(client, seeded)
    page = client.get(f"/cases/{vid}")
    assert 'data-testid="notice"' in page.text, page.text[-3000:]
    pdf = client.get(f"/cases/{vid}/notice.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert client.get(f"/cases/{seeded.ids['reject']}/notice.pdf").status_code == 404


def test_confirmed_unfinable_case_shows_why_no_notice(client, seeded):
    """A confirmed case marked for review gets no notice: the case page shows the recorded
    refusal, no PDF exists, and asking again answers 409 with the reason."""
    pytest.importorskip("notices.service")
    from store.schema import ViolationRow

    vid = seeded.ids["confirm"]
    with seeded.sessions.begin() as s:
        row = s.get(ViolationRow, vid)
        row.measurements = {**row.measurements, "review_reason": "vision-only signal phase"}
    _open_and_confirm(client, seeded)
    page = client.get(f"/cases/{vid}")
    assert 'data-testid="notice-refused"' in page.text and "vision-only signal phase" in page.text, page.text[-3000:]
    assert 'data-testid="notice"' not in page.text
    assert client.get(f"/cases/{vid}/notice.pdf").status_code == 404
    again = client.post(f"/cases/{vid}/notice", data={"csrf_token": session_csrf(client)}, headers={"accept": "application/json"})
    assert again.status_code == 409 and "не выдаётся: the measurement is marked for review" in again.json()["message"]

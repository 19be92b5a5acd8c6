"""Police review through the HTTP API: queue, case page, confirm, reject, plate correction, evidence."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import select

from exchange.access import list_pd_access
from exchange.cases import case_state
from exchange.schema import ExchangeEntryRow, ExchangePayloadRow
from registry_adapters.models import RegistryMatchRow
from web.models import PlateCorrectionRow
from web_testdata import CORRECTED, REGISTERED, login, session_csrf


def _reviewer(client, role="reviewer"):
    assert login(client, role).status_code == 303
    return session_csrf(client)


def test_queue_lists_open_cases_and_filters(client, seeded):
    """The queue shows the four undecided cases; camera, type, status and date filters narrow it."""
    _reviewer(client)
    ids = {i["id"] for i in client.get("/api/review").json()["items"]}
    assert ids == set(seeded.ids.values())
    cam_b = client.get("/api/review", params={"camera": "cam-b"}).json()["items"]
    assert {i["camera_id"] for i in cam_b} == {"cam-b"} and len(cam_b) == 2
    assert [i["id"] for i in client.get("/api/review", params={"type": "stop_line"}).json()["items"]] == [seeded.ids["unregistered"]]
    assert client.get("/api/review", params={"date_from": "2026-11-21"}).json()["items"] == []
    assert len(client.get("/api/review", params={"date_from": "2026-11-20", "date_to": "2026-11-20"}).json()["items"]) == 4
    assert client.get("/api/review", params={"status": "confirmed"}).json()["items"] == []
    bad = client.get("/api/review", params={"date_from": "20.11.2026"})
    assert bad.status_code == 422 and "date_from" in bad.json()["error"]
    page = client.get("/review", params={"camera": "cam-a"})
    assert page.status_code == 200 and seeded.ids["confirm"] in page.text and seeded.ids["reject"] not in page.text


def test_opening_a_case_logs_the_missing_steps_and_the_registry_access(client, seeded):
    """Opening a detected case logs plate_read, registry_matched, ready_for_review and a signed
    personal-data access naming the user and the purpose."""
    _reviewer(client)
    vid = seeded.ids["confirm"]
    doc = client.get(f"/api/cases/{vid}").json()
    assert doc["state"] == "ready_for_review"
    assert [h["state"] for h in doc["history"]] == ["detected", "plate_read", "registry_matched", "ready_for_review"]
    assert doc["registry"]["status"] == "exact" and doc["registry"]["vehicle"]["plate"] == REGISTERED
    with seeded.sessions() as s:
        accesses = [a for a in list_pd_access(s) if a.case_id == vid]
    assert accesses and all(a.actor == "user:reviewer" and a.role == "ais_user" and vid in a.purpose for a in accesses)
    page = client.get(f"/cases/{vid}")
    assert page.status_code == 200 and REGISTERED in page.text and "ожидает проверки" in page.text


def test_case_page_shows_the_signal_phase_and_why_a_person_must_decide(client, seeded):
    """The evidence metadata's signal phase interval and a not-finable reason are on the page."""
    _reviewer(client)
    page = client.get(f"/cases/{seeded.ids['unregistered']}").text
    assert 'data-testid="signal-phase"' in page and "2026-11-20T08:02:57.000" in page
    assert 'data-testid="not-finable"' in page and "vision and controller disagree" in page
    assert 'data-testid="not-finable"' not in client.get(f"/cases/{seeded.ids['confirm']}").text


def test_confirm_signs_a_decision_naming_the_officer(client, seeded):
    """Confirm moves the case to confirmed with a decision envelope from ais_user naming the officer."""
    csrf = _reviewer(client)
    vid = seeded.ids["confirm"]
    client.get(f"/cases/{vid}")
    r = client.post(f"/cases/{vid}/confirm", data={"csrf_token": csrf, "go_next": "1"})
    assert r.status_code == 303 and r.headers["location"] == f"/cases/{seeded.ids['unreadable']}"  # on to the next open case
    assert "?" not in r.headers["location"]  # outcome messages never ride in URLs (they reach access logs)
    with seeded.sessions() as s:
        assert case_state(s, vid) in ("confirmed", "notice_issued")
        row, payload = s.execute(
            select(ExchangeEntryRow, ExchangePayloadRow.payload).join(ExchangePayloadRow, ExchangePayloadRow.entry_idx == ExchangeEntryRow.idx)
            .where(ExchangeEntryRow.type == "decision")).one()
    doc = json.loads(payload)
    assert row.sender == "ais_user" and row.status == "accepted"
    assert doc["officer_id"] == "reviewer" and doc["to_state"] == "confirmed" and doc["details"]["plate"] == REGISTERED
    again = client.post(f"/cases/{vid}/confirm", data={"csrf_token": csrf})
    assert again.status_code == 303 and again.headers["location"] == f"/cases/{vid}"  # a decided case cannot be decided twice
    page = client.get(again.headers["location"])
    assert 'data-testid="flash-err"' in page.text and "невозможно" in page.text


def test_confirm_refuses_a_plate_the_registry_does_not_know(client, seeded):
    """A confidently read but unregistered plate cannot be confirmed; the lookup stays logged."""
    csrf = _reviewer(client)
    vid = seeded.ids["unregistered"]
    client.get(f"/cases/{vid}")
    with seeded.sessions() as s:
        before = len(list_pd_access(s))
    r = client.post(f"/cases/{vid}/confirm", data={"csrf_token": csrf}, headers={"accept": "application/json"})
    assert r.status_code == 409 and "не найден" in r.json()["message"]
    with seeded.sessions() as s:
        assert case_state(s, vid) == "ready_for_review"
        assert len(list_pd_access(s)) == before + 1


def test_unreadable_plate_is_corrected_then_confirmed(client, seeded):
    """An unreadable plate blocks confirmation; the correction is logged, keeps the old read,
    re-runs the registry match, and then the case confirms."""
    csrf = _reviewer(client)
    vid = seeded.ids["unreadable"]
    assert client.get(f"/api/cases/{vid}").json()["registry"]["status"] is None
    r = client.post(f"/cases/{vid}/confirm", data={"csrf_token": csrf}, headers={"accept": "application/json"})
    assert r.status_code == 409
    r = client.post(f"/cases/{vid}/plate", data={"csrf_token": csrf, "plate": "01 777 kga"})
    assert r.status_code == 303 and r.headers["location"] == f"/cases/{vid}"
    assert CORRECTED in client.get(r.headers["location"]).text.split('data-testid="flash-ok"')[1][:200]
    with seeded.sessions() as s:
        corr = s.scalars(select(PlateCorrectionRow).where(PlateCorrectionRow.violation_id == vid)).one()
        event = s.scalar(select(ExchangePayloadRow.payload).where(ExchangePayloadRow.entry_idx == corr.entry_idx))
    assert (corr.old_text, corr.old_status, corr.new_text, corr.lookup_status) == (None, "unreadable", CORRECTED, "matched")
    with seeded.sessions() as s:
        match = s.get(RegistryMatchRow, vid)
    assert (match.status, match.query_plate, match.vehicle_plate) == ("matched", CORRECTED, CORRECTED)
    assert json.loads(event)["event"] == "plate_corrected" and json.loads(event)["officer_id"] == "reviewer"
    assert client.get(f"/api/cases/{vid}").json()["registry"]["vehicle"]["plate"] == CORRECTED
    r = client.post(f"/cases/{vid}/confirm", data={"csrf_token": csrf}, headers={"accept": "application/json"})
    assert r.status_code == 200, r.text


def test_plate_correction_rejects_text_without_a_plate(client, seeded):
    """A correction with no letters or digits is refused with a message naming the input."""
    csrf = _reviewer(client)
    vid = seeded.ids["unreadable"]
    r = client.post(f"/cases/{vid}/plate", data={"csrf_token": csrf, "plate": "--- "}, headers={"accept": "application/json"})
    assert r.status_code == 409 and "---" in r.json()["message"]


def test_reject_needs_a_known_reason_and_a_comment_for_other(client, seeded):
    """Reject validates the reason code; 'other' needs a comment; a valid reject is logged."""
    csrf = _reviewer(client, "supervisor")
    vid = seeded.ids["reject"]
    client.get(f"/cases/{vid}")
    hdr = {"accept": "application/json"}
    assert client.post(f"/cases/{vid}/reject", data={"csrf_token": csrf, "reason_code": "bogus"}, headers=hdr).status_code == 409
    assert client.post(f"/cases/{vid}/reject", data={"csrf_token": csrf, "reason_code": "other"}, headers=hdr).status_code == 409
    r = client.post(f"/cases/{vid}/reject", data={"csrf_token": csrf, "reason_code": "emergency_vehicle", "comment": "скорая"}, headers=hdr)
    assert r.status_code == 200
    with seeded.sessions() as s:
        assert case_state(s, vid) == "rejected"
    decisions = client.get("/supervision")
    assert decisions.status_code == 200 and vid[:16] in decisions.text and "supervisor" in decisions.text


def test_evidence_is_served_by_id_and_kind_with_its_digest(client, seeded):
    """Evidence comes by (violation id, kind), byte-identical to the stored file, with its SHA-256."""
    _reviewer(client)
    vid = seeded.ids["confirm"]
    r = client.get(f"/evidence/{vid}/frame_at")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    data = (seeded.evidence_dir / vid / "at.jpg").read_bytes()
    assert r.content == data and r.headers["x-evidence-sha256"] == hashlib.sha256(data).hexdigest()
    assert client.get(f"/evidence/{vid}/clip").status_code == 404  # no clip stored for this case


def test_unknown_case_is_404(client):
    """An unknown violation id answers 404 on the page, the API and the actions."""
    csrf = _reviewer(client)
    assert client.get("/cases/nope").status_code == 404
    assert client.get("/api/cases/nope").status_code == 404
    assert client.post("/cases/nope/confirm", data={"csrf_token": csrf}).status_code == 404


def test_review_flow_on_each_backend(db_url, tmp_path, clock):
    """Open, correct, confirm and reject, then verify the log, on SQLite and on PostgreSQL."""
    from fastapi.testclient import TestClient

    from web.app import create_app, dispose_app
    from web.settings import load_settings
    from web_testdata import seed

    site = seed(tmp_path, db_url)
    app = create_app(load_settings(db_url=site.db_url, home=site.home.path, evidence_dirs=(site.evidence_dir,),
                                   registry_url=site.registry_url, cookie_secure=False), clock=clock)
    try:
        with TestClient(app, follow_redirects=False) as c:
            csrf = _reviewer(c)
            hdr = {"accept": "application/json"}
            for key in site.ids:
                assert c.get(f"/api/cases/{site.ids[key]}").json()["state"] == "ready_for_review"
            assert c.post(f"/cases/{site.ids['confirm']}/confirm", data={"csrf_token": csrf}, headers=hdr).status_code == 200
            assert c.post(f"/cases/{site.ids['unreadable']}/plate", data={"csrf_token": csrf, "plate": CORRECTED}, headers=hdr).status_code == 200
            assert c.post(f"/cases/{site.ids['unreadable']}/confirm", data={"csrf_token": csrf}, headers=hdr).status_code == 200
            assert c.post(f"/cases/{site.ids['reject']}/reject", data={"csrf_token": csrf, "reason_code": "duplicate"}, headers=hdr).status_code == 200
            assert login(c, "regulator").status_code == 303
            report = c.get("/api/audit/verify").json()
        assert report["ok"] is True, report["problems"]
        with site.sessions() as s:
            states = {k: case_state(s, v) for k, v in site.ids.items()}
        assert states["reject"] == "rejected" and states["unregistered"] == "ready_for_review"
        assert states["confirm"] in ("confirmed", "notice_issued") and states["unreadable"] in ("confirmed", "notice_issued")
    finally:
        dispose_app(app)
        site.sessions.kw["bind"].dispose()


def test_case_page_says_where_the_track_was_repaired(client, seeded):
    """A violation on a stitched or split track (pipeline/track_repair.py) shows the reviewer the
    repair note, so a person checks on the frames that it is one vehicle; other cases do not."""
    from store.schema import ViolationRow

    vid = seeded.ids["confirm"]
    note = "stitched: not seen in frames 128-134 (7 frames); track 6 after the gap is this vehicle by road position and speed"
    with seeded.sessions.begin() as s:
        row = s.get(ViolationRow, vid)
        row.measurements = {**row.measurements, "track_repair": note}
    _reviewer(client)
    page = client.get(f"/cases/{vid}").text
    assert 'data-testid="track-repair"' in page and "not seen in frames 128-134" in page
    assert 'data-testid="track-repair"' not in client.get(f"/cases/{seeded.ids['unregistered']}").text

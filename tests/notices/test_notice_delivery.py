"""Delivery: the outbox folder (write-once, atomic) and the state-portal API over real HTTP,
including failures (500, timeout, malformed answer) after which the notice stays pending."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse

from notices.deliver import backoff_s, deliver_due, requeue
from notices.delivery import OutgoingNotice, create_adapter
from notices.delivery.outbox import OutboxAdapter
from notices.delivery.portal import PortalAdapter
from notices.errors import DeliveryPermanentError, DeliveryTransientError
from notices.models import NoticeRow
from notices.portal_service import create_portal_app
from notices.service import get_notice, issue_notice
from notice_testdata import DECIDED_AT, OWNER_REF, PLATE, ServerThread, build_case
from registry_adapters.resilience import RetryPolicy

KEY = "portal-test-key"
NOW = DECIDED_AT + dt.timedelta(minutes=1)


def _issued(tmp_path, url=None):
    case = build_case(tmp_path, url or f"sqlite:///{tmp_path / 'db.sqlite'}")
    with case.sessions.begin() as s:
        rec = issue_notice(s, case.violation_id, decided_by="officer-17", decided_at=DECIDED_AT, home=case.home,
                           evidence_root=case.evidence_root, store_dir=case.store_dir)
    return case, rec


def _row(case, nid):
    with case.sessions() as s:
        row = s.get(NoticeRow, nid)
        return row, [(a.attempt, a.outcome, a.error) for a in row.attempts]


class FaultyPortal:
    """The reference portal app behind a switch that injects failures in front of it."""

    def __init__(self, timeout_sleep_s: float = 1.0) -> None:
        self.portal = create_portal_app(KEY)
        self.faults: list[str] = []  # consumed one per request: "500", "slow", "malformed", "422"
        self.requests: list[str] = []  # Idempotency-Key of each request
        self.sleep_s = timeout_sleep_s
        outer = FastAPI()

        @outer.middleware("http")
        async def inject(request: Request, call_next):  # noqa: ANN001, ANN202
            self.requests.append(request.headers.get("Idempotency-Key", ""))
            fault = self.faults.pop(0) if self.faults else None
            if fault == "500":
                return PlainTextResponse("internal error", status_code=500)
            if fault == "malformed":
                await call_next(request)  # the portal DID store it; the answer is garbled
                return PlainTextResponse("<html>gateway</html>", status_code=200)
            if fault == "slow":
                await asyncio.sleep(self.sleep_s)
            return await call_next(request)

        outer.mount("/", self.portal)
        self.app = outer

    @property
    def stored(self) -> dict:
        return self.portal.state.notices


def _portal_adapter(url, attempts=1, timeout_s=2.0, key=KEY):
    return PortalAdapter(url, key, timeout_s=timeout_s, retry=RetryPolicy(attempts, 0.01, 0.02), sleep=lambda s: None)


def test_outbox_writes_pdf_and_manifest_once(tmp_path):
    """deliver_due puts the PDF and its manifest in the outbox and marks the notice delivered; a second run sends nothing."""
    case, rec = _issued(tmp_path)
    outbox = OutboxAdapter(tmp_path / "outbox", clock=lambda: NOW)
    run = deliver_due(case.sessions, outbox, store_dir=case.store_dir, now=NOW)
    assert run.delivered == [rec.id]
    pdf = (tmp_path / "outbox" / f"{rec.number}.pdf").read_bytes()
    manifest = json.loads((tmp_path / "outbox" / f"{rec.number}.json").read_text())
    assert hashlib.sha256(pdf).hexdigest() == rec.pdf_sha256 == manifest["pdf_sha256"]
    assert (manifest["plate"], manifest["owner_ref"], manifest["amount"], manifest["payment_reference"]) == (
        PLATE, OWNER_REF, 7500, rec.payment_reference)
    row, attempts = _row(case, rec.id)
    assert (row.delivery_status, row.delivery_receipt, attempts) == ("delivered", f"outbox:{rec.number}", [(1, "delivered", None)])
    assert deliver_due(case.sessions, outbox, store_dir=case.store_dir, now=NOW + dt.timedelta(days=1)).to_dict()["delivered"] == 0
    assert not [p for p in (tmp_path / "outbox").iterdir() if p.name.startswith(".tmp-")]


def test_outbox_never_replaces_a_different_file(tmp_path):
    """Re-delivering identical bytes succeeds; other bytes under the same name are refused and the file kept."""
    outbox = OutboxAdapter(tmp_path / "outbox")
    pdf = b"%PDF-1.4 test"
    n = OutgoingNotice("n1", "2026-0000009", "v1", PLATE, "RF18539007547034", 1000, 500, "KGS", dt.date(2026, 12, 1),
                       DECIDED_AT, pdf, hashlib.sha256(pdf).hexdigest())
    assert outbox.deliver(n).receipt == "outbox:2026-0000009"
    assert outbox.deliver(n).receipt == "outbox:2026-0000009"
    other = b"%PDF-1.4 other"
    with pytest.raises(DeliveryPermanentError, match="exists with other content"):
        outbox.deliver(OutgoingNotice(**{**n.__dict__, "pdf": other, "pdf_sha256": hashlib.sha256(other).hexdigest()}))
    assert (tmp_path / "outbox" / "2026-0000009.pdf").read_bytes() == pdf


def test_outbox_write_failure_keeps_the_notice_pending(tmp_path):
    """An outbox that cannot be written (a file where the folder should be) leaves the notice pending with the reason."""
    case, rec = _issued(tmp_path)
    blocker = tmp_path / "outbox"
    blocker.write_text("not a folder")
    run = deliver_due(case.sessions, OutboxAdapter(blocker), store_dir=case.store_dir, now=NOW, retry_base_s=60)
    assert run.retry_later == [rec.id]
    row, attempts = _row(case, rec.id)
    assert row.delivery_status == "pending" and attempts[0][1] == "transient_error" and "cannot write" in row.last_error


def test_portal_delivers_with_idempotency_key(tmp_path, db_url):
    """The portal adapter posts the notice over HTTP; the portal holds the exact PDF; the receipt is recorded."""
    case, rec = _issued(tmp_path, db_url)
    portal = FaultyPortal()
    with ServerThread(portal.app) as server:
        run = deliver_due(case.sessions, _portal_adapter(server.url), store_dir=case.store_dir, now=NOW)
    assert run.delivered == [rec.id] and portal.requests == [rec.id]
    receipt, pdf, body = portal.stored[rec.id]
    assert hashlib.sha256(pdf).hexdigest() == rec.pdf_sha256
    assert (body["plate"], body["owner_ref"], body["amount"], body["number"]) == (PLATE, OWNER_REF, 7500, rec.number)
    row, _ = _row(case, rec.id)
    assert (row.delivery_status, row.delivery_receipt, row.delivery_adapter) == ("delivered", receipt.receipt_id, "portal")


def test_portal_500s_are_retried_within_one_delivery(tmp_path):
    """Two 500 answers then success: one delivery call with three tries delivers."""
    case, rec = _issued(tmp_path)
    portal = FaultyPortal()
    portal.faults = ["500", "500"]
    with ServerThread(portal.app) as server:
        run = deliver_due(case.sessions, _portal_adapter(server.url, attempts=3), store_dir=case.store_dir, now=NOW)
    assert run.delivered == [rec.id] and portal.requests == [rec.id] * 3


@pytest.mark.parametrize(("fault", "error"), [("500", "HTTP 500"), ("slow", "timeout"), ("malformed", "malformed")])
def test_portal_failure_keeps_notice_pending_then_retries(tmp_path, fault, error):
    """After a 500, a timeout or a malformed answer the notice stays pending with backoff; the next due run delivers it once."""
    case, rec = _issued(tmp_path)
    portal = FaultyPortal(timeout_sleep_s=1.5)
    portal.faults = [fault]
    with ServerThread(portal.app) as server:
        adapter = _portal_adapter(server.url, attempts=1, timeout_s=0.5)
        run = deliver_due(case.sessions, adapter, store_dir=case.store_dir, now=NOW, retry_base_s=60, retry_max_s=3600)
        assert run.retry_later == [rec.id]
        row, attempts = _row(case, rec.id)
        assert row.delivery_status == "pending" and attempts == [(1, "transient_error", row.last_error)]
        assert error in row.last_error and PLATE not in row.last_error
        assert row.next_attempt_at.replace(tzinfo=dt.timezone.utc) == NOW + dt.timedelta(seconds=60)
        # not due yet: nothing is sent
        assert deliver_due(case.sessions, adapter, store_dir=case.store_dir, now=NOW + dt.timedelta(seconds=59)).to_dict()["retry_later"] == 0
        run = deliver_due(case.sessions, adapter, store_dir=case.store_dir, now=NOW + dt.timedelta(seconds=60))
        if fault == "slow":
            import time

            time.sleep(1.2)  # let the server finish the slow request before it stops
    assert run.delivered == [rec.id]
    assert list(portal.stored) == [rec.id]  # at most one notice at the portal, whatever it saw
    row, attempts = _row(case, rec.id)
    assert [a[1] for a in attempts] == ["transient_error", "delivered"] and row.delivery_status == "delivered"


def test_backoff_doubles_and_is_capped(tmp_path):
    """Each failed run doubles the wait before the next, up to the cap."""
    assert [backoff_s(n, 60, 300) for n in (1, 2, 3, 4, 5)] == [60, 120, 240, 300, 300]
    case, rec = _issued(tmp_path)
    portal = FaultyPortal()
    portal.faults = ["500", "500"]
    with ServerThread(portal.app) as server:
        adapter = _portal_adapter(server.url)
        deliver_due(case.sessions, adapter, store_dir=case.store_dir, now=NOW, retry_base_s=60)
        deliver_due(case.sessions, adapter, store_dir=case.store_dir, now=NOW + dt.timedelta(seconds=60), retry_base_s=60)
    row, attempts = _row(case, rec.id)
    assert len(attempts) == 2 and row.next_attempt_at.replace(tzinfo=dt.timezone.utc) == NOW + dt.timedelta(seconds=180)


@pytest.mark.parametrize(("key", "status"), [("wrong-key", "401")])
def test_portal_refusal_needs_a_person_and_can_be_requeued(tmp_path, key, status):
    """A 4xx refusal moves the notice to needs_attention (kept, with the reason); requeue puts it back to pending."""
    case, rec = _issued(tmp_path)
    portal = FaultyPortal()
    with ServerThread(portal.app) as server:
        run = deliver_due(case.sessions, _portal_adapter(server.url, key=key), store_dir=case.store_dir, now=NOW)
        assert run.needs_attention == [rec.id]
        row, _ = _row(case, rec.id)
        assert row.delivery_status == "needs_attention" and f"HTTP {status}" in row.last_error
        with case.sessions.begin() as s:
            requeue(s, rec.id, NOW)
        run = deliver_due(case.sessions, _portal_adapter(server.url), store_dir=case.store_dir, now=NOW)
    assert run.delivered == [rec.id]
    with case.sessions() as s:
        assert get_notice(s, rec.id).delivery_status == "delivered"


def test_portal_unreachable_is_transient():
    """A portal nobody listens on raises a transient error (the notice would stay pending)."""
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    pdf = b"%PDF-1.4 x"
    n = OutgoingNotice("n1", "2026-0000009", "v1", PLATE, "RF18539007547034", 1000, 500, "KGS", dt.date(2026, 12, 1),
                       DECIDED_AT, pdf, hashlib.sha256(pdf).hexdigest())
    with pytest.raises(DeliveryTransientError, match="unreachable"):
        _portal_adapter(f"http://127.0.0.1:{port}", attempts=2).deliver(n)


def test_adapter_registry_names_the_choices(tmp_path, monkeypatch):
    """Adapters are created by name; a wrong name lists the valid ones; the portal needs its API key."""
    assert create_adapter("outbox", home_dir=tmp_path).folder == tmp_path / "outbox"
    with pytest.raises(ValueError, match="did you mean 'portal'"):
        create_adapter("portl", home_dir=tmp_path)
    monkeypatch.delenv("SAFECITY_PORTAL_API_KEY", raising=False)
    with pytest.raises(ValueError, match="SAFECITY_PORTAL_API_KEY"):
        create_adapter("portal", home_dir=tmp_path)
    monkeypatch.setenv("SAFECITY_PORTAL_API_KEY", "k")
    assert create_adapter("portal", home_dir=tmp_path).base_url == "http://127.0.0.1:8090"


@pytest.mark.postgres
def test_two_delivery_runs_at_once_record_one_delivery(tmp_path, db_url):
    """Two workers delivering the same due notice at once: both may send (idempotent), one attempt is recorded, no error."""
    import threading

    if not db_url.startswith("postgresql"):
        pytest.skip("two concurrent writers is a PostgreSQL matter (SQLite has one writer)")
    case, rec = _issued(tmp_path, db_url)
    start, results, errors = threading.Barrier(2), [], []

    def worker():
        try:
            start.wait()
            results.append(deliver_due(case.sessions, OutboxAdapter(tmp_path / "outbox"), store_dir=case.store_dir, now=NOW))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    row, attempts = _row(case, rec.id)
    assert row.delivery_status == "delivered" and [a[:2] for a in attempts] == [(1, "delivered")]
    assert sum(len(r.delivered) for r in results) == 1

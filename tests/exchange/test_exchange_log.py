"""The exchange log on SQLite and PostgreSQL: receipts, rejections, triggers, retention, flows."""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from exchange_helpers import PLATE, at, candidates, populate
from exchange.access import list_pd_access, record_pd_access
from exchange.audit import verify_database
from exchange.cases import advance_case, case_state
from exchange.errors import IllegalTransitionError
from exchange.flow import candidate_from_violation, record_candidates
from exchange.log import checkpoint, list_checkpoints, send
from exchange.retention import purge_entry, purge_expired
from exchange.schema import ExchangeEntryRow, ExchangePayloadRow, ExchangeTombstoneRow


def _verify(sessions, home):
    with sessions() as s:
        return verify_database(s, home.roster.to_doc())


def test_populated_log_verifies(sessions, home):
    """A realistic log (lifecycle, accesses, a forged and a replayed envelope) verifies clean."""
    populate(sessions, home)
    report = _verify(sessions, home)
    assert report.ok, report.problems
    assert report.entries > 20 and report.checkpoints >= 3
    with sessions() as s:
        rejected = s.execute(select(ExchangeEntryRow.idx, ExchangeEntryRow.reason).where(ExchangeEntryRow.status == "rejected")).all()
    reasons = [r for _, r in rejected]
    assert len(reasons) == 2
    assert reasons[0].startswith("bad_signature") and reasons[1].startswith("replay")


def test_every_envelope_gets_a_signed_receipt(sessions, home):
    """Each envelope is followed by its receiver's receipt naming the envelope id, digest and status."""
    with sessions.begin() as s:
        d = send(s, home, sender="ais_owner", receiver="data_holder", type="registry_query", payload={"plate": PLATE}, at=at(0))
    assert d.accepted and d.receipt.index == d.entry.index + 1
    r = d.receipt.envelope
    assert (r.type, r.sender, r.receiver) == ("receipt", "data_holder", "ais_owner")
    assert r.payload["envelope_id"] == d.envelope.id and r.payload["payload_sha256"] == d.envelope.payload_sha256
    assert r.payload["status"] == "accepted" and r.payload["entry_sha256"] == d.entry.entry_sha256


@pytest.mark.parametrize("op", ["UPDATE exchange_entries SET status = 'accepted'", "DELETE FROM exchange_entries",
                                "UPDATE exchange_payloads SET payload = '{}'", "DELETE FROM exchange_payloads",
                                "UPDATE exchange_checkpoints SET seq = 9", "DELETE FROM exchange_checkpoints"])
def test_append_only_trigger_refuses_changes(sessions, home, log_engine, op):
    """UPDATE and DELETE are refused by the database itself (payloads only after a tombstone)."""
    with sessions.begin() as s:
        send(s, home, sender="info_provider", receiver="ais_owner", type="case_event", payload={"n": 1}, at=at(0))
        checkpoint(s, home, at(1))
    with pytest.raises(DBAPIError, match="append-only|tombstone"):
        with log_engine.begin() as conn:
            conn.execute(text(op))
    assert _verify(sessions, home).ok


def test_truncate_refused_on_postgres(sessions, home, log_engine):
    """TRUNCATE is refused too where the backend has it."""
    if log_engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    with pytest.raises(DBAPIError, match="append-only"):
        with log_engine.begin() as conn:
            conn.execute(text("TRUNCATE exchange_entries CASCADE"))


def test_purge_leaves_tombstone_and_verifiable_chain(sessions, home):
    """Retention removes personal payloads for good; a signed tombstone stays and the log verifies."""
    populate(sessions, home)
    with sessions.begin() as s:
        purged = purge_expired(s, home, at(400 * 86400))
    assert purged
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(ExchangeTombstoneRow)) == len(purged)
        left = s.scalars(select(ExchangePayloadRow.payload).where(ExchangePayloadRow.entry_idx.in_(purged))).all()
        assert left == []
        texts = " ".join(s.scalars(select(ExchangePayloadRow.payload)).all())
        assert PLATE not in texts  # receipts and manifests never held the plate
        assert [a.plate for a in list_pd_access(s)] == [None, None]
    report = _verify(sessions, home)
    assert report.ok and report.tombstones == len(purged), report.problems
    with sessions.begin() as s, pytest.raises(ValueError, match="already purged"):
        purge_entry(s, home, purged[0], "again", at(1))


def test_nothing_expires_before_retention(sessions, home):
    """Payloads younger than the retention period stay."""
    populate(sessions, home)
    with sessions.begin() as s:
        assert purge_expired(s, home, at(3600)) == []


def test_record_candidates_is_idempotent(sessions, home):
    """Candidates are logged once with the owner's receipt; a re-run of the video adds nothing."""
    with sessions.begin() as s:
        first = record_candidates(s, home, "cam-1", "run-1", candidates(2), at(0))
    with sessions.begin() as s:
        again = record_candidates(s, home, "cam-1", "run-1", candidates(2), at(5))
    assert [e.type for e in first] == ["candidate", "receipt", "candidate", "receipt"] and again == []
    assert first[0].sender == "info_provider" and first[1].sender == "ais_owner"
    assert first[0].payload["details"]["evidence"] == [{"path": "v0/at.jpg", "sha256": f"{0:064x}"}]
    with sessions() as s:
        assert case_state(s, "v" + "0" * 31) == "detected"


def test_record_candidates_rejects_foreign_camera(sessions, home):
    """A candidate from another camera than the run's is an input error."""
    with sessions.begin() as s, pytest.raises(ValueError, match="cam-2"):
        record_candidates(s, home, "cam-1", "run-1", candidates(1, camera_id="cam-2"), at(0))


def test_candidate_from_pipeline_violation():
    """A pipeline Violation converts to a manifest with its evidence digests."""
    from pipeline.types import EvidenceFile, Violation

    v = Violation(
        id="w" * 32, type="red_light", camera_id="cam-1", track_id=3, class_name="car", first_frame=1, last_frame=9,
        at_frame=4, first_time_utc="2026-11-20T08:00:00.400+00:00", last_time_utc="2026-11-20T08:00:01.000+00:00",
        speed_kmh=None, limit_kmh=None, signal_state="red", measurements={}, evidence=(EvidenceFile("frame_at", "w/at.jpg", "b" * 64),),
    )
    m = candidate_from_violation(v)
    assert m.evidence == (("w/at.jpg", "b" * 64),) and m.details("r")["first_time_utc"] == "2026-11-20T08:00:00.400000Z"


def test_case_lifecycle_in_the_log(sessions, home):
    """Transitions are envelopes from the right roles; the decision is signed by police with the officer id."""
    populate(sessions, home, n_candidates=1)
    case = "v" + "0" * 31
    with sessions() as s:
        assert case_state(s, case) == "notice_issued"
        rows = s.execute(select(ExchangeEntryRow, ExchangePayloadRow.payload).join(ExchangePayloadRow).where(ExchangeEntryRow.type == "decision")).all()
    ((row, payload),) = rows
    assert row.sender == "ais_user" and json.loads(payload)["officer_id"] == "officer-17"
    with sessions.begin() as s:
        advance_case(s, home, case, "paid", at(100))
        advance_case(s, home, case, "closed", at(101))
    with sessions.begin() as s, pytest.raises(IllegalTransitionError) as info:
        advance_case(s, home, case, "confirmed", at(102), officer_id="officer-17")
    assert (info.value.case_id, info.value.from_state, info.value.to_state) == (case, "closed", "confirmed")
    assert _verify(sessions, home).ok


def test_decision_needs_officer(sessions, home):
    """Confirming without an officer id is refused before anything is logged."""
    with sessions.begin() as s:
        record_candidates(s, home, "cam-1", "run-1", candidates(1), at(0))
        for state in ("plate_read", "registry_matched", "ready_for_review"):
            advance_case(s, home, "v" + "0" * 31, state, at(1))
        with pytest.raises(ValueError, match="officer"):
            advance_case(s, home, "v" + "0" * 31, "confirmed", at(2))


def test_pd_access_listed_and_plates_stay_out_of_app_logs(sessions, home, caplog):
    """Accesses list who, when, which plate and why; application logs never show the plate."""
    caplog.set_level(logging.DEBUG)
    populate(sessions, home)
    with sessions.begin() as s:
        record_pd_access(s, home, "officer-9", "ais_user", "citizen enquiry", "08 777 KGZ", at=at(50))
    with sessions() as s:
        rows = list_pd_access(s)
    assert [(r.actor, r.role, r.plate, r.purpose) for r in rows][-1] == ("officer-9", "ais_user", "08 777 KGZ", "citizen enquiry")
    assert rows[0].plate == PLATE and rows[0].case_id == "v" + "0" * 31 and rows[0].accessed_at == "2026-11-20T08:00:12.000000Z"
    assert PLATE not in caplog.text and "08 777 KGZ" not in caplog.text and "exchange envelope=" in caplog.text


def test_pd_access_validates_input(sessions, home):
    """An access without a purpose is refused."""
    with sessions.begin() as s, pytest.raises(ValueError, match="purpose"):
        record_pd_access(s, home, "officer-9", "ais_user", " ", PLATE, at=at(0))


def test_checkpoints_every_n_entries(sessions, home):
    """A signed checkpoint is written after every N entries (N = 8 in the test home)."""
    with sessions.begin() as s:
        for i in range(8):
            send(s, home, sender="info_provider", receiver="ais_owner", type="case_event", payload={"i": i}, at=at(i))
    with sessions() as s:
        assert [c.entry_index for c in list_checkpoints(s)] == [8, 16]

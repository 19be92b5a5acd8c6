"""Tampering with the stored log (raw SQL, triggers dropped) is detected and the first bad entry named."""

from __future__ import annotations

import functools
import json

import pytest
from sqlalchemy import select, text

from exchange.audit import verify_database
from exchange.envelope import build_envelope, envelope_from_header, utc_text
from exchange.log import log_head, next_seq
from exchange.records import entry_doc
from exchange.schema import ExchangeEntryRow, ExchangePayloadRow
from exchange.verifier import chain_next, entry_digest, judge
from exchange_helpers import at, populate, tamper

ENTRY_COLUMNS = [
    "recorded_at", "status", "reason", "envelope_id", "seq", "sender", "receiver", "type", "created_at",
    "payload_sha256", "prev_digest", "signature", "stored_payload_sha256", "entry_sha256", "chain_digest",
]


def _changed(value):
    """A different value of the same kind (the smallest plausible edit)."""
    if value is None:
        return "edited"
    if isinstance(value, int):
        return value + 1
    if value in ("accepted", "rejected"):
        return "rejected" if value == "accepted" else "accepted"
    if value in ("ais_owner", "ais_user"):
        return "ais_user" if value == "ais_owner" else "ais_owner"
    if value == "receipt":
        return "notice"
    if value[:1].isdigit() and value[-1:] == "Z":  # a time
        return value[:-2] + ("1" if value[-2] != "1" else "2") + "Z"
    last = value[-1]
    return value[:-1] + ("0" if last != "0" else "1")


def _report(sessions, home):
    with sessions() as s:
        return verify_database(s, home.roster.to_doc())


@pytest.fixture
def log(sessions, home):
    populate(sessions, home)
    assert _report(sessions, home).ok
    with sessions() as s:
        n = log_head(s).index
    return n


@pytest.mark.parametrize("column", ENTRY_COLUMNS)
def test_changing_any_entry_field_is_detected(sessions, home, log_engine, log, column):
    """Any single column of the first, a middle and the last entry changed: verification names that entry."""
    for idx in (1, log // 2, log):
        with sessions() as s:
            original = s.execute(text(f"SELECT {column} FROM exchange_entries WHERE idx = :i"), {"i": idx}).scalar()
        tamper(log_engine, f"UPDATE exchange_entries SET {column} = :v WHERE idx = :i", params={"v": _changed(original), "i": idx})
        report = _report(sessions, home)
        assert not report.ok and report.first.index == idx, (column, idx, report.problems[:3])
        tamper(log_engine, f"UPDATE exchange_entries SET {column} = :v WHERE idx = :i", params={"v": original, "i": idx})
    assert _report(sessions, home).ok


def test_changing_a_payload_is_detected(sessions, home, log_engine, log):
    """An edited payload (the plate of a pd_access entry) no longer matches its digest."""
    with sessions() as s:
        idx, payload = s.execute(
            select(ExchangePayloadRow.entry_idx, ExchangePayloadRow.payload).join(ExchangeEntryRow).where(ExchangeEntryRow.type == "pd_access").limit(1)
        ).one()
    tamper(log_engine, "UPDATE exchange_payloads SET payload = :p WHERE entry_idx = :i", params={"p": payload.replace("01 123 ABC", "01 123 ABD"), "i": idx})
    report = _report(sessions, home)
    assert report.first.index == idx and report.first.code == "payload_digest_mismatch"


def test_reformatted_payload_text_is_detected(sessions, home, log_engine, log):
    """Even a same-value edit (added whitespace) of stored payload text is reported."""
    with sessions() as s:
        payload = s.scalar(select(ExchangePayloadRow.payload).where(ExchangePayloadRow.entry_idx == 3))
    tamper(log_engine, "UPDATE exchange_payloads SET payload = :p WHERE entry_idx = 3", params={"p": payload.replace(",", ", ", 1)})
    report = _report(sessions, home)
    assert [(p.index, p.code) for p in report.problems] == [(3, "non_canonical_payload")]


@pytest.mark.parametrize("victim", ["first", "middle", "last"])
def test_deleting_an_entry_is_detected(sessions, home, log_engine, log, victim):
    """A deleted entry leaves an index gap (or, at the end, a checkpoint beyond the log)."""
    idx = {"first": 1, "middle": log // 2, "last": log}[victim]
    tamper(
        log_engine,
        f"DELETE FROM exchange_case_states WHERE entry_idx = {idx}",
        f"DELETE FROM exchange_payloads WHERE entry_idx = {idx}",
        f"DELETE FROM exchange_entries WHERE idx = {idx}",
    )
    report = _report(sessions, home)
    assert not report.ok
    codes = {p.code for p in report.problems}
    if victim == "last":
        assert "checkpoint_beyond_log" in codes and "missing_receipt" in codes
    else:
        assert report.first.index == idx and report.first.code == "index_gap"


def test_reordering_two_entries_is_detected(sessions, home, log_engine, log):
    """Swapping two neighbouring entries breaks the chain at the first of them."""
    k = log // 2
    tamper(
        log_engine,
        f"UPDATE exchange_payloads SET entry_idx = -1 WHERE entry_idx = {k}",
        f"UPDATE exchange_entries SET idx = -1 WHERE idx = {k}",
        f"UPDATE exchange_payloads SET entry_idx = {k} WHERE entry_idx = {k + 1}",
        f"UPDATE exchange_entries SET idx = {k} WHERE idx = {k + 1}",
        f"UPDATE exchange_payloads SET entry_idx = {k + 1} WHERE entry_idx = -1",
        f"UPDATE exchange_entries SET idx = {k + 1} WHERE idx = -1",
    )
    report = _report(sessions, home)
    assert not report.ok and report.first.index == k


def _rechain(sessions, log_engine, start: int) -> None:
    """What an attacker with database access but no keys can do: recompute every digest from ``start`` on."""
    with sessions() as s:
        rows = s.scalars(select(ExchangeEntryRow).where(ExchangeEntryRow.idx >= start - 1).order_by(ExchangeEntryRow.idx)).all()
        prev = rows[0].chain_digest if start > 1 else "00" * 32
        updates = []
        for row in rows if start == 1 else rows[1:]:
            doc = entry_doc(row)
            digest = entry_digest(doc)
            prev = chain_next(prev, digest)
            updates.append((row.idx, digest, prev))
    for idx, digest, chain in updates:
        tamper(log_engine, "UPDATE exchange_entries SET entry_sha256 = :d, chain_digest = :c WHERE idx = :i", params={"d": digest, "c": chain, "i": idx})


def test_rewritten_chain_is_caught_by_receipts_and_checkpoints(sessions, home, log_engine, log):
    """Flipping a rejection to accepted and recomputing every digest after it is still detected."""
    with sessions() as s:
        idx = s.scalar(select(ExchangeEntryRow.idx).where(ExchangeEntryRow.status == "rejected").limit(1))
    tamper(log_engine, "UPDATE exchange_entries SET status = 'accepted', reason = NULL WHERE idx = :i", params={"i": idx})
    _rechain(sessions, log_engine, idx)
    report = _report(sessions, home)
    codes = [p.code for p in report.problems]
    assert report.first.index == idx and report.first.code == "decision_mismatch"
    assert "receipt_mismatch" in codes and "checkpoint_mismatch" in codes


def _inject(sessions, log_engine, envelope, status="accepted"):
    """Append an entry with correct digests, bypassing the receiver (a compromised writer)."""
    with sessions() as s:
        head = log_head(s)
    doc = {"index": head.index + 1, "recorded_at": utc_text(at(99)), "status": status, "reason": None,
           "envelope": envelope.header(), "stored_payload_sha256": envelope.stored_payload_sha256()}
    digest = entry_digest(doc)
    h = envelope.header()
    tamper(
        log_engine,
        "INSERT INTO exchange_entries (idx, recorded_at, status, reason, envelope_id, seq, sender, receiver, type, created_at, "
        "payload_sha256, prev_digest, signature, stored_payload_sha256, entry_sha256, chain_digest) VALUES "
        "(:idx, :rec, 'accepted', NULL, :id, :seq, :sender, :receiver, :type, :created, :psha, :prev, :sig, :spsha, :esha, :chain)",
        "INSERT INTO exchange_payloads (entry_idx, payload) VALUES (:idx, :payload)",
        params={"idx": doc["index"], "rec": doc["recorded_at"], "id": h["id"], "seq": h["seq"], "sender": h["sender"],
                "receiver": h["receiver"], "type": h["type"], "created": h["created_at"], "psha": h["payload_sha256"],
                "prev": h["prev_digest"], "sig": h["signature"], "spsha": doc["stored_payload_sha256"], "esha": digest,
                "chain": chain_next(head.digest, digest), "payload": envelope.payload_json()},
    )
    return doc["index"]


def test_injected_replay_is_detected(sessions, home, log_engine, log):
    """A replayed envelope written straight into the log as accepted fails the sequence check."""
    with sessions() as s:
        row = s.scalars(select(ExchangeEntryRow).where(ExchangeEntryRow.type == "candidate").limit(1)).one()
        payload = s.scalar(select(ExchangePayloadRow.payload).where(ExchangePayloadRow.entry_idx == row.idx))
    replay = envelope_from_header(entry_doc(row)["envelope"], json.loads(payload))
    idx = _inject(sessions, log_engine, replay)
    report = _report(sessions, home)
    assert report.first.index == idx and report.first.code == "decision_mismatch" and "replay" in report.first.message


def test_injected_forged_sender_is_detected(sessions, home, log_engine, log):
    """An envelope claiming the registry but signed with the camera vendor's key is caught."""
    with sessions() as s:
        forged = build_envelope(
            functools.partial(home.sign, "info_provider"), seq=next_seq(s, "data_holder"), sender="data_holder",
            receiver="ais_owner", type="registry_answer", created_at=at(99), payload={"owner": "someone else"}, prev_digest=log_head(s).digest,
        )
    assert judge(forged.header(), forged.stored_payload_sha256(), home.roster.public_keys(), forged.seq, forged.prev_digest).startswith("bad_signature")
    idx = _inject(sessions, log_engine, forged)
    report = _report(sessions, home)
    assert report.first.index == idx and "bad_signature" in report.first.message


def test_checkpoint_tamper_is_detected(sessions, home, log_engine, log):
    """A checkpoint whose digest was edited fails its signature."""
    with sessions() as s:
        digest = s.execute(text("SELECT chain_digest FROM exchange_checkpoints WHERE seq = 1")).scalar()
    tamper(log_engine, "UPDATE exchange_checkpoints SET chain_digest = :d WHERE seq = 1", params={"d": digest[:-1] + ("0" if digest[-1] != "0" else "1")})
    report = _report(sessions, home)
    assert {p.code for p in report.problems} == {"bad_checkpoint_signature", "checkpoint_mismatch"}

"""The pure core: canonical JSON, the chain, envelopes and the receiver's decision, the lifecycle table."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange.envelope import Envelope, build_envelope, parse_utc, utc_text
from exchange.errors import IllegalTransitionError
from exchange.lifecycle import STATES, STEPS, TRANSITIONS, check_transition
from exchange.verifier import GENESIS_DIGEST, canonical_json, chain_next, envelope_signing_bytes, judge, payload_digest

T = dt.datetime(2026, 11, 20, 8, tzinfo=dt.timezone.utc)


def test_canonical_json_rules():
    """Sorted keys, no spaces, UTF-8 without escapes; NaN refused."""
    assert canonical_json({"b": 1, "a": [1, "Ж"]}) == '{"a":[1,"Ж"],"b":1}'.encode("utf-8")
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})


def test_chain_step_is_sha256_of_concatenated_digests():
    """d_1 = SHA-256(32 zero bytes || e_1)."""
    e1 = hashlib.sha256(b"entry").hexdigest()
    assert GENESIS_DIGEST == "00" * 32
    assert chain_next(GENESIS_DIGEST, e1) == hashlib.sha256(bytes(32) + bytes.fromhex(e1)).hexdigest()


@given(st.dictionaries(st.text(), st.one_of(st.integers(), st.text(), st.floats(allow_nan=False, allow_infinity=False), st.none())))
def test_payload_digest_ignores_key_order(payload):
    """The digest depends on content, not on how the dict was built."""
    assert payload_digest(dict(reversed(list(payload.items())))) == payload_digest(payload)


def test_utc_text_round_trip_and_naive_refused():
    """Times are canonical UTC text; a naive datetime is refused."""
    assert utc_text(dt.datetime(2026, 1, 1, 14, tzinfo=dt.timezone(dt.timedelta(hours=6)))) == "2026-01-01T08:00:00.000000Z"
    assert parse_utc("2026-01-01T08:00:00.000000Z") == dt.datetime(2026, 1, 1, 8, tzinfo=dt.timezone.utc)
    with pytest.raises(ValueError, match="timezone-aware"):
        utc_text(dt.datetime(2026, 1, 1))


@pytest.fixture(scope="module")
def keys():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    priv = {r: Ed25519PrivateKey.generate() for r in ("info_provider", "ais_owner", "data_holder")}
    pub = {r: k.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex() for r, k in priv.items()}
    return priv, pub


def _env(priv, signer="info_provider", sender="info_provider", seq=1, payload=None, prev=GENESIS_DIGEST):
    return build_envelope(lambda m: priv[signer].sign(m).hex(), seq=seq, sender=sender, receiver="ais_owner", type="candidate",
                          created_at=T, payload=payload or {"v": 1}, prev_digest=prev)


def _judge(env, pub, expected=1, head=GENESIS_DIGEST):
    return judge(env.header(), env.stored_payload_sha256(), pub, expected, head)


def test_good_envelope_is_accepted(keys):
    """Right key, next seq, matching digest and head: accepted."""
    priv, pub = keys
    assert _judge(_env(priv), pub) is None


@pytest.mark.parametrize("case,expected", [
    ("forged_sender", "bad_signature: not signed by the data_holder key"),
    ("altered_payload", "payload_digest_mismatch"),
    ("replay", "replay: seq 1 of info_provider already accepted (expected 2)"),
    ("gap", "sequence_gap: expected seq 1 of info_provider, got 3"),
    ("stale_head", "stale_prev_digest"),
    ("edited_header", "bad_envelope_id"),
    ("edited_signature", "bad_signature: not signed by the info_provider key"),
    ("unknown_sender", "unknown_sender: ais_owner"),
])
def test_receiver_rejects(keys, case, expected):
    """Each faulty envelope is rejected with its reason."""
    priv, pub = keys
    env, exp, head, roster = _env(priv), 1, GENESIS_DIGEST, dict(pub)
    if case == "forged_sender":
        env = _env(priv, signer="info_provider", sender="data_holder")
    elif case == "altered_payload":
        env = Envelope(**{**env.__dict__, "payload": {"v": 2}})
    elif case == "replay":
        exp = 2
    elif case == "gap":
        env = _env(priv, seq=3)
    elif case == "stale_head":
        head = "11" * 32
    elif case == "edited_header":
        env = Envelope(**{**env.__dict__, "created_at": T + dt.timedelta(seconds=1)})
    elif case == "edited_signature":
        env = Envelope(**{**env.__dict__, "signature": ("0" if env.signature[0] != "0" else "1") + env.signature[1:]})
    elif case == "unknown_sender":
        env = _env(priv, signer="ais_owner", sender="ais_owner")
        del roster["ais_owner"]
    assert _judge(env, roster, exp, head) == expected


def test_signature_covers_every_field_but_itself(keys):
    """Changing any signed field changes the signed bytes."""
    priv, _ = keys
    header = _env(priv).header()
    base = envelope_signing_bytes(header)
    for field in ("id", "seq", "sender", "receiver", "type", "created_at", "payload_sha256", "prev_digest"):
        changed = dict(header, **{field: 2 if field == "seq" else header[field] + "x"})
        assert envelope_signing_bytes(changed) != base, field
    assert envelope_signing_bytes(dict(header, signature="00")) == base


@pytest.mark.parametrize("field,value,message", [
    ("sender", "mayor", "sender/receiver"),
    ("type", "gossip", "type"),
    ("seq", 0, "seq"),
    ("created_at", dt.datetime(2026, 1, 1), "timezone-aware"),
    ("prev_digest", "XY", "prev_digest"),
    ("payload", [1, 2], "JSON object"),
])
def test_envelope_validates(keys, field, value, message):
    """An envelope with a bad field says which field and what was expected."""
    priv, _ = keys
    env = _env(priv)
    with pytest.raises(ValueError, match=message):
        Envelope(**{**env.__dict__, field: value})


# ------------------------------------------------------------------ lifecycle

LEGAL = [
    (None, "detected"), ("detected", "plate_read"), ("plate_read", "registry_matched"),
    ("registry_matched", "ready_for_review"), ("ready_for_review", "confirmed"), ("ready_for_review", "rejected"),
    ("confirmed", "notice_issued"), ("notice_issued", "paid"), ("notice_issued", "appealed"), ("notice_issued", "closed"),
    ("paid", "closed"), ("appealed", "closed"),
]


@pytest.mark.parametrize("from_state,to_state", LEGAL)
def test_legal_transitions(from_state, to_state):
    """Every transition of the regulation's flow is allowed, carried by the listed hand-off."""
    step = check_transition("c1", from_state, to_state)
    assert step == STEPS[to_state]


@pytest.mark.parametrize("from_state,to_state", [
    (f, t) for f in (None, *STATES) for t in (*STATES, "teleported") if (f, t) not in LEGAL
])
def test_illegal_transitions(from_state, to_state):
    """Everything else raises an error naming the case, the from and the to state."""
    with pytest.raises(IllegalTransitionError) as info:
        check_transition("c1", from_state, to_state)
    assert (info.value.case_id, info.value.from_state, info.value.to_state) == ("c1", from_state, to_state)
    assert "case c1" in str(info.value) and to_state in str(info.value)


def test_table_is_complete_and_decisions_are_police_signed():
    """The table covers every state; confirm/reject come from the police with an officer."""
    assert set(TRANSITIONS) == set(STATES) == set(STEPS)
    for state in ("confirmed", "rejected"):
        assert (STEPS[state].type, STEPS[state].sender, STEPS[state].needs_officer) == ("decision", "ais_user", True)
    assert STEPS["detected"].sender == "info_provider" and STEPS["registry_matched"].sender == "data_holder"
    assert functools.reduce(lambda a, b: a + len(b), TRANSITIONS.values(), 0) == len(LEGAL) - 1

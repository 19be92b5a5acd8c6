"""Signed envelopes: every hand-off between two roles of the regulation (pure, no I/O).

An envelope carries its sender's per-sender gapless ``seq``, the log head it was built on
(``prev_digest``) and the SHA-256 of its payload's canonical JSON; its Ed25519 signature covers
the canonical bytes of every field but the signature and the payload itself (the digest stands
for it), see :func:`exchange.verifier.envelope_signing_bytes`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from exchange.verifier import (
    ENVELOPE_TYPES,
    ROLES,
    canonical_json,
    envelope_id,
    envelope_signing_bytes,
    payload_digest,
    sha256_hex,
)

_HEX64 = re.compile(r"[0-9a-f]{64}\Z")
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

Signer = Callable[[bytes], str]  # message bytes -> Ed25519 signature, hex


def utc_text(when: dt.datetime) -> str:
    """Canonical UTC text of an aware datetime, microseconds, ``Z`` (sorts chronologically).

    Raises:
        ValueError: a naive datetime (its zone would be a guess).
    """
    if not isinstance(when, dt.datetime) or when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware datetime, got {when!r}")
    return when.astimezone(dt.timezone.utc).strftime(TIME_FORMAT)


def parse_utc(text: str) -> dt.datetime:
    """Inverse of :func:`utc_text`; also accepts any ISO 8601 time with an offset."""
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"expected a UTC offset in {text!r}")
    return value.astimezone(dt.timezone.utc)


@dataclass(frozen=True)
class Envelope:
    """One signed hand-off.

    Attributes:
        id: deterministic id (:func:`exchange.verifier.envelope_id`), 32 hex chars.
        seq: the sender's sequence number, 1, 2, ... without gaps over accepted envelopes.
        sender, receiver: roles (``exchange.verifier.ROLES``).
        type: one of ``exchange.verifier.ENVELOPE_TYPES``.
        created_at: when the sender built it, aware datetime (UTC), passed in.
        payload: JSON object; None once purged by retention.
        payload_sha256: SHA-256 hex of the payload's canonical JSON.
        prev_digest: the exchange-log head (hex) when the envelope was built.
        signature: Ed25519 by the sender's role key, hex.
    """

    id: str
    seq: int
    sender: str
    receiver: str
    type: str
    created_at: dt.datetime
    payload: Mapping[str, Any] | None
    payload_sha256: str
    prev_digest: str
    signature: str

    def __post_init__(self) -> None:
        if self.sender not in ROLES or self.receiver not in ROLES:
            raise ValueError(f"envelope sender/receiver: expected roles {ROLES}, got {self.sender!r} -> {self.receiver!r}")
        if self.type not in ENVELOPE_TYPES:
            raise ValueError(f"envelope type: expected one of {ENVELOPE_TYPES}, got {self.type!r}")
        if isinstance(self.seq, bool) or not isinstance(self.seq, int) or self.seq < 1:
            raise ValueError(f"envelope seq: expected an int >= 1, got {self.seq!r}")
        utc_text(self.created_at)
        for name in ("payload_sha256", "prev_digest"):
            if not _HEX64.match(getattr(self, name)):
                raise ValueError(f"envelope {name}: expected 64 lowercase hex chars")
        if self.payload is not None:
            if not isinstance(self.payload, Mapping):
                raise ValueError(f"envelope payload: expected a JSON object, got {type(self.payload).__name__}")
            canonical_json(dict(self.payload))  # raises ValueError/TypeError on non-JSON values

    def header(self) -> dict[str, Any]:
        """Every field but the payload, as logged and signed (times as canonical text)."""
        return {
            "id": self.id, "seq": self.seq, "sender": self.sender, "receiver": self.receiver, "type": self.type,
            "created_at": utc_text(self.created_at), "payload_sha256": self.payload_sha256,
            "prev_digest": self.prev_digest, "signature": self.signature,
        }

    def payload_json(self) -> str:
        """The payload's canonical JSON text (what is stored and hashed)."""
        return canonical_json(dict(self.payload or {})).decode("utf-8")

    def stored_payload_sha256(self) -> str:
        """Digest of the payload as actually carried (may differ from the claimed one)."""
        return sha256_hex(canonical_json(dict(self.payload or {})))


def build_envelope(
    sign: Signer,
    *,
    seq: int,
    sender: str,
    receiver: str,
    type: str,
    created_at: dt.datetime,
    payload: Mapping[str, Any],
    prev_digest: str,
) -> Envelope:
    """Build and sign an envelope.

    Args:
        sign: signs bytes with the sender's key (``functools.partial(home.sign, sender)``).
        seq: the sender's next sequence number.
        created_at: aware datetime, the sender's clock (passed in, never read here).
        payload: a JSON object.
        prev_digest: the current log head (hex).
    """
    digest = payload_digest(dict(payload))
    eid = envelope_id(sender, receiver, type, seq, utc_text(created_at), digest)
    unsigned = Envelope(eid, seq, sender, receiver, type, created_at, dict(payload), digest, prev_digest, "0" * 128)
    return Envelope(**{**unsigned.__dict__, "signature": sign(envelope_signing_bytes(unsigned.header()))})


def envelope_from_header(header: Mapping[str, Any], payload: Mapping[str, Any] | None) -> Envelope:
    """Rebuild an envelope from its logged header and payload."""
    return Envelope(
        header["id"], header["seq"], header["sender"], header["receiver"], header["type"],
        parse_utc(header["created_at"]), payload, header["payload_sha256"], header["prev_digest"], header["signature"],
    )

"""The exchange log's wire format and its verifier, in one self-contained file.

This module is the single definition of the canonical bytes that are hashed and signed
(canonical JSON, envelope signing bytes, entry digests, the hash chain, checkpoint and
tombstone signing bytes), and of the checks a regulator runs over a log. It is copied
verbatim into every audit bundle as ``verify_bundle.py``, so it imports only the Python
standard library and ``cryptography``; never import another ``exchange`` module here.

Chain (after X-Road's message-log archives): ``d_0`` is 32 zero bytes and
``d_i = SHA-256(d_{i-1} || SHA-256(canonical(entry_i)))``. An entry holds the envelope's
header (every field but the payload) and ``stored_payload_sha256``, so the chain and every
signature verify after a retention purge removed the payload.

Usage of the bundled copy::

    python verify_bundle.py [BUNDLE_DIR] [--roster TRUSTED_ROSTER.json] [--json]

exits 0 when every check passes, 1 when one fails (naming the first bad entry), 2 when the
bundle cannot be read.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

BUNDLE_FORMAT = "safecity-exchange-bundle/1"
ROSTER_FORMAT = "safecity-roster/1"
GENESIS_DIGEST = "00" * 32
ROLES = ("ais_owner", "ais_user", "data_holder", "backup_centre", "info_provider")
ENVELOPE_TYPES = (
    "candidate", "registry_query", "registry_answer", "case_for_review", "decision",
    "notice", "replication_batch", "receipt", "pd_access", "case_event",
)
STATUSES = ("accepted", "rejected")
LOG_KEEPER = "ais_owner"  # signs checkpoints and tombstones

SIGNED_FIELDS = ("id", "seq", "sender", "receiver", "type", "created_at", "payload_sha256", "prev_digest")
ENVELOPE_FIELDS = SIGNED_FIELDS + ("signature",)
ENTRY_FIELDS = ("index", "recorded_at", "status", "reason", "envelope", "stored_payload_sha256")
RECORD_FIELDS = ("entry", "entry_sha256", "chain_digest", "payload", "tombstone")
CHECKPOINT_FIELDS = ("seq", "entry_index", "chain_digest", "created_at", "key_id", "signature")
TOMBSTONE_FIELDS = ("seq", "entry_index", "stored_payload_sha256", "purged_at", "reason", "key_id", "signature")
RECEIPT_FIELDS = ("envelope_id", "entry_index", "entry_sha256", "payload_sha256", "status", "reason")

# Domain separation: a signature over one kind of object can never pass as another kind.
_ENVELOPE_DOMAIN = b"safecity/envelope/v1\n"
_CHECKPOINT_DOMAIN = b"safecity/checkpoint/v1\n"
_TOMBSTONE_DOMAIN = b"safecity/tombstone/v1\n"

_HEX64 = re.compile(r"[0-9a-f]{64}\Z")
_HEX128 = re.compile(r"[0-9a-f]{128}\Z")
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z\Z")


# ---------------------------------------------------------------- canonical bytes and digests


def canonical_json(value: Any) -> bytes:
    """The canonical UTF-8 bytes of a JSON value: sorted keys, no spaces, no NaN."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def payload_digest(payload: Any) -> str:
    """SHA-256 (hex) of a payload's canonical JSON."""
    return sha256_hex(canonical_json(payload))


def chain_next(prev_digest: str, entry_sha256: str) -> str:
    """``d_i = SHA-256(d_{i-1} || e_i)`` over the raw 32-byte digests, as hex."""
    return sha256_hex(bytes.fromhex(prev_digest) + bytes.fromhex(entry_sha256))


def key_id(raw_public_key: bytes) -> str:
    """A key's id: SHA-256 (hex) of its 32 raw public-key bytes."""
    return sha256_hex(raw_public_key)


def envelope_id(sender: str, receiver: str, type_: str, seq: int, created_at: str, payload_sha256: str) -> str:
    """The deterministic id of an envelope (32 hex chars): a replay carries the same id."""
    head = {"sender": sender, "receiver": receiver, "type": type_, "seq": seq, "created_at": created_at, "payload_sha256": payload_sha256}
    return sha256_hex(canonical_json(head))[:32]


def envelope_signing_bytes(header: Mapping[str, Any]) -> bytes:
    """Bytes an envelope's signature covers: every field but the signature and the payload
    (``payload_sha256`` stands for it, so a purged payload leaves the signature verifiable)."""
    return _ENVELOPE_DOMAIN + canonical_json({k: header[k] for k in SIGNED_FIELDS})


def checkpoint_signing_bytes(cp: Mapping[str, Any]) -> bytes:
    return _CHECKPOINT_DOMAIN + canonical_json({k: cp[k] for k in CHECKPOINT_FIELDS if k != "signature"})


def tombstone_signing_bytes(tb: Mapping[str, Any]) -> bytes:
    return _TOMBSTONE_DOMAIN + canonical_json({k: tb[k] for k in TOMBSTONE_FIELDS if k != "signature"})


def entry_digest(entry: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of an entry's canonical JSON (the entry holds no payload)."""
    return sha256_hex(canonical_json(entry))


def verify_signature(public_key_hex: str, message: bytes, signature_hex: str) -> bool:
    """True when ``signature_hex`` is a valid Ed25519 signature of ``message``."""
    try:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex))
        key.verify(bytes.fromhex(signature_hex), message)
    except (InvalidSignature, ValueError):
        return False
    return True


def judge(header: Mapping[str, Any], stored_payload_sha256: str, public_keys: Mapping[str, str], expected_seq: int, head_digest: str) -> str | None:
    """The receiver's decision on an envelope: None to accept, else the rejection reason.

    Args:
        header: the envelope fields (``ENVELOPE_FIELDS``).
        stored_payload_sha256: digest of the payload as received.
        public_keys: role -> raw public key (hex) from the roster.
        expected_seq: the sender's last accepted seq + 1.
        head_digest: the log head the envelope must have been built on.
    """
    sender = header["sender"]
    if sender not in public_keys:
        return f"unknown_sender: {sender}"
    derived = envelope_id(sender, header["receiver"], header["type"], header["seq"], header["created_at"], header["payload_sha256"])
    if header["id"] != derived:
        return "bad_envelope_id"
    if not verify_signature(public_keys[sender], envelope_signing_bytes(header), header["signature"]):
        return f"bad_signature: not signed by the {sender} key"
    if stored_payload_sha256 != header["payload_sha256"]:
        return "payload_digest_mismatch"
    seq = header["seq"]
    if seq < expected_seq:
        return f"replay: seq {seq} of {sender} already accepted (expected {expected_seq})"
    if seq != expected_seq:
        return f"sequence_gap: expected seq {expected_seq} of {sender}, got {seq}"
    if header["prev_digest"] != head_digest:
        return "stale_prev_digest"
    return None


def receipt_payload(entry: Mapping[str, Any], entry_sha256: str) -> dict[str, Any]:
    """What the receiver's receipt says about a logged entry."""
    env = entry["envelope"]
    return {
        "envelope_id": env["id"], "entry_index": entry["index"], "entry_sha256": entry_sha256,
        "payload_sha256": env["payload_sha256"], "status": entry["status"], "reason": entry["reason"],
    }


# ---------------------------------------------------------------------------- the report


@dataclass(frozen=True)
class Problem:
    """One failed check. ``index`` is the entry (or checkpoint/tombstone seq) it concerns."""

    kind: str  # entry | checkpoint | tombstone | roster | bundle | backup
    index: int | None
    code: str
    message: str


@dataclass(frozen=True)
class Report:
    """The outcome of verifying a log.

    Attributes:
        entries: entries read; checked: entries inside the time window whose signatures were checked.
        head_index, head_digest: the last entry and the chain digest after it.
    """

    entries: int
    checked: int
    checkpoints: int
    tombstones: int
    head_index: int
    head_digest: str
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first(self) -> Problem | None:
        return self.problems[0] if self.problems else None

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["ok"] = self.ok
        return doc


# ------------------------------------------------------------------------------- shapes


def _shape(obj: Any, fields: Sequence[str], what: str) -> str | None:
    if not isinstance(obj, dict):
        return f"{what}: expected an object, got {type(obj).__name__}"
    if set(obj) != set(fields):
        return f"{what}: expected fields {sorted(fields)}, got {sorted(obj)}"
    return None


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _record_shape(rec: Any) -> str | None:
    problem = _shape(rec, RECORD_FIELDS, "record") or _shape(rec.get("entry"), ENTRY_FIELDS, "entry")
    if problem:
        return problem
    entry = rec["entry"]
    problem = _shape(entry["envelope"], ENVELOPE_FIELDS, "envelope")
    if problem:
        return problem
    env = entry["envelope"]
    checks = [
        (_is_int(entry["index"]) and entry["index"] >= 1, "index"),
        (isinstance(entry["recorded_at"], str) and _TIME.match(entry["recorded_at"]), "recorded_at"),
        (entry["status"] in STATUSES, "status"),
        (entry["reason"] is None if entry["status"] == "accepted" else isinstance(entry["reason"], str), "reason"),
        (isinstance(entry["stored_payload_sha256"], str) and _HEX64.match(entry["stored_payload_sha256"]), "stored_payload_sha256"),
        (isinstance(env["id"], str) and len(env["id"]) <= 64, "envelope.id"),
        (_is_int(env["seq"]) and env["seq"] >= 1, "envelope.seq"),
        (env["sender"] in ROLES and env["receiver"] in ROLES, "envelope.sender/receiver"),
        (env["type"] in ENVELOPE_TYPES, "envelope.type"),
        (isinstance(env["created_at"], str) and _TIME.match(env["created_at"]), "envelope.created_at"),
        (isinstance(env["payload_sha256"], str) and _HEX64.match(env["payload_sha256"]), "envelope.payload_sha256"),
        (isinstance(env["prev_digest"], str) and _HEX64.match(env["prev_digest"]), "envelope.prev_digest"),
        (isinstance(env["signature"], str) and _HEX128.match(env["signature"]), "envelope.signature"),
        (isinstance(rec["entry_sha256"], str) and _HEX64.match(rec["entry_sha256"]), "entry_sha256"),
        (isinstance(rec["chain_digest"], str) and _HEX64.match(rec["chain_digest"]), "chain_digest"),
        (rec["payload"] is None or isinstance(rec["payload"], dict), "payload"),
    ]
    bad = [name for ok, name in checks if not ok]
    return f"malformed field(s): {', '.join(bad)}" if bad else None


def _signed_shape(obj: Any, fields: Sequence[str], what: str) -> str | None:
    problem = _shape(obj, fields, what)
    if problem:
        return problem
    time_field = "created_at" if "created_at" in obj else "purged_at"
    ok = (
        _is_int(obj["seq"]) and obj["seq"] >= 1 and _is_int(obj["entry_index"]) and obj["entry_index"] >= 1
        and isinstance(obj[time_field], str) and _TIME.match(obj[time_field])
        and isinstance(obj["key_id"], str) and _HEX64.match(obj["key_id"])
        and isinstance(obj["signature"], str) and _HEX128.match(obj["signature"])
    )
    return None if ok else f"{what}: malformed field"


def roster_keys(roster: Any) -> tuple[dict[str, str], list[Problem]]:
    """role -> public key hex from a roster document, and the problems found in it."""
    problems: list[Problem] = []
    if not isinstance(roster, dict) or roster.get("format") != ROSTER_FORMAT or not isinstance(roster.get("roles"), dict):
        return {}, [Problem("roster", None, "malformed_roster", f"roster: expected format {ROSTER_FORMAT} with a roles object")]
    keys: dict[str, str] = {}
    for role, item in roster["roles"].items():
        if role not in ROLES or not isinstance(item, dict) or not isinstance(item.get("public_key"), str) or not _HEX64.match(item["public_key"]):
            problems.append(Problem("roster", None, "malformed_roster", f"roster: bad entry for role {role!r}"))
            continue
        if item.get("key_id") != key_id(bytes.fromhex(item["public_key"])):
            problems.append(Problem("roster", None, "bad_key_id", f"roster: key_id of {role} is not the SHA-256 of its public key"))
            continue
        keys[role] = item["public_key"]
    return keys, problems


# ------------------------------------------------------------------------------- verify


def verify_records(
    records: Iterable[Mapping[str, Any]],
    checkpoints: Iterable[Mapping[str, Any]],
    roster: Mapping[str, Any],
    *,
    time_from: str | None = None,
    time_to: str | None = None,
    prior_problems: Sequence[Problem] = (),
) -> Report:
    """Verify a whole log: chain, entry digests, payload digests and tombstones, signatures,
    the receiver's decisions (sequence gaps, replays, forged senders), receipts, checkpoints.

    Args:
        records: the log in index order, each ``{"entry", "entry_sha256", "chain_digest",
            "payload", "tombstone"}``.
        checkpoints: signed chain heads in seq order.
        roster: the roster document (role -> organisation, public key, key id).
        time_from, time_to: canonical UTC times (``YYYY-MM-DDTHH:MM:SS.ffffffZ``); signatures of
            entries recorded outside the window are not checked. The chain, sequence numbers and
            receipts are always checked from genesis, since they need every earlier entry.
        prior_problems: problems the loader found (unreadable lines), reported first.
    """
    keys, problems = roster_keys(roster)
    problems = list(prior_problems) + problems
    owner_key = keys.get(LOG_KEEPER)
    chain = [GENESIS_DIGEST]  # chain[i] = digest after entry i, recomputed from content
    last_seq: dict[str, int] = {}
    pending: tuple[Mapping[str, Any], str] | None = None  # an envelope awaiting its receipt
    tomb_seqs: list[int] = []
    n = checked = 0

    def bad(index: int | None, code: str, message: str, kind: str = "entry") -> None:
        problems.append(Problem(kind, index, code, message))

    for n, rec in enumerate(records, start=1):
        shape = _record_shape(rec)
        if shape:
            bad(n, "malformed_entry", f"entry at position {n}: {shape}")
            chain.append(rec.get("chain_digest", GENESIS_DIGEST) if isinstance(rec, dict) and isinstance(rec.get("chain_digest"), str) and _HEX64.match(rec["chain_digest"]) else GENESIS_DIGEST)
            pending = None
            continue
        entry, env, idx = rec["entry"], rec["entry"]["envelope"], rec["entry"]["index"]
        if idx != n:
            bad(n, "index_gap", f"entry at position {n} has index {idx}: an entry is missing or out of order")
        digest = entry_digest(entry)
        if digest != rec["entry_sha256"]:
            bad(idx, "entry_digest_mismatch", f"entry {idx}: content does not match its stored digest")
        true_chain = chain_next(chain[-1], digest)
        if rec["chain_digest"] != true_chain:
            bad(idx, "chain_broken", f"entry {idx}: chain digest does not follow from the previous entry")
        head_before = chain[-1]
        chain.append(true_chain)
        # payload or its tombstone
        tomb = rec["tombstone"]
        if tomb is None:
            if rec["payload"] is None:
                bad(idx, "payload_missing", f"entry {idx}: payload is gone and no tombstone says why")
            elif payload_digest(rec["payload"]) != entry["stored_payload_sha256"]:
                bad(idx, "payload_digest_mismatch", f"entry {idx}: payload does not match its digest")
        else:
            shape = _signed_shape(tomb, TOMBSTONE_FIELDS, "tombstone")
            if shape:
                bad(idx, "malformed_tombstone", f"entry {idx}: {shape}", "tombstone")
            else:
                tomb_seqs.append(tomb["seq"])
                if rec["payload"] is not None:
                    bad(idx, "payload_not_purged", f"entry {idx}: tombstoned but its payload is still present", "tombstone")
                if tomb["entry_index"] != idx or tomb["stored_payload_sha256"] != entry["stored_payload_sha256"]:
                    bad(idx, "tombstone_mismatch", f"entry {idx}: tombstone {tomb['seq']} names another entry or digest", "tombstone")
                if owner_key is None or tomb["key_id"] != key_id(bytes.fromhex(owner_key)) or not verify_signature(owner_key, tombstone_signing_bytes(tomb), tomb["signature"]):
                    bad(idx, "bad_tombstone_signature", f"entry {idx}: tombstone {tomb['seq']} is not signed by the {LOG_KEEPER} key", "tombstone")
        # the receiver's decision, replayed
        in_window = (time_from is None or entry["recorded_at"] >= time_from) and (time_to is None or entry["recorded_at"] <= time_to)
        expected = last_seq.get(env["sender"], 0) + 1
        if in_window:
            checked += 1
            reason = judge(env, entry["stored_payload_sha256"], keys, expected, head_before)
            if reason != entry["reason"] or (reason is None) != (entry["status"] == "accepted"):
                recorded = entry["status"] + (f" ({entry['reason']})" if entry["reason"] else "")
                bad(idx, "decision_mismatch", f"entry {idx}: recorded {recorded}, but the envelope is {'accepted' if reason is None else 'rejected: ' + reason}")
        elif entry["status"] == "accepted" and env["seq"] != expected:
            bad(idx, "sequence_gap", f"entry {idx}: accepted seq {env['seq']} of {env['sender']}, expected {expected}")
        if entry["status"] == "accepted":
            last_seq[env["sender"]] = env["seq"]
        # receipts: every envelope is followed at once by its receiver's receipt
        if pending is not None:
            p_entry, p_digest = pending
            p_env = p_entry["envelope"]
            want = receipt_payload(p_entry, p_digest)
            if env["type"] != "receipt" or entry["status"] != "accepted":
                bad(p_entry["index"], "missing_receipt", f"entry {p_entry['index']}: no receipt follows it")
            elif env["sender"] != p_env["receiver"] or env["receiver"] != p_env["sender"] or (rec["payload"] is not None and rec["payload"] != want):
                bad(idx, "receipt_mismatch", f"entry {idx}: receipt does not acknowledge entry {p_entry['index']} as logged")
            pending = None
            if env["type"] != "receipt":
                pending = (entry, digest)
        elif env["type"] == "receipt":
            bad(idx, "orphan_receipt", f"entry {idx}: receipt with no envelope before it")
        else:
            pending = (entry, digest)
    if pending is not None:
        bad(pending[0]["index"], "missing_receipt", f"entry {pending[0]['index']}: no receipt follows it")
    if sorted(tomb_seqs) != list(range(1, len(tomb_seqs) + 1)):
        bad(None, "tombstone_gap", f"tombstone seqs are not 1..{len(tomb_seqs)}: {sorted(tomb_seqs)}", "tombstone")
    n_cp = _verify_checkpoints(checkpoints, chain, owner_key, bad)
    return Report(n, checked, n_cp, len(tomb_seqs), len(chain) - 1, chain[-1], tuple(problems))


def _verify_checkpoints(checkpoints: Iterable[Mapping[str, Any]], chain: list[str], owner_key: str | None, bad: Any) -> int:
    count = 0
    last_index = 0
    for count, cp in enumerate(checkpoints, start=1):
        shape = _signed_shape(cp, CHECKPOINT_FIELDS, "checkpoint")
        if shape or not (isinstance(cp.get("chain_digest"), str) and _HEX64.match(cp["chain_digest"])):
            bad(count, "malformed_checkpoint", f"checkpoint {count}: {shape or 'malformed chain_digest'}", "checkpoint")
            continue
        if cp["seq"] != count:
            bad(count, "checkpoint_gap", f"checkpoint at position {count} has seq {cp['seq']}", "checkpoint")
        if owner_key is None or cp["key_id"] != key_id(bytes.fromhex(owner_key)) or not verify_signature(owner_key, checkpoint_signing_bytes(cp), cp["signature"]):
            bad(cp["seq"], "bad_checkpoint_signature", f"checkpoint {cp['seq']}: not signed by the {LOG_KEEPER} key", "checkpoint")
        idx = cp["entry_index"]
        if idx >= len(chain):
            bad(cp["seq"], "checkpoint_beyond_log", f"checkpoint {cp['seq']} covers entry {idx}, but the log ends at {len(chain) - 1}: entries were removed", "checkpoint")
        elif chain[idx] != cp["chain_digest"]:
            bad(cp["seq"], "checkpoint_mismatch", f"checkpoint {cp['seq']}: chain head at entry {idx} differs from the signed one", "checkpoint")
        if idx < last_index:
            bad(cp["seq"], "checkpoint_order", f"checkpoint {cp['seq']} goes back to entry {idx}", "checkpoint")
        last_index = max(last_index, idx)
    return count


# ------------------------------------------------------------------------------- bundles


def read_jsonl(path: Path, kind: str) -> tuple[list[Any], list[Problem]]:
    """Parse a JSON-lines file; a line that is not canonical JSON is a problem (so any
    changed byte is caught even where it would parse to the same value)."""
    items: list[Any] = []
    problems: list[Problem] = []
    for lineno, line in enumerate(path.read_bytes().split(b"\n"), start=1):
        if not line:
            continue
        try:
            value = json.loads(line.decode("utf-8"))
            canonical = canonical_json(value)
        except (UnicodeDecodeError, ValueError) as exc:
            problems.append(Problem(kind, lineno, "unreadable_line", f"{path.name} line {lineno}: {exc}"))
            items.append(None)
            continue
        if canonical != line:
            problems.append(Problem(kind, lineno, "non_canonical_line", f"{path.name} line {lineno}: not in canonical form (altered?)"))
        items.append(value)
    return items, problems


def verify_bundle(folder: Path, roster_path: Path | None = None, time_from: str | None = None, time_to: str | None = None) -> Report:
    """Verify an exported bundle folder offline (entries.jsonl, checkpoints.jsonl, roster.json)."""
    folder = Path(folder)
    records, problems = read_jsonl(folder / "entries.jsonl", "entry")
    checkpoints, cp_problems = read_jsonl(folder / "checkpoints.jsonl", "checkpoint")
    roster = json.loads((roster_path or folder / "roster.json").read_text(encoding="utf-8"))
    return verify_records(
        [r if isinstance(r, dict) else {} for r in records],
        [c if isinstance(c, dict) else {} for c in checkpoints],
        roster, time_from=time_from, time_to=time_to, prior_problems=problems + cp_problems,
    )


def format_report(report: Report) -> str:
    lines = [
        f"entries {report.entries} (signatures checked {report.checked}), checkpoints {report.checkpoints}, tombstones {report.tombstones}",
        f"head entry {report.head_index} digest {report.head_digest}",
    ]
    if report.ok:
        lines.append("OK: chain, signatures, sequences, receipts and checkpoints verify")
    else:
        first = report.first
        lines.append(f"FAILED: {len(report.problems)} problem(s); first bad {first.kind} {first.index}: {first.code}: {first.message}")
        lines += [f"  {p.kind} {p.index}: {p.code}: {p.message}" for p in report.problems[1:20]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify a Safe City exchange-log bundle offline.")
    parser.add_argument("bundle", nargs="?", type=Path, default=Path(__file__).resolve().parent, help="bundle folder (default: this file's folder)")
    parser.add_argument("--roster", type=Path, help="a trusted copy of the roster (default: the bundle's roster.json)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    try:
        report = verify_bundle(args.bundle, args.roster)
    except (OSError, ValueError) as exc:
        print(f"cannot read bundle: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report.to_dict(), indent=2) if args.json else format_report(report))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())

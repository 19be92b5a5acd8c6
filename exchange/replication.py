"""Replication to the backup centre, the pure part: batch manifests, continuity checks and
the completeness comparison of a replica against the primary (no SQL, no I/O).

A batch is store-and-forward: the primary's log is the outbox, a batch carries the entries
after the last one the backup acknowledged (its signed receipt of the previous batch), and
the backup applies it only if it continues its own chain exactly. A batch the backup already
has (a lost acknowledgement) is recognised and skipped; a batch after a gap is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from exchange.verifier import Problem, canonical_json, chain_next, entry_digest, payload_digest, sha256_hex


@dataclass(frozen=True)
class ReplicaState:
    """How far a replica is: last entry index and chain digest, last tombstone and checkpoint seq."""

    index: int
    digest: str
    tombstone_seq: int
    checkpoint_seq: int


@dataclass(frozen=True)
class BatchBody:
    """What travels with a ``replication_batch`` envelope (its manifest commits to it).

    Attributes:
        records: log records (entry, digests, payload or None), index order, no tombstones.
        tombstones: tombstone documents in seq order.
        checkpoints: checkpoint documents in seq order.
        case_states: (entry index, case id, state) of the lifecycle entries among ``records``,
            so the backup can answer case queries (even for payloads purged before they went).
    """

    records: tuple[Mapping[str, Any], ...]
    tombstones: tuple[Mapping[str, Any], ...]
    checkpoints: tuple[Mapping[str, Any], ...]
    case_states: tuple[tuple[int, str, str], ...] = ()

    def sha256(self) -> str:
        return sha256_hex(canonical_json({
            "records": list(self.records), "tombstones": list(self.tombstones), "checkpoints": list(self.checkpoints),
            "case_states": [list(c) for c in self.case_states],
        }))


def evidence_items(records: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """(path, sha256) of the evidence files named by candidate payloads in ``records``."""
    items = []
    for rec in records:
        payload = rec.get("payload") or {}
        if rec["entry"]["envelope"]["type"] == "candidate":
            for ev in (payload.get("details") or {}).get("evidence", []):
                items.append({"path": ev["path"], "sha256": ev["sha256"]})
    return items


def build_manifest(body: BatchBody, from_index: int, prev_digest: str, tombstone_upto: int, checkpoint_upto: int) -> dict[str, Any]:
    """The ``replication_batch`` payload: the range, chain ends, the body's digest, and the
    tombstone and checkpoint seqs the replica holds after it (``*_upto``: the previous values
    when the batch brings none)."""
    last = body.records[-1] if body.records else None
    return {
        "from_index": from_index,
        "to_index": last["entry"]["index"] if last else from_index - 1,
        "prev_chain_digest": prev_digest,
        "head_digest": last["chain_digest"] if last else prev_digest,
        "tombstone_upto": max([t["seq"] for t in body.tombstones], default=tombstone_upto),
        "checkpoint_upto": max([c["seq"] for c in body.checkpoints], default=checkpoint_upto),
        "body_sha256": body.sha256(),
        "evidence": evidence_items(body.records),
    }


def check_batch(state: ReplicaState, manifest: Mapping[str, Any], body: BatchBody, known: Mapping[int, str]) -> tuple[list[Mapping[str, Any]], list[str]]:
    """The backup's continuity check of a batch against its own state.

    Args:
        state: the replica's state.
        manifest: the signed manifest.
        body: the batch body.
        known: entry index -> chain digest of the replica's entries in the batch's range
            (overlap after a lost acknowledgement).

    Returns:
        (records to insert, problems); any problem means the batch must be refused whole.
    """
    problems: list[str] = []
    if body.sha256() != manifest["body_sha256"]:
        return [], ["batch body does not match its signed manifest"]
    fresh = [r for r in body.records if r["entry"]["index"] > state.index]
    for rec in body.records:
        idx = rec["entry"]["index"]
        if idx <= state.index and known.get(idx) != rec["chain_digest"]:
            problems.append(f"entry {idx}: batch differs from the replica's copy (fork)")
    expected_from = state.index + 1
    if fresh and fresh[0]["entry"]["index"] != expected_from:
        problems.append(f"missed batch: replica ends at entry {state.index}, batch continues at {fresh[0]['entry']['index']}")
        return [], problems
    head = state.digest
    for n, rec in enumerate(fresh):
        entry = rec["entry"]
        if entry["index"] != expected_from + n:
            problems.append(f"entry {entry['index']}: out of order in batch")
        digest = entry_digest(entry)
        if digest != rec["entry_sha256"]:
            problems.append(f"entry {entry['index']}: digest mismatch")
        head = chain_next(head, digest)
        if head != rec["chain_digest"]:
            problems.append(f"entry {entry['index']}: chain does not continue the replica's")
        if rec["payload"] is not None and payload_digest(rec["payload"]) != entry["stored_payload_sha256"]:
            problems.append(f"entry {entry['index']}: payload digest mismatch")
    if fresh and head != manifest["head_digest"]:
        problems.append("batch head differs from the manifest's head digest")
    tomb_seqs = [t["seq"] for t in body.tombstones if t["seq"] > state.tombstone_seq]
    if tomb_seqs and tomb_seqs != list(range(state.tombstone_seq + 1, state.tombstone_seq + 1 + len(tomb_seqs))):
        problems.append(f"tombstones: expected seqs from {state.tombstone_seq + 1}, got {tomb_seqs}")
    cp_seqs = [c["seq"] for c in body.checkpoints if c["seq"] > state.checkpoint_seq]
    if cp_seqs and cp_seqs != list(range(state.checkpoint_seq + 1, state.checkpoint_seq + 1 + len(cp_seqs))):
        problems.append(f"checkpoints: expected seqs from {state.checkpoint_seq + 1}, got {cp_seqs}")
    return fresh, problems


def compare_replica(primary: Sequence[tuple[int, str]], replica: Sequence[tuple[int, str]], acknowledged_index: int) -> list[Problem]:
    """Completeness of a replica: no gaps, the same chain digest at every index, and at least
    every entry it acknowledged.

    Args:
        primary, replica: (entry index, chain digest) in index order.
        acknowledged_index: the highest entry index the backup's signed receipts acknowledge.
    """
    problems: list[Problem] = []
    primary_at = dict(primary)
    for position, (idx, digest) in enumerate(replica, start=1):
        if idx != position:
            problems.append(Problem("backup", position, "backup_gap", f"backup: entry {position} is missing (next has index {idx})"))
            break
        if primary_at.get(idx) != digest:
            problems.append(Problem("backup", idx, "backup_fork", f"backup: entry {idx} differs from the primary's"))
            break
    have = replica[-1][0] if replica else 0
    if have < acknowledged_index:
        problems.append(Problem("backup", have + 1, "backup_behind_ack", f"backup acknowledged entries up to {acknowledged_index} but holds only {have}: a batch is missing"))
    return problems

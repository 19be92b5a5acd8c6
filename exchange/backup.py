"""The backup centre: a replica of the exchange log in its own database, fed by signed
store-and-forward batches, able to serve reads when the primary is gone.

The primary's side (:func:`replicate`) works in the caller's primary session; the replica
(:class:`BackupReplica`) is the other organisation's system and owns its transactions.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from exchange.envelope import Envelope, build_envelope
from exchange.errors import ReplicationError
from exchange.home import Home, Roster
from exchange.log import Delivery, lock_log, log_head, next_seq, receive
from exchange.records import checkpoint_doc, checkpoint_docs, iter_records, tombstone_doc
from exchange.replication import BatchBody, ReplicaState, build_manifest, check_batch, compare_replica
from exchange.retention import insert_tombstone
from exchange.schema import (
    ExchangeCaseStateRow,
    ExchangeCheckpointRow,
    ExchangeEntryRow,
    ExchangePayloadRow,
    ExchangeTombstoneRow,
    create_exchange_tables,
)
from exchange.verifier import GENESIS_DIGEST, LOG_KEEPER, Problem, Report, canonical_json, judge, verify_records
from store.db import make_engine, session_factory

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Acknowledged:
    """What the backup's receipts acknowledge: entries, tombstones and checkpoints up to these."""

    index: int
    tombstone_seq: int
    checkpoint_seq: int


def last_acknowledged(session: Session) -> Acknowledged:
    """From the primary log: the newest accepted replication batch (its receipt follows it)."""
    row = session.execute(
        select(ExchangePayloadRow.payload)
        .join(ExchangeEntryRow, ExchangeEntryRow.idx == ExchangePayloadRow.entry_idx)
        .where(ExchangeEntryRow.type == "replication_batch", ExchangeEntryRow.status == "accepted")
        .order_by(ExchangeEntryRow.idx.desc()).limit(1)
    ).first()
    if row is None:
        return Acknowledged(0, 0, 0)
    m = json.loads(row[0])
    return Acknowledged(m["to_index"], m["tombstone_upto"], m["checkpoint_upto"])


class BackupReplica:
    """The backup centre's copy of the log, in the database at ``url``.

    Reads work with any exchange read function on :meth:`session` (``case_state``,
    ``list_pd_access``, ``iter_records``) when the primary is gone.
    """

    def __init__(self, url: str, roster: Roster, *, create: bool = True) -> None:
        """Open the replica at ``url``; ``create`` makes its tables and triggers if missing
        (an auditor opens with ``create=False`` and gets ``ReplicationError`` for no log)."""
        self.url = url
        self.roster = roster
        self._engine = make_engine(url)
        self._sessions = session_factory(self._engine)
        if create:
            create_exchange_tables(self._engine)
        elif not inspect(self._engine).has_table("exchange_entries"):
            self._engine.dispose()
            raise ReplicationError(f"{url}: no exchange log replica in this database")

    def close(self) -> None:
        self._engine.dispose()

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A read session on the replica."""
        with self._sessions() as s:
            yield s

    def state(self, session: Session | None = None) -> ReplicaState:
        if session is None:
            with self._sessions() as s:
                return self.state(s)
        head = log_head(session)
        tomb = session.scalar(select(func.max(ExchangeTombstoneRow.seq))) or 0
        cp = session.scalar(select(func.max(ExchangeCheckpointRow.seq))) or 0
        return ReplicaState(head.index, head.digest, tomb, cp)

    def apply(self, envelope: Envelope, body: BatchBody) -> ReplicaState:
        """Verify a batch (signature of the log keeper, manifest, continuity) and store it.

        Raises:
            ReplicationError: a forged or altered batch, a gap (a missed batch) or a fork; the
                replica is left unchanged.
        """
        if envelope.type != "replication_batch" or envelope.sender != LOG_KEEPER:
            raise ReplicationError(f"envelope {envelope.id}: not a replication batch from {LOG_KEEPER}")
        # sequence and prev_digest are the primary's business; the backup checks who signed it
        reason = judge(envelope.header(), envelope.stored_payload_sha256(), self.roster.public_keys(), envelope.seq, envelope.prev_digest)
        if reason is not None:
            raise ReplicationError(f"batch envelope {envelope.id} refused: {reason}")
        manifest = envelope.payload or {}
        with self._sessions.begin() as s:
            state = self.state(s)
            known = dict(s.execute(
                select(ExchangeEntryRow.idx, ExchangeEntryRow.chain_digest).where(ExchangeEntryRow.idx >= manifest["from_index"])
            ).all())
            fresh, problems = check_batch(state, manifest, body, known)
            if problems:
                raise ReplicationError(f"batch {manifest['from_index']}..{manifest['to_index']} refused: " + "; ".join(problems))
            for rec in fresh:
                _insert_record(s, rec)
            s.flush()
            fresh_idx = {rec["entry"]["index"] for rec in fresh}
            s.add_all(ExchangeCaseStateRow(entry_idx=i, case_id=c, state=st) for i, c, st in body.case_states if i in fresh_idx)
            for tomb in body.tombstones:
                if tomb["seq"] > state.tombstone_seq:
                    insert_tombstone(s, dict(tomb))
            for cp in body.checkpoints:
                if cp["seq"] > state.checkpoint_seq:
                    s.add(ExchangeCheckpointRow(seq=cp["seq"], entry_idx=cp["entry_index"], chain_digest=cp["chain_digest"], created_at=cp["created_at"], key_id=cp["key_id"], signature=cp["signature"]))
            s.flush()
            new_state = self.state(s)
        logger.info("backup applied batch from=%d to=%d new=%d", manifest["from_index"], manifest["to_index"], len(fresh))
        return new_state

    def records(self) -> list[dict[str, Any]]:
        with self._sessions() as s:
            return list(iter_records(s))

    def verify(self) -> Report:
        """Verify the replica's own log on its own (chain, signatures, receipts, checkpoints)."""
        with self._sessions() as s:
            problems: list[Problem] = []
            return verify_records(iter_records(s, problems), checkpoint_docs(s), self.roster.to_doc(), prior_problems=problems)


def _insert_record(session: Session, rec: dict[str, Any]) -> None:
    e, env = rec["entry"], rec["entry"]["envelope"]
    session.add(ExchangeEntryRow(
        idx=e["index"], recorded_at=e["recorded_at"], status=e["status"], reason=e["reason"], envelope_id=env["id"],
        seq=env["seq"], sender=env["sender"], receiver=env["receiver"], type=env["type"], created_at=env["created_at"],
        payload_sha256=env["payload_sha256"], prev_digest=env["prev_digest"], signature=env["signature"],
        stored_payload_sha256=e["stored_payload_sha256"], entry_sha256=rec["entry_sha256"], chain_digest=rec["chain_digest"],
    ))
    if rec["payload"] is not None:
        session.add(ExchangePayloadRow(entry_idx=e["index"], payload=canonical_json(rec["payload"]).decode("utf-8")))


def next_batch(session: Session, ack: Acknowledged, max_entries: int) -> BatchBody:
    """The entries, tombstones and checkpoints after ``ack`` (at most ``max_entries`` entries)."""
    records = [
        {k: v for k, v in rec.items() if k != "tombstone"}
        for rec in iter_records(session, from_index=ack.index + 1, to_index=ack.index + max_entries)
    ]
    upto = records[-1]["entry"]["index"] if records else ack.index
    tombs = []
    for row in session.scalars(select(ExchangeTombstoneRow).where(ExchangeTombstoneRow.seq > ack.tombstone_seq).order_by(ExchangeTombstoneRow.seq)):
        if row.entry_idx > upto:
            break  # keep tombstone seqs contiguous on the replica
        tombs.append(tombstone_doc(row))
    cps = [checkpoint_doc(r) for r in session.scalars(
        select(ExchangeCheckpointRow).where(ExchangeCheckpointRow.seq > ack.checkpoint_seq, ExchangeCheckpointRow.entry_idx <= upto).order_by(ExchangeCheckpointRow.seq)
    )]
    states = session.execute(
        select(ExchangeCaseStateRow.entry_idx, ExchangeCaseStateRow.case_id, ExchangeCaseStateRow.state)
        .where(ExchangeCaseStateRow.entry_idx > ack.index, ExchangeCaseStateRow.entry_idx <= upto).order_by(ExchangeCaseStateRow.entry_idx)
    ).all()
    return BatchBody(tuple(records), tuple(tombs), tuple(cps), tuple((i, c, st) for i, c, st in states))


def replicate(session: Session, home: Home, replica: BackupReplica, at: dt.datetime, max_entries: int | None = None) -> Delivery | None:
    """Send the next batch to the backup; log the batch envelope and the backup's receipt.

    Resumes after the last batch the backup acknowledged. Call repeatedly until it returns
    None (nothing new besides the previous batch's own envelope and receipt).

    Args:
        session: the primary's session (caller owns the transaction).
        replica: the backup centre's replica.
        at: aware datetime of the hand-off.
        max_entries: entries per batch (default ``roles.yaml`` ``log.replication_batch_entries``).

    Returns:
        The logged batch delivery, or None when there was nothing to send.

    Raises:
        ReplicationError: the backup refused the batch (gap, fork, bad signature).
    """
    lock_log(session)
    ack = last_acknowledged(session)
    head = log_head(session)
    body = next_batch(session, ack, max_entries or home.config.log.replication_batch_entries)
    only_own = ack.index > 0 and len(body.records) <= 2 and all(r["entry"]["envelope"]["type"] in ("replication_batch", "receipt") for r in body.records)
    if not body.tombstones and (not body.records or only_own):
        return None  # nothing new but the previous batch's own envelope and receipt
    prev = session.scalar(select(ExchangeEntryRow.chain_digest).where(ExchangeEntryRow.idx == ack.index)) if ack.index else GENESIS_DIGEST
    manifest = build_manifest(body, ack.index + 1, prev, ack.tombstone_seq, ack.checkpoint_seq)
    envelope = build_envelope(
        functools.partial(home.sign, LOG_KEEPER), seq=next_seq(session, LOG_KEEPER), sender=LOG_KEEPER,
        receiver="backup_centre", type="replication_batch", created_at=at, payload=manifest, prev_digest=head.digest,
    )
    replica.apply(envelope, body)
    return receive(session, home, envelope, at)


def backup_problems(primary: Session, replica: BackupReplica) -> list[Problem]:
    """Completeness of the backup: its own log verifies, it is a gapless prefix of the
    primary's chain, and it holds everything its receipts acknowledged."""
    problems = [Problem("backup", p.index, p.code, "backup: " + p.message) for p in replica.verify().problems]
    stmt = select(ExchangeEntryRow.idx, ExchangeEntryRow.chain_digest).order_by(ExchangeEntryRow.idx)
    primary_chain = [(i, d) for i, d in primary.execute(stmt)]
    with replica.session() as rs:
        replica_chain = [(i, d) for i, d in rs.execute(stmt)]
    return problems + compare_replica(primary_chain, replica_chain, last_acknowledged(primary).index)


@dataclass(frozen=True)
class EvidenceSync:
    copied: tuple[str, ...]
    present: tuple[str, ...]
    missing: tuple[str, ...]
    mismatched: tuple[str, ...]


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sync_evidence(items: list[dict[str, str]], source_root: Path, dest_root: Path) -> EvidenceSync:
    """Copy evidence files named in batch manifests to the backup's store, checking digests.

    Existing files are never overwritten; one with another digest is reported as mismatched.
    """
    copied, present, missing, mismatched = [], [], [], []
    for item in items:
        rel = Path(item["path"])
        if rel.is_absolute() or ".." in rel.parts:
            mismatched.append(item["path"])
            continue
        src, dst = Path(source_root) / rel, Path(dest_root) / rel
        if dst.exists():
            (present if _sha256_file(dst) == item["sha256"] else mismatched).append(item["path"])
            continue
        if not src.exists():
            missing.append(item["path"])
            continue
        if _sha256_file(src) != item["sha256"]:
            mismatched.append(item["path"])
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(dst.name + ".part")
        shutil.copyfile(src, tmp)
        if _sha256_file(tmp) != item["sha256"]:
            mismatched.append(item["path"])  # the partial copy is kept for inspection, never deleted
            continue
        tmp.rename(dst)
        copied.append(item["path"])
    return EvidenceSync(tuple(copied), tuple(present), tuple(missing), tuple(mismatched))

"""The backup centre: store-and-forward batches, completeness, a missed batch, reads without the primary."""

from __future__ import annotations

import functools
import hashlib
import shutil

import pytest

from exchange.access import list_pd_access
from exchange.backup import Acknowledged, BackupReplica, backup_problems, last_acknowledged, next_batch, replicate, sync_evidence
from exchange.cases import case_state
from exchange.errors import ReplicationError
from exchange.envelope import build_envelope
from exchange.log import log_head, next_seq, send
from exchange.replication import build_manifest
from exchange.retention import purge_expired
from exchange_helpers import PLATE, at, populate


@pytest.fixture
def replica(home, tmp_path):
    r = BackupReplica(f"sqlite:///{tmp_path / 'backup.sqlite'}", home.roster)
    yield r
    r.close()


def _drain(sessions, home, replica, max_entries=10):
    batches = 0
    while True:
        with sessions.begin() as s:
            if replicate(s, home, replica, at(30 + batches), max_entries=max_entries) is None:
                return batches
        batches += 1


def test_replication_in_batches_is_complete(sessions, home, replica):
    """Batches of 10 carry the whole log; the backup holds the primary's chain and verifies alone."""
    populate(sessions, home)
    batches = _drain(sessions, home, replica)
    assert batches >= 4
    with sessions() as s:
        head = log_head(s)
        assert backup_problems(s, replica) == []
        ack = last_acknowledged(s)
    state = replica.state()
    assert state.index == ack.index and head.index - state.index == 2  # the last batch's envelope + receipt
    assert replica.verify().ok
    assert state.checkpoint_seq >= 3


def test_backup_on_postgres_primary_and_replica(sessions, home, db_url, tmp_path):
    """A primary on either backend replicates to a SQLite replica."""
    populate(sessions, home, n_candidates=1)
    r = BackupReplica(f"sqlite:///{tmp_path / 'b2.sqlite'}", home.roster)
    try:
        _drain(sessions, home, r, max_entries=1000)
        with sessions() as s:
            assert backup_problems(s, r) == []
    finally:
        r.close()


def test_resume_after_lost_acknowledgement(sessions, home, replica):
    """A batch applied by the backup whose receipt never reached the primary is resent and skipped."""
    populate(sessions, home, n_candidates=1)
    with sessions.begin() as s:
        replicate(s, home, replica, at(30), max_entries=6)
    s = sessions()
    s.begin()
    replicate(s, home, replica, at(31), max_entries=6)  # the backup applies it ...
    s.rollback()  # ... but the primary loses the acknowledgement
    s.close()
    assert replica.state().index == 12
    _drain(sessions, home, replica, max_entries=6)
    with sessions() as s:
        assert backup_problems(s, replica) == []


def test_missed_batch_is_refused(sessions, home, replica):
    """A batch that does not continue the backup's chain (one was lost in transit) is refused."""
    populate(sessions, home, n_candidates=1)
    with sessions() as s:
        body = next_batch(s, Acknowledged(6, 0, 0), 6)  # entries 7.., as if batch 1..6 was lost
        manifest = build_manifest(body, 7, "00" * 32, 0, 0)
        env = build_envelope(functools.partial(home.sign, "ais_owner"), seq=next_seq(s, "ais_owner"), sender="ais_owner",
                             receiver="backup_centre", type="replication_batch", created_at=at(30), payload=manifest, prev_digest=log_head(s).digest)
    with pytest.raises(ReplicationError, match="missed batch: replica ends at entry 0, batch continues at 7"):
        replica.apply(env, body)
    assert replica.state().index == 0


def test_forged_batch_is_refused(sessions, home, replica):
    """A batch not signed by the AIS owner is refused."""
    populate(sessions, home, n_candidates=1)
    with sessions() as s:
        body = next_batch(s, last_acknowledged(s), 6)
        env = build_envelope(functools.partial(home.sign, "info_provider"), seq=1, sender="ais_owner", receiver="backup_centre",
                             type="replication_batch", created_at=at(30), payload=build_manifest(body, 1, "00" * 32, 0, 0), prev_digest="00" * 32)
    with pytest.raises(ReplicationError, match="bad_signature"):
        replica.apply(env, body)


def test_backup_that_lost_a_batch_is_detected(sessions, home, replica, tmp_path):
    """A backup restored to before an acknowledged batch fails the completeness check."""
    populate(sessions, home, n_candidates=1)
    with sessions.begin() as s:
        replicate(s, home, replica, at(30), max_entries=10)
    shutil.copyfile(tmp_path / "backup.sqlite", tmp_path / "old.sqlite")
    with sessions.begin() as s:
        replicate(s, home, replica, at(31), max_entries=10)
    replica.close()
    shutil.copyfile(tmp_path / "old.sqlite", tmp_path / "backup.sqlite")
    restored = BackupReplica(f"sqlite:///{tmp_path / 'backup.sqlite'}", home.roster)
    with sessions() as s:
        problems = backup_problems(s, restored)
    restored.close()
    assert [p.code for p in problems] == ["backup_behind_ack"] and problems[0].index == 11


def test_tombstones_replicate(sessions, home, replica):
    """A purge on the primary reaches the backup: payload gone there too, both verify."""
    populate(sessions, home, n_candidates=1)
    _drain(sessions, home, replica, max_entries=1000)
    with sessions.begin() as s:
        purged = purge_expired(s, home, at(400 * 86400))
    _drain(sessions, home, replica, max_entries=1000)
    with replica.session() as rs:
        assert [a.plate for a in list_pd_access(rs)] == [None, None]
    assert replica.state().tombstone_seq == len(purged) and replica.verify().ok
    with sessions() as s:
        assert backup_problems(s, replica) == []


def test_backup_serves_reads_when_primary_is_gone(home, tmp_path):
    """With the primary database deleted, the backup answers case and access queries and verifies."""
    from exchange.schema import create_exchange_tables
    from store.db import make_engine, session_factory

    engine = make_engine(f"sqlite:///{tmp_path / 'primary.sqlite'}")
    create_exchange_tables(engine)
    sessions = session_factory(engine)
    populate(sessions, home, n_candidates=2)
    replica = BackupReplica(f"sqlite:///{tmp_path / 'backup.sqlite'}", home.roster)
    _drain(sessions, home, replica, max_entries=1000)
    engine.dispose()
    (tmp_path / "primary.sqlite").unlink()
    with replica.session() as rs:
        assert case_state(rs, "v" + "0" * 31) == "notice_issued"
        assert list_pd_access(rs)[0].plate == PLATE
    assert replica.verify().ok
    replica.close()


def test_evidence_files_are_copied_and_checked(tmp_path):
    """Evidence named in manifests is copied with its digest checked; nothing is overwritten."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "v1").mkdir(parents=True)
    (src / "v1" / "at.jpg").write_bytes(b"jpeg")
    good = {"path": "v1/at.jpg", "sha256": hashlib.sha256(b"jpeg").hexdigest()}
    items = [good, {"path": "v2/at.jpg", "sha256": "0" * 64}, {"path": "../etc/passwd", "sha256": "0" * 64}]
    first = sync_evidence(items, src, dst)
    assert first.copied == ("v1/at.jpg",) and first.missing == ("v2/at.jpg",) and first.mismatched == ("../etc/passwd",)
    assert sync_evidence([good], src, dst).present == ("v1/at.jpg",)


def test_manifest_lists_evidence(sessions, home):
    """A batch manifest carries the evidence digests of the candidates in it."""
    populate(sessions, home, n_candidates=2)
    with sessions() as s:
        body = next_batch(s, last_acknowledged(s), 1000)
    manifest = build_manifest(body, 1, "00" * 32, 0, 0)
    assert manifest["evidence"] == [{"path": "v0/at.jpg", "sha256": f"{0:064x}"}, {"path": "v1/at.jpg", "sha256": f"{1:064x}"}]
    assert manifest["to_index"] == body.records[-1]["entry"]["index"]
    with sessions.begin() as s:
        send(s, home, sender="info_provider", receiver="ais_owner", type="case_event", payload={}, at=at(1))

"""Storing runs: one transaction, idempotent re-runs, on SQLite and PostgreSQL."""

import datetime as dt

import pytest
from sqlalchemy import func, select

from pipeline.types import EvidenceFile, Violation
from store.db import init_db, make_engine, session_factory
from store.repository import CameraRecord, RunRecord, TrackSummary, list_violations, save_run, upsert_camera
from store.schema import EvidenceRow, RunRow, TrackRow, ViolationRow

CAM = CameraRecord("cam-1", "test", "cal-1", 60.0, "0" * 64)
RUN = RunRecord("run-1", "cam-1", "/v.mp4", "a" * 64, 100, 25.0, dt.datetime(2026, 11, 20, 8, tzinfo=dt.timezone.utc), "0.1.0", "onnx:test")
TRACKS = [TrackSummary(1, "car", 0, 50, 51, 55.0, 58.0), TrackSummary(2, "bus", 10, 90, 81, 81.2, 84.0)]


def _violation(vid="v" * 32, track_id=2):
    return Violation(
        id=vid, type="speeding", camera_id="cam-1", track_id=track_id, class_name="bus", first_frame=10, last_frame=90,
        at_frame=40, first_time_utc="2026-11-20T08:00:00.400+00:00", last_time_utc="2026-11-20T08:00:03.600+00:00",
        speed_kmh=84.0, limit_kmh=60.0, signal_state=None, measurements={"threshold_kmh": 70.0},
        evidence=(EvidenceFile("frame_at", f"{vid}/at.jpg", "b" * 64),),
    )


def _count(session, model):
    return session.scalar(select(func.count()).select_from(model))


def test_save_and_rerun_is_idempotent(db_url):
    """A second save of the same run adds no rows; the violation keeps its evidence."""
    engine = make_engine(db_url)
    init_db(engine)
    sf = session_factory(engine)
    for expected in [(1, 0), (0, 1)]:
        with sf.begin() as s:
            upsert_camera(s, CAM)
            assert save_run(s, RUN, TRACKS, [_violation()]) == expected
    with sf() as s:
        assert (_count(s, RunRow), _count(s, TrackRow), _count(s, ViolationRow), _count(s, EvidenceRow)) == (1, 2, 1, 1)
        (row,) = list_violations(s, "cam-1")
        assert row.speed_kmh == 84.0 and row.evidence[0].sha256 == "b" * 64
        assert row.first_time_utc.replace(tzinfo=dt.timezone.utc) == dt.datetime(2026, 11, 20, 8, 0, 0, 400000, tzinfo=dt.timezone.utc)
    engine.dispose()


def test_failure_mid_transaction_leaves_nothing(db_url):
    """An error after some rows were added rolls everything back: no half-written run."""
    engine = make_engine(db_url)
    init_db(engine)
    sf = session_factory(engine)
    bad = _violation(vid="w" * 32)
    bad = Violation(**{**bad.__dict__, "camera_id": "no-such-camera"})  # foreign key violation
    with pytest.raises(Exception):
        with sf.begin() as s:
            upsert_camera(s, CAM)
            save_run(s, RUN, TRACKS, [_violation(), bad])
    with sf() as s:
        assert (_count(s, RunRow), _count(s, TrackRow), _count(s, ViolationRow)) == (0, 0, 0)
    engine.dispose()

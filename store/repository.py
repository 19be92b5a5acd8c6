"""Writes and reads of processing results. Functions take a session and never commit:
the caller owns the transaction (``with session.begin():``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.types import Violation
from store.schema import CameraRow, EvidenceRow, RunRow, TrackRow, ViolationRow


@dataclass(frozen=True)
class CameraRecord:
    id: str
    name: str
    calibration_version: str
    speed_limit_kmh: float
    config_sha256: str
    lat: float | None = None  # WGS-84 degrees, from the camera config's location (clone checks)
    lon: float | None = None


@dataclass(frozen=True)
class RunRecord:
    id: str
    camera_id: str
    video_path: str
    video_sha256: str
    frame_count: int
    fps: float
    start_time_utc: dt.datetime
    software_version: str
    model: str


@dataclass(frozen=True)
class TrackSummary:
    track_id: int
    class_name: str
    first_frame: int
    last_frame: int
    n_points: int
    speed_kmh: float | None
    max_speed_kmh: float | None


def upsert_camera(session: Session, cam: CameraRecord) -> None:
    row = session.get(CameraRow, cam.id)
    if row is None:
        session.add(CameraRow(**cam.__dict__))
    else:
        for key, value in cam.__dict__.items():
            setattr(row, key, value)


def save_run(
    session: Session, run: RunRecord, tracks: list[TrackSummary], violations: list[Violation]
) -> tuple[int, int]:
    """Store a run, its track summaries and violations; idempotent on re-runs.

    Returns:
        (violations added, violations already present).
    """
    if session.get(RunRow, run.id) is None:
        session.add(RunRow(**run.__dict__))
        session.flush()
        session.add_all(TrackRow(run_id=run.id, **t.__dict__) for t in tracks)
    added = existing = 0
    for v in violations:
        if session.get(ViolationRow, v.id) is not None:
            existing += 1
            continue
        row = ViolationRow(
            id=v.id,
            run_id=run.id,
            camera_id=v.camera_id,
            type=v.type,
            track_id=v.track_id,
            class_name=v.class_name,
            first_frame=v.first_frame,
            last_frame=v.last_frame,
            first_time_utc=dt.datetime.fromisoformat(v.first_time_utc),
            last_time_utc=dt.datetime.fromisoformat(v.last_time_utc),
            speed_kmh=v.speed_kmh,
            limit_kmh=v.limit_kmh,
            signal_state=v.signal_state,
            measurements=dict(v.measurements),
            plate_text=v.plate_text,
            plate_confidence=v.plate_confidence,
            plate_status=v.plate_status,
            plate_country=v.plate_country,
            plate_guess=v.plate_guess,
        )
        row.evidence = [EvidenceRow(kind=e.kind, path=e.path, sha256=e.sha256) for e in v.evidence]
        session.add(row)
        added += 1
    session.flush()
    return added, existing


def list_violations(session: Session, camera_id: str | None = None) -> list[ViolationRow]:
    stmt = select(ViolationRow).order_by(ViolationRow.first_time_utc, ViolationRow.id)
    if camera_id:
        stmt = stmt.where(ViolationRow.camera_id == camera_id)
    return list(session.scalars(stmt))

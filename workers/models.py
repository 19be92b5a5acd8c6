"""Distributed file jobs: one row per submitted video, one per segment of it.

A job is what an operator submitted (video, camera config, detector, options); its segments are
what the workers do. A segment row is the task's durable state: Celery messages carry only the
segment id, and a redelivered message finds the row ``done`` and does nothing. A segment's
violations, its run and its exchange-log entries commit in the same transaction that marks it
``done``, so a crash leaves either all of them or none.

Repository functions take a session and never commit.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from store.schema import Base

JOB_STATES = ("queued", "running", "done", "failed")
SEGMENT_STATES = ("queued", "running", "done", "failed")


class JobRow(Base):
    """A video submitted for distributed processing."""

    __tablename__ = "worker_jobs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    camera_id: Mapped[str] = mapped_column(String(64), index=True)
    video_path: Mapped[str] = mapped_column(Text)
    video_sha256: Mapped[str] = mapped_column(String(64))
    config_yaml: Mapped[str] = mapped_column(Text)  # the camera config as submitted (workers need no copy)
    config_sha256: Mapped[str] = mapped_column(String(64))
    device: Mapped[str] = mapped_column(String(16))
    detector: Mapped[str] = mapped_column(String(32))
    options: Mapped[dict] = mapped_column(JSON)  # ProcessOptions fields + plates flag
    evidence_root: Mapped[str] = mapped_column(Text)
    fps: Mapped[float] = mapped_column(Float)
    frame_count: Mapped[int] = mapped_column(Integer)
    plan: Mapped[dict] = mapped_column(JSON)  # segment plan parameters, frames
    status: Mapped[str] = mapped_column(String(16), default="queued")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    submitted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class SegmentRow(Base):
    """One segment of a job: core frames [core_start, core_end) and what became of them."""

    __tablename__ = "worker_segments"
    __table_args__ = (UniqueConstraint("job_id", "index"),)

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("worker_jobs.id"), index=True)
    index: Mapped[int] = mapped_column(Integer)
    core_start: Mapped[int] = mapped_column(Integer)
    core_end: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(200), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decoded_from: Mapped[int | None] = mapped_column(Integer, nullable=True)
    decoded_to: Mapped[int | None] = mapped_column(Integer, nullable=True)  # exclusive
    frames: Mapped[int | None] = mapped_column(Integer, nullable=True)
    seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    truncated_tracks: Mapped[int | None] = mapped_column(Integer, nullable=True)
    violation_ids: Mapped[list | None] = mapped_column(JSON, nullable=True)
    result: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # violations.json entries of this segment
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), onupdate=func.now())


def segments_of(session: Session, job_id: str) -> list[SegmentRow]:
    return list(session.scalars(select(SegmentRow).where(SegmentRow.job_id == job_id).order_by(SegmentRow.index)))


def refresh_job_status(session: Session, job: JobRow, at: dt.datetime) -> str:
    """Derive a job's status from its segments: failed if any failed, done if all are done."""
    states = [s.status for s in segments_of(session, job.id)]
    if any(s == "failed" for s in states):
        job.status = "failed"
        failed = [s for s in segments_of(session, job.id) if s.status == "failed"]
        job.error = "; ".join(f"segment {s.index}: {s.error}" for s in failed)[:4000]
    elif states and all(s == "done" for s in states):
        job.status = "done"
    elif any(s in ("running", "done") for s in states):
        job.status = "running"
    else:
        job.status = "queued"
    if job.status in ("done", "failed") and job.finished_at is None:
        job.finished_at = at
    return job.status

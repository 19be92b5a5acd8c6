"""SQLAlchemy 2.0 schema: cameras, processing runs, track summaries, violations, evidence."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class CameraRow(Base):
    __tablename__ = "cameras"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    calibration_version: Mapped[str] = mapped_column(String(100))
    speed_limit_kmh: Mapped[float] = mapped_column(Float)
    config_sha256: Mapped[str] = mapped_column(String(64))
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)  # WGS-84 degrees
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), onupdate=func.now())


class RunRow(Base):
    """One processing of one video segment."""

    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id"))
    video_path: Mapped[str] = mapped_column(Text)
    video_sha256: Mapped[str] = mapped_column(String(64))
    frame_count: Mapped[int] = mapped_column(Integer)
    fps: Mapped[float] = mapped_column(Float)
    start_time_utc: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    software_version: Mapped[str] = mapped_column(String(40))
    model: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    tracks: Mapped[list[TrackRow]] = relationship(back_populates="run")


class TrackRow(Base):
    __tablename__ = "tracks"
    __table_args__ = (UniqueConstraint("run_id", "track_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"))
    track_id: Mapped[int] = mapped_column(Integer)
    class_name: Mapped[str] = mapped_column(String(32))
    first_frame: Mapped[int] = mapped_column(Integer)
    last_frame: Mapped[int] = mapped_column(Integer)
    n_points: Mapped[int] = mapped_column(Integer)
    speed_kmh: Mapped[float | None] = mapped_column(Float, nullable=True)
    max_speed_kmh: Mapped[float | None] = mapped_column(Float, nullable=True)

    run: Mapped[RunRow] = relationship(back_populates="tracks")


class ViolationRow(Base):
    """A violation candidate. ``id`` is derived from camera, source, track and rule, so a
    re-run or a redelivered task finds the row instead of adding a second one."""

    __tablename__ = "violations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"))
    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id"), index=True)
    type: Mapped[str] = mapped_column(String(40), index=True)
    track_id: Mapped[int] = mapped_column(Integer)
    class_name: Mapped[str] = mapped_column(String(32))
    first_frame: Mapped[int] = mapped_column(Integer)
    last_frame: Mapped[int] = mapped_column(Integer)
    first_time_utc: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    last_time_utc: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    speed_kmh: Mapped[float | None] = mapped_column(Float, nullable=True)
    limit_kmh: Mapped[float | None] = mapped_column(Float, nullable=True)
    signal_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    measurements: Mapped[dict] = mapped_column(JSON)
    plate_text: Mapped[str | None] = mapped_column(String(32), nullable=True)
    plate_confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    plate_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    plate_country: Mapped[str | None] = mapped_column(String(16), nullable=True)
    plate_guess: Mapped[str | None] = mapped_column(String(32), nullable=True)
    status: Mapped[str] = mapped_column(String(24), default="detected")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    evidence: Mapped[list[EvidenceRow]] = relationship(back_populates="violation", order_by="EvidenceRow.id")


class EvidenceRow(Base):
    __tablename__ = "evidence_files"
    __table_args__ = (UniqueConstraint("violation_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    violation_id: Mapped[str] = mapped_column(ForeignKey("violations.id"))
    kind: Mapped[str] = mapped_column(String(32))
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))

    violation: Mapped[ViolationRow] = relationship(back_populates="evidence")

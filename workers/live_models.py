"""Live camera registry and operator alerts: tables on ``store.schema.Base`` and repository
functions (which never commit; the caller owns the transaction).

``live_cameras`` says which streams exist and where they should run; who runs them right now
lives in Redis (``workers/leases.py``). ``camera_alerts`` keeps every operator alert (frozen
picture, timestamp gap, frame-rate drop, disconnects); it is insert-only.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import JSON, Boolean, DateTime, Integer, String, Text, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from store.schema import Base

CAMERA_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")  # same as CameraConfig.camera_id
STREAM_SCHEMES = ("rtsp", "rtsps", "http", "https", "tcp", "udp", "srt", "file")
POOLS = ("cpu", "gpu")


class LiveCameraRow(Base):
    """A registered live camera."""

    __tablename__ = "live_cameras"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    stream_url: Mapped[str] = mapped_column(Text)
    config_path: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    pool: Mapped[str] = mapped_column(String(16), default="cpu")
    desired_worker: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), onupdate=func.now())


class CameraAlertRow(Base):
    """One operator alert about a live camera (insert-only)."""

    __tablename__ = "camera_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    camera_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))  # "raised" or "cleared"
    message: Mapped[str] = mapped_column(Text)
    worker_id: Mapped[str] = mapped_column(String(128))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    at_utc: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)


@dataclass(frozen=True)
class LiveCamera:
    id: str
    stream_url: str
    config_path: str
    enabled: bool
    pool: str
    desired_worker: str | None


def redact_url(url: str) -> str:
    """The URL without its password, for logs and listings (RTSP URLs often carry one)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, f"{parts.username}:***@{host}", parts.path, parts.query, parts.fragment))


def check_camera(camera_id: str, stream_url: str, config_path: str | Path, pool: str) -> None:
    """Validate a registration; raises ValueError naming the field and the problem."""
    if not CAMERA_ID_RE.match(camera_id):
        raise ValueError(f"camera id {camera_id!r}: expected 1-63 of a-z, 0-9 and '-', starting with a letter or digit")
    scheme = urlsplit(stream_url).scheme.lower()
    if scheme not in STREAM_SCHEMES:
        raise ValueError(f"stream url {redact_url(stream_url)!r}: scheme {scheme or '(none)'!r} is not one of {', '.join(STREAM_SCHEMES)}")
    if pool not in POOLS:
        raise ValueError(f"pool {pool!r}: expected one of {', '.join(POOLS)}")
    if not Path(config_path).is_file():
        raise ValueError(f"camera config {config_path}: file not found")


def _to_camera(row: LiveCameraRow) -> LiveCamera:
    return LiveCamera(row.id, row.stream_url, row.config_path, row.enabled, row.pool, row.desired_worker)


def add_camera(session: Session, camera_id: str, stream_url: str, config_path: str, pool: str = "cpu", enabled: bool = True) -> LiveCamera:
    """Register a camera; a second registration of the same id is an error (use update)."""
    check_camera(camera_id, stream_url, config_path, pool)
    if session.get(LiveCameraRow, camera_id) is not None:
        raise ValueError(f"camera {camera_id!r}: already registered")
    row = LiveCameraRow(id=camera_id, stream_url=stream_url, config_path=str(Path(config_path).resolve()), enabled=enabled, pool=pool)
    session.add(row)
    session.flush()
    return _to_camera(row)


def assign_camera(session: Session, camera_id: str, *, worker: str | None = None, pool: str | None = None, enabled: bool | None = None) -> LiveCamera:
    """Set a camera's desired worker (``""`` clears it), pool or enabled flag."""
    row = session.get(LiveCameraRow, camera_id)
    if row is None:
        raise ValueError(f"camera {camera_id!r}: not registered (see `safecity cameras list`)")
    if pool is not None:
        if pool not in POOLS:
            raise ValueError(f"pool {pool!r}: expected one of {', '.join(POOLS)}")
        row.pool = pool
    if worker is not None:
        row.desired_worker = worker or None
    if enabled is not None:
        row.enabled = enabled
    session.flush()
    return _to_camera(row)


def list_cameras(session: Session, enabled_only: bool = False) -> list[LiveCamera]:
    stmt = select(LiveCameraRow).order_by(LiveCameraRow.id)
    if enabled_only:
        stmt = stmt.where(LiveCameraRow.enabled.is_(True))
    return [_to_camera(r) for r in session.scalars(stmt)]


def insert_alert(session: Session, camera_id: str, kind: str, state: str, message: str, worker_id: str, details: dict, at_utc: dt.datetime) -> None:
    session.add(CameraAlertRow(camera_id=camera_id, kind=kind, state=state, message=message, worker_id=worker_id, details=details, at_utc=at_utc))


def recent_alerts(session: Session, limit: int = 50, camera_id: str | None = None) -> list[CameraAlertRow]:
    stmt = select(CameraAlertRow).order_by(CameraAlertRow.id.desc()).limit(limit)
    if camera_id:
        stmt = stmt.where(CameraAlertRow.camera_id == camera_id)
    return list(session.scalars(stmt))

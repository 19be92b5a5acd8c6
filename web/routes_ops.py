"""Operator pages: cameras, workers and queues, alerts. Shows what is there and says what is not."""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from exchange.schema import ExchangeEntryRow
from store.schema import CameraRow, EvidenceRow, RunRow, ViolationRow
from web.deps import authorize, now, render, tx
from web.evidence import EvidenceIntegrityError, find_evidence

logger = logging.getLogger(__name__)

router = APIRouter(dependencies=[Depends(authorize)])

BROKER_ENVS = ("SAFECITY_REDIS_URL", "SAFECITY_BROKER_URL")
THUMBNAIL_WIDTH_PX = 320  # small enough that no plate is legible to the operator


@dataclass(frozen=True)
class CameraStatus:
    id: str
    name: str
    speed_limit_kmh: float
    calibration_version: str
    last_run_at: dt.datetime | None
    last_run_fps: float | None
    last_run_frames: int | None
    violations_24h: int
    stale: bool


def _aware(t: dt.datetime | None) -> dt.datetime | None:
    return None if t is None else (t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc))


def camera_statuses(session: Session, at: dt.datetime, stale_minutes: int) -> list[CameraStatus]:
    out = []
    for cam in session.scalars(select(CameraRow).order_by(CameraRow.id)):
        run = session.scalars(select(RunRow).where(RunRow.camera_id == cam.id).order_by(RunRow.start_time_utc.desc()).limit(1)).first()
        n = session.scalar(select(func.count()).select_from(ViolationRow).where(
            ViolationRow.camera_id == cam.id, ViolationRow.first_time_utc >= at - dt.timedelta(hours=24))) or 0
        last = _aware(run.start_time_utc) if run else None
        out.append(CameraStatus(cam.id, cam.name, cam.speed_limit_kmh, cam.calibration_version, last,
                                run.fps if run else None, run.frame_count if run else None, n,
                                last is None or at - last > dt.timedelta(minutes=stale_minutes)))
    return out


def live_status(session: Session):
    """The live-camera snapshot of ``workers.status`` (workers, queue depths, per-camera fps,
    lag, last frame, alerts), or None and why when the coordination Redis is not configured or
    not reachable. Reads ``SAFECITY_REDIS_URL`` / ``SAFECITY_BROKER_URL`` / ``SAFECITY_KEY_PREFIX``
    like ``safecity status``."""
    url = next((os.environ[e] for e in BROKER_ENVS if os.environ.get(e)), None)
    if url is None:
        return None, "живой статус недоступен: координационный Redis не настроен (SAFECITY_REDIS_URL)"
    try:
        import redis

        from workers.live_models import list_cameras
        from workers.status import gather_status

        red = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
        broker_url = os.environ.get("SAFECITY_BROKER_URL")
        broker = redis.Redis.from_url(broker_url, socket_connect_timeout=1, socket_timeout=2) if broker_url and broker_url != url else red
        try:
            return gather_status(red, broker, os.environ.get("SAFECITY_KEY_PREFIX", "safecity:"), list_cameras(session)), None
        finally:
            red.close()
            if broker is not red:
                broker.close()
    except Exception as exc:  # page boundary: an unreachable Redis is shown, not raised
        logger.warning("live status unavailable error=%s", type(exc).__name__)
        return None, f"живой статус недоступен: {type(exc).__name__}"


def db_camera_alerts(session: Session, limit: int = 50) -> list:
    """Recent raised/cleared camera alerts stored by the live workers (none when absent)."""
    try:
        from workers.live_models import recent_alerts

        return list(recent_alerts(session, limit=limit))
    except ImportError:
        return []


def alerts(session: Session, request: Request, at: dt.datetime) -> list[tuple[str, str]]:
    """(severity, text) of what needs an operator."""
    settings = request.app.state.settings
    out: list[tuple[str, str]] = []
    for cam in camera_statuses(session, at, settings.camera_stale_minutes):
        if cam.stale:
            when = cam.last_run_at.strftime("%Y-%m-%d %H:%M UTC") if cam.last_run_at else "никогда"
            out.append(("warning", f"Камера {cam.id}: нет обработки дольше {settings.camera_stale_minutes} мин (последняя: {when})"))
    rejected = session.scalar(select(func.count()).select_from(ExchangeEntryRow).where(ExchangeEntryRow.status == "rejected")) or 0
    if rejected:
        out.append(("error", f"Журнал обмена: {rejected} отклонённых конвертов (проверьте ключи и часы)"))
    if request.app.state.registry.engine is None:
        out.append(("warning", "Реестр ТС не настроен: дела нельзя подтвердить"))
    if not request.app.state.evidence_sources:
        out.append(("warning", "Папки доказательств не настроены (SAFECITY_EVIDENCE_DIRS или SAFECITY_EVIDENCE_URL)"))
    report, error = live_status(session)
    if error:
        out.append(("info", error))
    else:
        out.extend(("error", p) for p in report.problems)
    return out


@router.get("/ops/cameras", name="ops_cameras")
def ops_cameras(request: Request):
    with tx(request) as session:
        cams = camera_statuses(session, now(request), request.app.state.settings.camera_stale_minutes)
        live, live_error = live_status(session)
    return render(request, "ops_cameras.html", cameras=cams, live=live, live_error=live_error)


@router.get("/ops/cameras/{camera_id}/thumbnail.jpg", name="ops_camera_thumbnail")
def ops_camera_thumbnail(request: Request, camera_id: str):
    """The latest evidence frame of the camera, shrunk to a thumbnail."""
    import cv2
    import numpy as np

    with tx(request) as session:
        vid = session.scalar(
            select(EvidenceRow.violation_id).join(ViolationRow, ViolationRow.id == EvidenceRow.violation_id)
            .where(ViolationRow.camera_id == camera_id, EvidenceRow.kind == "frame_before")
            .order_by(ViolationRow.first_time_utc.desc()).limit(1)
        )
        if vid is None:
            raise HTTPException(404, f"нет кадров камеры {camera_id!r}")
        try:
            found = find_evidence(session, request.app.state.evidence_sources, vid, "frame_before")
        except (LookupError, EvidenceIntegrityError) as exc:
            raise HTTPException(404, str(exc)) from None
    image = cv2.imdecode(np.frombuffer(found.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise HTTPException(404, "кадр не декодируется")
    h, w = image.shape[:2]
    small = cv2.resize(image, (THUMBNAIL_WIDTH_PX, max(1, round(h * THUMBNAIL_WIDTH_PX / w))), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 70])
    return Response(buf.tobytes(), media_type="image/jpeg")


@router.get("/ops/workers", name="ops_workers")
def ops_workers(request: Request):
    with tx(request) as session:
        runs = list(session.scalars(select(RunRow).order_by(RunRow.created_at.desc()).limit(20)))
        live, error = live_status(session)
    return render(request, "ops_workers.html", live=live, error=error, runs=runs)


@router.get("/ops/alerts", name="ops_alerts")
def ops_alerts(request: Request):
    with tx(request) as session:
        items = alerts(session, request, now(request))
        stored = db_camera_alerts(session)
    return render(request, "ops_alerts.html", alerts=items, stored=stored)


@router.get("/api/ops/status", name="api_ops_status")
def api_ops_status(request: Request):
    at = now(request)
    with tx(request) as session:
        cams = camera_statuses(session, at, request.app.state.settings.camera_stale_minutes)
        items = alerts(session, request, at)
        live, error = live_status(session)
    return {
        "cameras": [{"id": c.id, "last_run_at": c.last_run_at.isoformat() if c.last_run_at else None, "fps": c.last_run_fps,
                     "violations_24h": c.violations_24h, "stale": c.stale} for c in cams],
        "live": live.to_doc() if live else None, "live_error": error,
        "alerts": [{"severity": s, "text": t} for s, t in items],
    }

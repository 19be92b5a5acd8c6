"""Police review: the queue, the case page, decisions, evidence and notices."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import logging
from urllib.parse import quote, unquote

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from exchange.errors import EnvelopeRejectedError, IllegalTransitionError, LogContentionError
from registry_adapters.base import RegistryUnavailable
from web import review
from web.auth import CurrentUser
from web.deps import authorize, is_api, now, render, tx
from web.evidence import EvidenceIntegrityError, find_evidence

logger = logging.getLogger(__name__)

router = APIRouter(dependencies=[Depends(authorize)])


def _filter(camera: str | None, type: str | None, date_from: str | None, date_to: str | None, status: str | None) -> review.QueueFilter:
    def day(text: str | None, name: str) -> dt.date | None:
        if not text:
            return None
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise HTTPException(422, f"{name}: ожидается дата ГГГГ-ММ-ДД, получено {text!r}") from None

    if status and status not in ("open", "all", review.NOT_LOGGED, *review.STATE_LABELS):
        raise HTTPException(422, f"status: неизвестное состояние {status!r}")
    return review.QueueFilter(camera or None, type or None, day(date_from, "date_from"), day(date_to, "date_to"), None if status == "all" else (status or "open"))


@router.get("/review", name="review_queue")
def review_queue(
    request: Request,
    camera: str | None = Query(None, max_length=64), type: str | None = Query(None, max_length=40),
    date_from: str | None = Query(None, max_length=10), date_to: str | None = Query(None, max_length=10),
    status: str | None = Query("open", max_length=24), page: int = Query(1, ge=1, le=100_000),
):
    flt = _filter(camera, type, date_from, date_to, status)
    size = request.app.state.settings.page_size
    with tx(request) as session:
        items = review.list_queue(session, flt, size + 1, (page - 1) * size)
        cameras, types = review.queue_facets(session)
    more = len(items) > size
    return render(request, "review.html", items=items[:size], flt=flt, cameras=cameras, types=types, page=page, more=more,
                  status=status or "open", query=request.url.query)


@router.get("/api/review", name="api_review_queue")
def api_review_queue(
    request: Request,
    camera: str | None = Query(None, max_length=64), type: str | None = Query(None, max_length=40),
    date_from: str | None = Query(None, max_length=10), date_to: str | None = Query(None, max_length=10),
    status: str | None = Query("open", max_length=24), limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0),
):
    flt = _filter(camera, type, date_from, date_to, status)
    with tx(request) as session:
        items = review.list_queue(session, flt, limit, offset)
    return {"items": [{
        "id": i.id, "camera_id": i.camera_id, "type": i.type, "first_time_utc": i.first_time_utc.isoformat(),
        "speed_kmh": i.speed_kmh, "limit_kmh": i.limit_kmh, "signal_state": i.signal_state, "plate_text": i.plate_text,
        "plate_status": i.plate_status, "state": i.state, "evidence": list(i.evidence_kinds),
    } for i in items]}


def _open(request: Request, violation_id: str, user: CurrentUser) -> review.CaseView:
    st = request.app.state
    for attempt in range(3):
        try:
            with tx(request) as session:
                return review.open_case(session, st.home, st.registry, violation_id, f"user:{user.username}", "ais_user", now(request))
        except LookupError:
            raise HTTPException(404, f"дело {violation_id!r} не найдено") from None
        except (IllegalTransitionError, LogContentionError):
            if attempt == 2:  # another reviewer moved the case at the same moment: read it again
                raise
    raise AssertionError("unreachable")


def _metadata(request: Request, violation_id: str) -> dict:
    """The evidence metadata.json (signal timeline, measurements), if its file verifies."""
    try:
        with tx(request) as session:
            found = find_evidence(session, request.app.state.evidence_sources, violation_id, "metadata")
        return json.loads(found.read_bytes().decode("utf-8"))
    except (LookupError, EvidenceIntegrityError, OSError, ValueError):
        return {}


def _neighbours(request: Request, violation_id: str) -> tuple[str | None, str | None]:
    with tx(request) as session:
        ids = [i.id for i in review.list_queue(session, review.QueueFilter(), 10_000)]
    if violation_id not in ids:
        return (ids[0] if ids else None), None
    k = ids.index(violation_id)
    return (ids[k + 1] if k + 1 < len(ids) else None), (ids[k - 1] if k > 0 else None)


@router.get("/cases/{violation_id}", name="case_page")
def case_page(request: Request, violation_id: str, user: CurrentUser = Depends(authorize)):
    view = _open(request, violation_id, user)
    nxt, prev = _neighbours(request, violation_id)
    notice = _notice_state(request, violation_id) if view.state in ("confirmed", "notice_issued") else None
    msg, err = _read_flash(request)
    response = render(request, "case.html", case=view, v=view.violation, meta=_metadata(request, violation_id), next_id=nxt, prev_id=prev,
                      msg=msg, err=err, notice=notice)
    if FLASH_COOKIE in request.cookies:
        response.delete_cookie(FLASH_COOKIE, path="/cases")
    return response


@router.get("/api/cases/{violation_id}", name="api_case")
def api_case(request: Request, violation_id: str, user: CurrentUser = Depends(authorize)):
    view = _open(request, violation_id, user)
    v = view.violation
    rec = view.registry.result.record if view.registry.result else None
    return {
        "id": v.id, "camera_id": v.camera_id, "type": v.type, "state": view.state, "first_time_utc": v.first_time_utc.isoformat(),
        "speed_kmh": v.speed_kmh, "limit_kmh": v.limit_kmh, "signal_state": v.signal_state, "measurements": v.measurements,
        "plate": {"text": v.plate_text, "status": v.plate_status, "confidence": v.plate_confidence, "guess": v.plate_guess},
        "registry": {"status": view.registry.result.status if view.registry.result else None, "error": view.registry.error,
                     "vehicle": None if rec is None else {"plate": rec.plate, "make": rec.make, "model": rec.model, "colour": rec.colour,
                                                         "registration_status": rec.registration_status}},
        "evidence": list(view.evidence_kinds), "history": list(view.history),
    }


# The outcome message rides in a short-lived cookie, never in the URL: messages may name a
# plate, and URLs end up in access logs.
FLASH_COOKIE = "safecity_flash"


def _redirect_with_flash(request: Request, violation_id: str, *, msg: str | None = None, err: str | None = None):
    response = RedirectResponse(f"/cases/{quote(violation_id, safe='')}", status_code=303)
    doc = json.dumps({"ok": err is None, "text": (msg or err or "")[:500]}, ensure_ascii=True)
    response.set_cookie(FLASH_COOKIE, quote(doc), max_age=60, path="/cases", httponly=True, samesite="strict",
                        secure=request.app.state.settings.cookie_secure)
    return response


def _read_flash(request: Request) -> tuple[str | None, str | None]:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None, None
    try:
        doc = json.loads(unquote(raw))
        text = str(doc["text"])[:500]
        return (text, None) if doc["ok"] else (None, text)
    except (ValueError, KeyError, TypeError):
        return None, None


def _back(request: Request, violation_id: str, *, msg: str | None = None, err: str | None = None, status: int = 400):
    if is_api(request) or request.headers.get("accept", "").startswith("application/json"):
        from fastapi.responses import JSONResponse

        return JSONResponse({"ok": err is None, "message": msg or err}, status_code=200 if err is None else status)
    return _redirect_with_flash(request, violation_id, msg=msg, err=err)


def _act(request: Request, violation_id: str, action):
    try:
        with tx(request) as session:
            return action(session), None
    except LookupError:
        raise HTTPException(404, f"дело {violation_id!r} не найдено") from None
    except review.ReviewError as exc:
        return None, (str(exc), 409)
    except RegistryUnavailable as exc:
        return None, (f"Реестр недоступен, решение не принято: {exc}", 503)
    except (EnvelopeRejectedError, LogContentionError) as exc:
        logger.warning("decision not logged case=%s error=%s", violation_id, type(exc).__name__)
        return None, (f"Журнал обмена не принял запись, повторите: {exc}", 503)


@router.post("/cases/{violation_id}/confirm", name="case_confirm")
def case_confirm(request: Request, violation_id: str, user: CurrentUser = Depends(authorize), go_next: str = Form("")):
    st = request.app.state
    at = now(request)
    outcome, failure = _act(request, violation_id, lambda s: review.confirm_case(s, st.home, st.registry, violation_id, user.username, "ais_user", at))
    if failure:
        return _back(request, violation_id, err=failure[0], status=failure[1])
    if not outcome.accepted:
        return _back(request, violation_id, err=outcome.message, status=409)
    note, _ = _issue_notice(request, violation_id, user.username, at)
    if go_next and note is None and not is_api(request):
        nxt, _ = _neighbours(request, violation_id)
        if nxt:
            return _redirect_with_flash(request, nxt, msg="Предыдущее дело подтверждено и подписано")
    return _back(request, violation_id, msg="Нарушение подтверждено и подписано" + (f"; {note}" if note else ""))


@router.post("/cases/{violation_id}/reject", name="case_reject")
def case_reject(request: Request, violation_id: str, user: CurrentUser = Depends(authorize),
                reason_code: str = Form("", max_length=40), comment: str = Form("", max_length=2000), go_next: str = Form("")):
    st = request.app.state
    at = now(request)
    _, failure = _act(request, violation_id, lambda s: review.reject_case(s, st.home, violation_id, user.username, "ais_user", reason_code, comment, at))
    if failure:
        return _back(request, violation_id, err=failure[0], status=failure[1])
    if go_next and not is_api(request):
        nxt, _ = _neighbours(request, violation_id)
        if nxt:
            return _redirect_with_flash(request, nxt, msg="Предыдущее дело отклонено, решение подписано")
    return _back(request, violation_id, msg="Нарушение отклонено, решение подписано")


@router.post("/cases/{violation_id}/plate", name="case_correct_plate")
def case_correct_plate(request: Request, violation_id: str, user: CurrentUser = Depends(authorize), plate: str = Form("", max_length=64)):
    st = request.app.state
    row, failure = _act(request, violation_id, lambda s: review.correct_plate(s, st.home, st.registry, violation_id, user.username, "ais_user", plate, now(request)))
    if failure:
        return _back(request, violation_id, err=failure[0], status=failure[1])
    return _back(request, violation_id, msg=f"Номер исправлен на {row.new_text}; реестр: {row.lookup_status}")


# ------------------------------------------------------------------------------- notices

def _notices_service():
    """The notices package's service module, or None while it is not installed."""
    if importlib.util.find_spec("notices") is None or importlib.util.find_spec("notices.service") is None:
        return None
    import notices.service

    return notices.service


def _evidence_root(request: Request, violation_id: str):
    """The evidence folder or store holding this violation's files (the notice embeds its photo)."""
    roots = request.app.state.evidence_sources
    with tx(request) as session:
        for kind in ("frame_at", "frame_before", "vehicle_crop"):
            try:
                found = find_evidence(session, roots, violation_id, kind)
            except (LookupError, EvidenceIntegrityError):
                continue
            return found.source
    return None


def _issue_notice(request: Request, violation_id: str, officer: str, at: dt.datetime) -> tuple[str | None, int]:
    """Issue the notice of a confirmed case in its own transaction; the decision stays either way.

    A case that must not be fined (NoticeRefusedError: nothing was written) gets its refusal
    recorded in a transaction of its own, so the case page shows why; retrying does not help.

    Returns:
        (None, 200) when issued; otherwise what to tell the reviewer and the HTTP status: 409
        for a refusal, 503 for a failure the case page offers to retry.
    """
    service = _notices_service()
    if service is None:
        return "модуль постановлений не установлен", 503
    from notices.errors import NoticeRefusedError

    root = _evidence_root(request, violation_id)
    try:
        with tx(request) as session:
            service.issue_notice(session, violation_id, decided_by=officer, decided_at=at, home=request.app.state.home, evidence_root=root)
    except NoticeRefusedError as refused:
        try:
            with tx(request) as session:
                service.record_refusal(session, refused, decided_by=officer, decided_at=at)
        except Exception:  # request boundary: the refusal stands; only its record failed
            logger.exception("notice refusal not recorded case=%s code=%s", violation_id, refused.code)
        return f"постановление не выдаётся: {refused.reason}", 409
    except Exception as exc:  # request boundary: the confirmation is committed, the notice can be retried
        logger.exception("notice not issued case=%s", violation_id)
        return f"постановление не выдано ({type(exc).__name__}: {exc}); повторите с карточки дела", 503
    return None, 200


def _notice_state(request: Request, violation_id: str) -> dict:
    service = _notices_service()
    if service is None:
        return {"available": False, "notice": None}
    with tx(request) as session:
        return {"available": True, "notice": service.notice_for_violation(session, violation_id),
                "refusals": service.refusals_for_violation(session, violation_id)}


@router.post("/cases/{violation_id}/notice", name="case_issue_notice")
def case_issue_notice(request: Request, violation_id: str, user: CurrentUser = Depends(authorize)):
    with tx(request) as session:
        try:
            review.get_violation(session, violation_id)
        except LookupError:
            raise HTTPException(404, f"дело {violation_id!r} не найдено") from None
        from exchange.cases import case_state

        state = case_state(session, violation_id)
    if state != "confirmed":
        return _back(request, violation_id, err="Постановление выдаётся только по подтверждённому делу без постановления", status=409)
    note, status = _issue_notice(request, violation_id, user.username, now(request))
    return _back(request, violation_id, msg="Постановление выдано") if note is None else _back(request, violation_id, err=note, status=status)


@router.get("/cases/{violation_id}/notice.pdf", name="case_notice_pdf")
def case_notice_pdf(request: Request, violation_id: str):
    service = _notices_service()
    if service is None:
        raise HTTPException(404, "модуль постановлений не установлен")
    with tx(request) as session:
        record = service.notice_for_violation(session, violation_id)
        if record is None:
            raise HTTPException(404, f"нет постановления по делу {violation_id!r}")
        try:
            data = service.notice_pdf(session, record.id, home=request.app.state.home)
        except Exception as exc:  # request boundary: a missing or altered PDF is reported, never served
            logger.error("notice pdf unavailable notice=%s error=%s", record.id, type(exc).__name__)
            raise HTTPException(409, f"PDF постановления {record.number} недоступен или изменён: {exc}") from None
    return Response(bytes(data), media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="notice-{record.number}.pdf"'})


# ------------------------------------------------------------------------------ evidence

@router.get("/evidence/{violation_id}/{kind}", name="evidence_file")
def evidence_file(request: Request, violation_id: str, kind: str):
    """An evidence file by violation id and kind; no path is ever taken from the request."""
    try:
        with tx(request) as session:
            found = find_evidence(session, request.app.state.evidence_sources, violation_id, kind)
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None
    except EvidenceIntegrityError as exc:
        raise HTTPException(409, str(exc)) from None
    headers = {"ETag": f'"{found.sha256}"', "X-Evidence-SHA256": found.sha256}
    if found.path is None:  # from the object store, already verified in memory
        return Response(found.data, media_type=found.media_type, headers=headers)
    return FileResponse(found.path, media_type=found.media_type, headers=headers)


@router.get("/supervision", name="supervision")
def supervision(request: Request, page: int = Query(1, ge=1, le=100_000)):
    size = request.app.state.settings.page_size
    with tx(request) as session:
        rows = review.decisions(session, size + 1, (page - 1) * size)
    return render(request, "supervision.html", rows=rows[:size], page=page, more=len(rows) > size)

"""Regulator pages: the exchange log with per-entry verification, full verification,
checkpoints, the personal-data access log, the export bundle; the service accounts' API."""

from __future__ import annotations

import dataclasses
import io
import json
import tempfile
import zipfile
from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from exchange.access import list_pd_access
from exchange.audit import export_bundle, verify_database
from exchange.envelope import parse_utc, utc_text
from exchange.log import list_checkpoints, log_head
from exchange.records import entry_doc, iter_records
from exchange.schema import ExchangeEntryRow, ExchangePayloadRow, ExchangeTombstoneRow
from exchange.verifier import (
    ENVELOPE_TYPES, GENESIS_DIGEST, LOG_KEEPER, SIGNED_FIELDS, chain_next, checkpoint_signing_bytes, entry_digest,
    envelope_signing_bytes, verify_signature,
)
from web.deps import authorize, now, render, tx

router = APIRouter(dependencies=[Depends(authorize)])


def _roster(request: Request) -> dict:
    return request.app.state.home.roster.to_doc()


def _time(text: str | None, name: str) -> str | None:
    if not text:
        return None
    try:
        return utc_text(parse_utc(text if "T" in text else f"{text}T00:00:00Z"))
    except ValueError:
        raise HTTPException(422, f"{name}: ожидается дата или время ISO 8601 с часовым поясом, получено {text!r}") from None


def entry_checks(session: Session, rows: list[ExchangeEntryRow], public_keys: dict[str, str]) -> dict[int, list[str]]:
    """Per entry on a page: what fails of digest, chain link and signature (empty list: verified).

    The full walk with sequence, receipt and checkpoint checks is ``/audit/verify``.
    """
    out: dict[int, list[str]] = {}
    for row in rows:
        problems = []
        doc = entry_doc(row)
        if entry_digest(doc) != row.entry_sha256:
            problems.append("дайджест записи")
        prev = GENESIS_DIGEST if row.idx == 1 else session.scalar(select(ExchangeEntryRow.chain_digest).where(ExchangeEntryRow.idx == row.idx - 1))
        if prev is None or chain_next(prev, row.entry_sha256) != row.chain_digest:
            problems.append("цепочка")
        header = {k: doc["envelope"][k] for k in SIGNED_FIELDS}
        key = public_keys.get(row.sender)
        if key is None or not verify_signature(key, envelope_signing_bytes(header), row.signature):
            problems.append("подпись")
        out[row.idx] = problems
    return out


@router.get("/audit/log", name="audit_log")
def audit_log(request: Request, type: str | None = Query(None, max_length=32), status: str | None = Query(None, max_length=16),
              case: str | None = Query(None, max_length=64), page: int = Query(1, ge=1, le=1_000_000)):
    if type and type not in ENVELOPE_TYPES:
        raise HTTPException(422, f"type: ожидается один из {', '.join(ENVELOPE_TYPES)}")
    size = request.app.state.settings.page_size
    with tx(request) as session:
        stmt = select(ExchangeEntryRow).order_by(ExchangeEntryRow.idx.desc())
        if type:
            stmt = stmt.where(ExchangeEntryRow.type == type)
        if status:
            stmt = stmt.where(ExchangeEntryRow.status == status)
        if case:
            stmt = stmt.join(ExchangePayloadRow, ExchangePayloadRow.entry_idx == ExchangeEntryRow.idx).where(ExchangePayloadRow.payload.contains(f'"case_id":"{case}"'))
        rows = list(session.scalars(stmt.limit(size + 1).offset((page - 1) * size)))
        checks = entry_checks(session, rows[:size], request.app.state.home.roster.public_keys())
        total = session.scalar(select(func.count()).select_from(ExchangeEntryRow)) or 0
        head = log_head(session)
    return render(request, "audit_log.html", rows=rows[:size], checks=checks, more=len(rows) > size, page=page, total=total, head=head,
                  types=ENVELOPE_TYPES, type=type or "", status=status or "", case=case or "")


@router.get("/audit/log/{index}", name="audit_entry")
def audit_entry(request: Request, index: int):
    with tx(request) as session:
        row = session.get(ExchangeEntryRow, index)
        if row is None:
            raise HTTPException(404, f"нет записи {index}")
        payload = session.get(ExchangePayloadRow, index)
        tomb = session.scalar(select(ExchangeTombstoneRow).where(ExchangeTombstoneRow.entry_idx == index))
        checks = entry_checks(session, [row], request.app.state.home.roster.public_keys())[index]
    pretty = json.dumps(json.loads(payload.payload), ensure_ascii=False, indent=2) if payload else None
    return render(request, "audit_entry.html", row=row, doc=json.dumps(entry_doc(row), ensure_ascii=False, indent=2), payload=pretty,
                  tombstone=tomb, checks=checks)


def _verify(request: Request, time_from: str | None, time_to: str | None):
    t_from, t_to = _time(time_from, "from"), _time(time_to, "to")
    with tx(request) as session:
        return verify_database(session, _roster(request), time_from=t_from, time_to=t_to)


@router.get("/audit/verify", name="audit_verify")
def audit_verify(request: Request, time_from: str | None = Query(None, alias="from", max_length=40), time_to: str | None = Query(None, alias="to", max_length=40)):
    report = _verify(request, time_from, time_to)
    return render(request, "audit_verify.html", report=report, time_from=time_from or "", time_to=time_to or "")


@router.get("/api/audit/verify", name="api_audit_verify")
def api_audit_verify(request: Request, time_from: str | None = Query(None, alias="from", max_length=40), time_to: str | None = Query(None, alias="to", max_length=40)):
    return _verify(request, time_from, time_to).to_dict()


@router.get("/audit/checkpoints", name="audit_checkpoints")
def audit_checkpoints(request: Request):
    owner = request.app.state.home.roster.public_keys().get(LOG_KEEPER)
    rows = []
    with tx(request) as session:
        for cp in reversed(list_checkpoints(session)):
            doc = cp.to_doc()
            entry = session.get(ExchangeEntryRow, cp.entry_index)
            rows.append((cp, bool(owner) and verify_signature(owner, checkpoint_signing_bytes(doc), cp.signature),
                         entry is not None and entry.chain_digest == cp.chain_digest))
    return render(request, "audit_checkpoints.html", rows=rows)


def _access(request: Request, time_from: str | None, time_to: str | None, case: str | None):
    t_from, t_to = _time(time_from, "from"), _time(time_to, "to")
    with tx(request) as session:
        rows = list_pd_access(session, t_from, t_to)
    if case:
        rows = [r for r in rows if r.case_id == case]
    return rows


@router.get("/audit/access-log", name="audit_access_log")
def audit_access_log(request: Request, time_from: str | None = Query(None, alias="from", max_length=40), time_to: str | None = Query(None, alias="to", max_length=40),
                     case: str | None = Query(None, max_length=64)):
    rows = _access(request, time_from, time_to, case)
    return render(request, "audit_access.html", rows=list(reversed(rows))[:1000], total=len(rows), time_from=time_from or "", time_to=time_to or "", case=case or "")


@router.get("/api/access-log", name="api_access_log")
def api_access_log(request: Request, time_from: str | None = Query(None, alias="from", max_length=40), time_to: str | None = Query(None, alias="to", max_length=40),
                   case: str | None = Query(None, max_length=64)):
    return {"accesses": [dataclasses.asdict(r) for r in _access(request, time_from, time_to, case)]}


@router.get("/audit/export.zip", name="audit_export")
def audit_export(request: Request):
    """The self-contained audit bundle (exchange.audit.export_bundle) as one zip download."""
    at = now(request)
    with tempfile.TemporaryDirectory(prefix="safecity-bundle-") as tmp:
        out = Path(tmp) / "bundle"
        with tx(request) as session:
            summary = export_bundle(session, _roster(request), out, at)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(out.iterdir()):
                zf.write(path, f"safecity-audit/{path.name}")
    name = f"safecity-audit-{at.strftime('%Y%m%dT%H%M%SZ')}-{summary.head_index}.zip"
    return Response(buf.getvalue(), media_type="application/zip", headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/api/exchange/head", name="api_exchange_head")
def api_exchange_head(request: Request):
    with tx(request) as session:
        head = log_head(session)
    return {"index": head.index, "chain_digest": head.digest}


@router.get("/api/exchange/records", name="api_exchange_records")
def api_exchange_records(request: Request, from_index: int = Query(1, ge=1), limit: int = Query(500, ge=1, le=5000)):
    """Log records (entry, digests, payload or tombstone) for the backup centre's pull."""
    with tx(request) as session:
        records = list(iter_records(session, from_index=from_index, to_index=from_index + limit - 1))
    return {"records": records}

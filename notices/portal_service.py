"""A state-services portal API for notices: the reference the ``portal`` adapter talks to.

``POST /v1/notices`` takes a notice (JSON with the PDF in base64) under an ``Idempotency-Key``
header equal to its ``notice_id``; the same notice sent again gets the same receipt, a
different PDF under a known id is refused (409). ``GET /v1/notices/{notice_id}`` answers its
receipt. It keeps the notices in memory: a real local service for tests and demos, standing
in for the portal operator's API (whose specification was not available).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import threading
import uuid

from fastapi import FastAPI, Header, HTTPException
from pydantic import BaseModel, ConfigDict, Field

NOTICES_PATH = "/v1/notices"


class PortalNotice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    notice_id: str = Field(min_length=1, max_length=64)
    number: str = Field(min_length=1, max_length=32)
    violation_id: str = Field(min_length=1, max_length=64)
    plate: str = Field(min_length=1, max_length=32)
    owner_ref: str | None = Field(default=None, max_length=64, description="registered owner's reference at the data holder")
    payment_reference: str = Field(min_length=5, max_length=25)
    amount: int = Field(gt=0)
    discounted_amount: int = Field(gt=0)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    discount_until: dt.date
    issued_at: dt.datetime
    pdf_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    pdf_base64: str = Field(min_length=1)


class PortalReceipt(BaseModel):
    model_config = ConfigDict(extra="forbid")

    receipt_id: str
    notice_id: str
    pdf_sha256: str
    accepted_at: dt.datetime


def create_portal_app(api_key: str) -> FastAPI:
    """The portal app; ``app.state.notices`` maps notice id -> (receipt, PDF bytes, the notice without its PDF)."""
    if not api_key:
        raise ValueError("api_key: expected a non-empty key")
    app = FastAPI(title="State portal notices API (reference)", docs_url=None, redoc_url=None)
    app.state.notices = {}
    lock = threading.Lock()

    def _auth(key: str | None) -> None:
        if key is None or not hmac.compare_digest(key.encode(), api_key.encode()):
            raise HTTPException(401, "missing or wrong X-API-Key")

    @app.post(NOTICES_PATH, response_model=PortalReceipt)
    def post_notice(
        body: PortalNotice,
        idempotency_key: str | None = Header(default=None, alias="Idempotency-Key"),
        x_api_key: str | None = Header(default=None),
    ) -> PortalReceipt:
        _auth(x_api_key)
        if idempotency_key != body.notice_id:
            raise HTTPException(400, "Idempotency-Key header must equal notice_id")
        try:
            pdf = base64.b64decode(body.pdf_base64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise HTTPException(422, "pdf_base64 is not base64") from exc
        if hashlib.sha256(pdf).hexdigest() != body.pdf_sha256 or not pdf.startswith(b"%PDF-"):
            raise HTTPException(422, "pdf does not match pdf_sha256 or is not a PDF")
        with lock:
            known = app.state.notices.get(body.notice_id)
            if known is not None:
                if known[0].pdf_sha256 != body.pdf_sha256:
                    raise HTTPException(409, "notice_id already delivered with another PDF")
                return known[0]
            receipt = PortalReceipt(
                receipt_id=f"PRT-{uuid.uuid4().hex[:16]}", notice_id=body.notice_id, pdf_sha256=body.pdf_sha256,
                accepted_at=dt.datetime.now(dt.timezone.utc),
            )
            app.state.notices[body.notice_id] = (receipt, pdf, body.model_dump(exclude={"pdf_base64"}))
            return receipt

    @app.get(NOTICES_PATH + "/{notice_id}", response_model=PortalReceipt)
    def get_notice(notice_id: str, x_api_key: str | None = Header(default=None)) -> PortalReceipt:
        _auth(x_api_key)
        known = app.state.notices.get(notice_id)
        if known is None:
            raise HTTPException(404, "unknown notice")
        return known[0]

    return app

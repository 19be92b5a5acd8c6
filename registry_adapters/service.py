"""The data holder's registry service (``safecity registry-serve``): authenticated REST over SQL.

Endpoints (JSON):
    ``GET /v1/health`` -> ``{"status": "ok"}`` (no key needed).
    ``POST /v1/vehicles/lookup`` with header ``X-API-Key`` and body ``{"plates": [...]}``
        (canonical plates, at most :data:`MAX_PLATES`) -> ``{"records": [...]}``, only the
        registered ones. Optional headers ``X-Actor``, ``X-Purpose``, ``X-Case-Id`` say who asks
        and why; the service records every plate asked for with them.

Plates travel only in request bodies, never in URLs, so no access log ever holds one.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field, field_validator

from registry_adapters.base import AccessRecorder, InMemoryAccessRecorder, VehicleRecord

logger = logging.getLogger(__name__)

MAX_PLATES = 1000


class LookupRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plates: list[str] = Field(min_length=1, max_length=MAX_PLATES)

    @field_validator("plates")
    @classmethod
    def _canonical(cls, plates: list[str]) -> list[str]:
        for plate in plates:
            if not (0 < len(plate) <= 16 and plate.isascii() and plate.isalnum() and plate == plate.upper()):
                raise ValueError("plates: expected canonical plates (A-Z, 0-9, at most 16 characters)")
        return plates


class VehicleRecordModel(BaseModel):
    """The wire form of :class:`registry_adapters.base.VehicleRecord`."""

    model_config = ConfigDict(extra="ignore")

    plate: str
    make: str
    model: str
    colour: str
    vehicle_class: str
    registration_status: str
    owner_ref: str
    year: int | None = None

    @classmethod
    def from_record(cls, record: VehicleRecord) -> VehicleRecordModel:
        return cls(**record.__dict__)

    def to_record(self) -> VehicleRecord:
        return VehicleRecord(**self.model_dump())


class LookupAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    records: list[VehicleRecordModel]


def create_app(db_url: str, api_keys: Sequence[str], recorder: AccessRecorder | None = None):  # -> FastAPI
    """The registry service over the database at ``db_url``.

    Args:
        db_url: SQLAlchemy URL of the registry database.
        api_keys: accepted values of the ``X-API-Key`` header (at least one).
        recorder: where the holder records each plate asked for (in memory when None).

    Raises:
        ValueError: no API key, or an empty one.
    """
    from fastapi import Depends, FastAPI, Header, HTTPException
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.orm import Session

    from registry_adapters.sql import fetch_records, registry_engine

    keys = [k.encode() for k in api_keys]
    if not keys or any(not k for k in keys):
        raise ValueError("api_keys: expected at least one non-empty API key")
    engine = registry_engine(db_url)
    access = recorder or InMemoryAccessRecorder()

    @contextlib.asynccontextmanager
    async def lifespan(_app):  # noqa: ANN001, ANN202 - FastAPI's lifespan signature
        yield
        engine.dispose()

    app = FastAPI(title="Vehicle registry (data holder)", version="1", lifespan=lifespan)
    app.state.engine = engine
    app.state.recorder = access

    def authorised(x_api_key: str | None = Header(default=None)) -> None:
        given = (x_api_key or "").encode()
        if not any(hmac.compare_digest(given, key) for key in keys):
            raise HTTPException(status_code=401, detail="missing or unknown API key")

    @app.get("/v1/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/vehicles/lookup", response_model=LookupAnswer, dependencies=[Depends(authorised)])
    def lookup(
        body: LookupRequest,
        x_actor: str = Header(default="unknown"),
        x_purpose: str = Header(default="unknown"),
        x_case_id: str | None = Header(default=None),
    ) -> LookupAnswer:
        for plate in body.plates:
            access.record(x_actor, x_purpose, plate, x_case_id)
        try:
            with Session(engine) as session:
                records = fetch_records(session, body.plates)
        except OperationalError as exc:
            logger.error("registry database error=%s", type(exc).__name__)
            raise HTTPException(status_code=503, detail="registry database unavailable") from exc
        logger.info("registry lookup asked=%d found=%d", len(body.plates), len(records))
        return LookupAnswer(records=[VehicleRecordModel.from_record(r) for r in records.values()])

    return app

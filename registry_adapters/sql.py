"""Registry adapter reading the data holder's database directly (SQLAlchemy; SQLite or PostgreSQL)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from registry_adapters.base import AccessContext, AccessRecorder, LookupResult, RegistryUnavailable, VehicleRecord
from registry_adapters.fuzzy import lookup_plates
from registry_adapters.schema import RegisteredVehicle, RegistryBase

logger = logging.getLogger(__name__)

#: Most plates in one ``IN (...)`` (SQLite's default variable limit is 32766; stay well under).
CHUNK = 500


def registry_engine(url: str) -> Engine:
    """An engine for the registry database; SQLite gets a busy timeout."""
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001 - DBAPI types
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA busy_timeout=5000")
            cur.close()

    return engine


def init_registry(engine: Engine) -> None:
    """Create the registry tables where missing (the data holder's schema, not ours)."""
    RegistryBase.metadata.create_all(engine)


def to_record(row: RegisteredVehicle) -> VehicleRecord:
    return VehicleRecord(
        plate=row.plate,
        make=row.make,
        model=row.model,
        colour=row.colour,
        vehicle_class=row.vehicle_class,
        registration_status=row.registration_status,
        owner_ref=row.owner_ref,
        year=row.year,
    )


def fetch_records(session: Session, plates: Sequence[str]) -> dict[str, VehicleRecord]:
    """The registered records among canonical ``plates`` (read-only)."""
    found: dict[str, VehicleRecord] = {}
    for start in range(0, len(plates), CHUNK):
        chunk = list(plates[start : start + CHUNK])
        for row in session.scalars(select(RegisteredVehicle).where(RegisteredVehicle.plate.in_(chunk))):
            found[row.plate] = to_record(row)
    return found


class SqlRegistryAdapter:
    """Looks vehicles up with SQL in the registry database.

    Args:
        url: SQLAlchemy URL of the registry database (``sqlite:///registry.sqlite``).
        recorder: where every access is recorded.
        countries: grammars for canonical plates and confusable variants.
        max_substitutions: most characters a fuzzy candidate changes.
        engine: an engine to share instead of ``url`` (the service passes its own).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        recorder: AccessRecorder,
        countries: Sequence[str] | None = None,
        max_substitutions: int = 2,
        engine: Engine | None = None,
    ) -> None:
        if (url is None) == (engine is None):
            raise ValueError("expected exactly one of url or engine")
        if not isinstance(recorder, AccessRecorder):
            raise ValueError(f"recorder: expected an AccessRecorder, got {type(recorder).__name__}")
        self._owns_engine = engine is None
        self.engine = engine if engine is not None else registry_engine(url)  # type: ignore[arg-type]
        self.recorder = recorder
        self.countries = tuple(countries) if countries is not None else None
        self.max_substitutions = max_substitutions

    def fetch(self, plates: Sequence[str]) -> Mapping[str, VehicleRecord]:
        """Registered records among canonical ``plates`` (no access record: callers record).

        Raises:
            RegistryUnavailable: the database cannot be reached.
        """
        try:
            with Session(self.engine) as session:
                return fetch_records(session, plates)
        except OperationalError as exc:
            logger.warning("registry database unreachable error=%s", type(exc).__name__)
            raise RegistryUnavailable(f"registry database unreachable: {type(exc).__name__}") from exc

    def lookup(self, plate: str, access: AccessContext, fuzzy: bool = True) -> LookupResult:
        return self.lookup_many([plate], access, fuzzy)[0]

    def lookup_many(self, plates: Sequence[str], access: AccessContext, fuzzy: bool = True) -> list[LookupResult]:
        return lookup_plates(
            plates,
            access,
            self.recorder,
            self.fetch,
            fuzzy=fuzzy,
            countries=self.countries,
            max_substitutions=self.max_substitutions,
        )

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()

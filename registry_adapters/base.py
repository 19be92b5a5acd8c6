"""The registry adapter protocol, its records, the access recorder, and the errors.

The vehicle registry belongs to the data-array holder (another organisation). Every lookup is an
access to personal data: adapters call the injected :class:`AccessRecorder` *before* asking the
registry (no record, no access), and never write a plate to the application log.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from safecity.errors import PermanentError, TransientError

VehicleClass = Literal["car", "bus", "truck", "motorcycle"]
VEHICLE_CLASSES: tuple[str, ...] = ("car", "bus", "truck", "motorcycle")
RegistrationStatus = Literal["registered", "deregistered", "suspended", "stolen"]
REGISTRATION_STATUSES: tuple[str, ...] = ("registered", "deregistered", "suspended", "stolen")
LookupStatus = Literal["exact", "fuzzy", "ambiguous", "not_found"]


class RegistryUnavailable(TransientError):
    """The registry did not answer (down, timing out, circuit open, rate limit wait too long).

    The case waits as pending and is retried later; nothing is lost.
    """


class RegistryAnswerError(TransientError):
    """The registry answered something that is not a valid answer (bad JSON, wrong fields).

    Treated as transient: a proxy error page or a half-deployed registry passes.
    """


class RegistryAuthError(PermanentError):
    """The registry refused our credentials; an operator must fix the API key."""


@dataclass(frozen=True)
class VehicleRecord:
    """What the registry holds about one registered vehicle.

    Attributes:
        plate: canonical plate number (letters and digits, ``"01123ABC"``).
        make, model: e.g. ``"Toyota"``, ``"Camry"``.
        colour: registered colour name (``"white"``, ``"dark blue"``...).
        vehicle_class: ``car | bus | truck | motorcycle`` (the detector's classes).
        registration_status: ``registered | deregistered | suspended | stolen``.
        owner_ref: opaque reference of the registered owner in the holder's records (never a
            name: the notice service resolves it).
        year: model year, or None.
    """

    plate: str
    make: str
    model: str
    colour: str
    vehicle_class: str
    registration_status: str
    owner_ref: str
    year: int | None = None

    def __post_init__(self) -> None:
        if not self.plate or not self.plate.isalnum() or self.plate != self.plate.upper():
            raise ValueError(f"plate: expected canonical upper-case letters and digits, got {self.plate!r}")
        if self.vehicle_class not in VEHICLE_CLASSES:
            raise ValueError(f"vehicle_class: expected one of {list(VEHICLE_CLASSES)}, got {self.vehicle_class!r}")
        if self.registration_status not in REGISTRATION_STATUSES:
            raise ValueError(
                f"registration_status: expected one of {list(REGISTRATION_STATUSES)}, got {self.registration_status!r}"
            )
        if not self.owner_ref:
            raise ValueError("owner_ref: expected a non-empty reference")


@dataclass(frozen=True)
class Candidate:
    """A registered vehicle whose plate is a confusable variant of the read.

    Attributes:
        record: the vehicle.
        substitutions: characters changed from the read, each within its confusable group.
    """

    record: VehicleRecord
    substitutions: int


@dataclass(frozen=True)
class LookupResult:
    """The registry's answer for one read plate.

    Attributes:
        query: the canonical plate asked for.
        status: ``exact`` (the read is registered), ``fuzzy`` (not registered, but exactly one
            confusable variant is), ``ambiguous`` (several variants are: a person picks, the
            candidates are shown), ``not_found``.
        record: the exact record, or the single fuzzy candidate's; None otherwise.
        candidates: registered confusable variants, fewest substitutions first (excluding the
            exact record).
    """

    query: str
    status: LookupStatus
    record: VehicleRecord | None
    candidates: tuple[Candidate, ...] = ()

    @property
    def needs_review(self) -> bool:
        """True when a person must choose or confirm the vehicle before any notice."""
        return self.status in ("fuzzy", "ambiguous")


@dataclass(frozen=True)
class AccessContext:
    """Who asks the registry and why (recorded with every lookup).

    Attributes:
        actor: the user or service account, e.g. ``"svc:pipeline"`` or ``"inspector:1042"``.
        purpose: why, e.g. ``"violation-owner-lookup"``.
        case_id: the case (violation id) the lookup serves, when there is one.
    """

    actor: str
    purpose: str
    case_id: str | None = None

    def __post_init__(self) -> None:
        if not self.actor or not self.purpose:
            raise ValueError("actor and purpose: expected non-empty strings (every access says who and why)")


@runtime_checkable
class AccessRecorder(Protocol):
    """Records every personal-data access: who, why, which plate, for which case, when.

    The exchange log supplies the tamper-evident implementation; it must raise rather than lose
    a record (the lookup is then not made).
    """

    def record(self, actor: str, purpose: str, plate: str, case_id: str | None) -> None: ...


@dataclass(frozen=True)
class AccessRecord:
    """One recorded access (UTC time from the recorder's clock)."""

    actor: str
    purpose: str
    plate: str
    case_id: str | None
    at_utc: dt.datetime


class InMemoryAccessRecorder:
    """A real in-process recorder for tests and demos (thread-safe, append-only list).

    Args:
        clock: returns the current UTC time (injected so tests control it).
    """

    def __init__(self, clock: Callable[[], dt.datetime] | None = None) -> None:
        self._clock = clock or (lambda: dt.datetime.now(dt.timezone.utc))
        self._lock = threading.Lock()
        self._records: list[AccessRecord] = []

    def record(self, actor: str, purpose: str, plate: str, case_id: str | None) -> None:
        with self._lock:
            self._records.append(AccessRecord(actor, purpose, plate, case_id, self._clock()))

    @property
    def records(self) -> tuple[AccessRecord, ...]:
        with self._lock:
            return tuple(self._records)


@runtime_checkable
class RegistryAdapter(Protocol):
    """Looks vehicles up in the data holder's registry."""

    def lookup(self, plate: str, access: AccessContext, fuzzy: bool = True) -> LookupResult:
        """The registry's answer for one read plate (exact, then confusable variants).

        Raises:
            ValueError: ``plate`` has no letter or digit.
            RegistryUnavailable: the registry is down (the case waits as pending).
            RegistryAuthError: our credentials were refused.
        """
        ...

    def lookup_many(self, plates: Sequence[str], access: AccessContext, fuzzy: bool = True) -> list[LookupResult]:
        """:meth:`lookup` for several plates, in order, with as few round trips as possible."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...

"""A realistic synthetic Kyrgyz vehicle registry for development and tests (bulk inserts).

Shares are rough and illustrative (no official statistics were used): Bishkek-heavy regions,
mostly KG 2016 private plates, some legal-entity and 1994-2016 plates, a fleet dominated by
Japanese and Korean cars with Lada and Daewoo, paint colours as in the scene renderer
(:mod:`scenes.bodies`), a few deregistered, suspended and stolen registrations.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from plates.grammar_table import KG_REGIONS_2016
from registry_adapters.base import VEHICLE_CLASSES
from registry_adapters.fuzzy import canonical_plate
from registry_adapters.schema import RegisteredVehicle
from registry_adapters.sql import init_registry, registry_engine

logger = logging.getLogger(__name__)

KG_LETTERS = "ABCEHKMOPTXY"
REGION_WEIGHTS = (0.42, 0.08, 0.04, 0.09, 0.03, 0.07, 0.03, 0.18, 0.06)  # 01..09, Bishkek-heavy
#: plate format -> share of registrations.
FORMAT_WEIGHTS = {"kg_2016": 0.86, "kg_2016_short": 0.08, "kg_1994": 0.06}
OLD_REGION_LETTERS = "BESC"
CLASS_WEIGHTS = {"car": 0.86, "bus": 0.04, "truck": 0.07, "motorcycle": 0.03}
MAKES: dict[str, tuple[tuple[str, str, float], ...]] = {
    "car": (
        ("Toyota", "Camry", 0.10),
        ("Toyota", "Corolla", 0.05),
        ("Toyota", "RAV4", 0.04),
        ("Toyota", "Land Cruiser", 0.03),
        ("Toyota", "Ipsum", 0.03),
        ("Toyota", "Estima", 0.03),
        ("Lexus", "RX", 0.04),
        ("Lexus", "GX", 0.02),
        ("Honda", "Fit", 0.07),
        ("Honda", "CR-V", 0.04),
        ("Honda", "Odyssey", 0.04),
        ("Mercedes-Benz", "E-Class", 0.05),
        ("Hyundai", "Sonata", 0.05),
        ("Hyundai", "Solaris", 0.03),
        ("Kia", "Rio", 0.03),
        ("Kia", "Sportage", 0.02),
        ("Lada", "2107", 0.04),
        ("Lada", "Granta", 0.02),
        ("Lada", "Niva", 0.03),
        ("Daewoo", "Matiz", 0.04),
        ("Daewoo", "Nexia", 0.03),
        ("Volkswagen", "Golf", 0.03),
        ("Volkswagen", "Passat", 0.03),
        ("Chevrolet", "Cobalt", 0.02),
        ("Audi", "A6", 0.02),
        ("BMW", "5 Series", 0.02),
        ("Subaru", "Outback", 0.02),
        ("Nissan", "X-Trail", 0.02),
        ("BYD", "Song Plus", 0.02),
        ("Zeekr", "001", 0.01),
    ),
    "bus": (
        ("Mercedes-Benz", "Sprinter", 0.5),
        ("Yutong", "ZK6852", 0.25),
        ("Isuzu", "Novo", 0.15),
        ("Golden Dragon", "XML6", 0.1),
    ),
    "truck": (
        ("KamAZ", "5320", 0.3),
        ("Isuzu", "Elf", 0.2),
        ("Hyundai", "Porter", 0.2),
        ("HOWO", "A7", 0.15),
        ("MAN", "TGS", 0.15),
    ),
    "motorcycle": (
        ("Honda", "CB500", 0.35),
        ("Yamaha", "YBR125", 0.3),
        ("Suzuki", "GSX", 0.2),
        ("Kawasaki", "Ninja", 0.15),
    ),
}
#: Same colour names and shares as scenes/bodies.py, so scene vehicles can be registered as seen.
COLOURS: dict[str, tuple[tuple[str, float], ...]] = {
    "car": (
        ("white", 0.24),
        ("silver", 0.18),
        ("black", 0.15),
        ("grey", 0.12),
        ("dark blue", 0.07),
        ("red", 0.07),
        ("blue", 0.06),
        ("beige", 0.04),
        ("green", 0.04),
        ("yellow", 0.03),
    ),
    "bus": (("white", 0.5), ("yellow", 0.3), ("blue", 0.2)),
    "truck": (("white", 0.45), ("blue", 0.25), ("red", 0.2), ("orange", 0.1)),
    "motorcycle": (("black", 0.4), ("red", 0.3), ("blue", 0.3)),
}
STATUS_WEIGHTS = {"registered": 0.955, "deregistered": 0.03, "suspended": 0.01, "stolen": 0.005}
BATCH = 10_000


@dataclass(frozen=True)
class SeedVehicle:
    """A vehicle that must be in the registry (e.g. one seen in a sample scene).

    Attributes:
        plate: the plate, any spacing.
        vehicle_class: as seen, or None to draw one.
        colour: as seen, or None to draw one.
    """

    plate: str
    vehicle_class: str | None = None
    colour: str | None = None

    def __post_init__(self) -> None:
        if self.vehicle_class is not None and self.vehicle_class not in VEHICLE_CLASSES:
            raise ValueError(f"vehicle_class: expected one of {list(VEHICLE_CLASSES)}, got {self.vehicle_class!r}")


def _choice(rng: np.random.Generator, weights: dict[str, float] | Sequence[float], n: int) -> np.ndarray:
    keys = list(weights) if isinstance(weights, dict) else list(range(len(weights)))
    p = np.array(list(weights.values()) if isinstance(weights, dict) else weights, dtype=float)
    idx = rng.choice(len(keys), size=n, p=p / p.sum())
    return np.array(keys, dtype=object)[idx]


def _draw_plates(rng: np.random.Generator, formats: np.ndarray, regions: np.ndarray, classes: np.ndarray) -> list[str]:
    """One candidate plate per row, drawn in bulk (may repeat; the caller redraws repeats)."""
    n = len(formats)
    letters = np.array(list(KG_LETTERS))[rng.integers(0, len(KG_LETTERS), (n, 3))]
    digits3 = rng.integers(0, 1000, n)
    digits4 = rng.integers(0, 10000, n)
    old = np.array(list(OLD_REGION_LETTERS))[rng.integers(0, len(OLD_REGION_LETTERS), n)]
    codes = [code for code, _ in KG_REGIONS_2016]
    out = []
    for i in range(n):
        if formats[i] == "kg_1994" and classes[i] != "motorcycle":
            out.append(f"{old[i]}{digits4[i]:04d}{letters[i, 0]}{letters[i, 1]}")
        elif formats[i] == "kg_2016_short" or classes[i] == "motorcycle":
            out.append(f"{codes[regions[i]]}{digits3[i]:03d}{letters[i, 0]}{letters[i, 1]}")
        else:
            out.append(f"{codes[regions[i]]}{digits3[i]:03d}{letters[i, 0]}{letters[i, 1]}{letters[i, 2]}")
    return out


def _random_plates(rng: np.random.Generator, n: int, classes: np.ndarray, taken: set[str]) -> list[str]:
    """``n`` distinct plates not in ``taken`` (which they are added to)."""
    formats = _choice(rng, FORMAT_WEIGHTS, n)
    regions = _choice(rng, REGION_WEIGHTS, n).astype(int)
    plates: list[str | None] = [None] * n
    todo = np.arange(n)
    for _ in range(100):
        if not len(todo):
            break
        drawn = _draw_plates(rng, formats[todo], regions[todo], classes[todo])
        retry = []
        for i, plate in zip(todo, drawn, strict=True):
            if plate in taken:
                retry.append(i)
            else:
                taken.add(plate)
                plates[i] = plate
        todo = np.array(retry, dtype=int)
    if len(todo):
        raise ValueError(f"could not draw {len(todo)} distinct plates: the plate space is too small for n={n}")
    return plates  # type: ignore[return-value]


def generate_rows(n: int, seed: int = 0, include: Sequence[str | SeedVehicle] = ()) -> list[dict[str, object]]:
    """``n`` registry rows (``include`` first), deterministic for a seed.

    Rows are plain column dicts only because they go straight into a bulk ``INSERT``.

    Raises:
        ValueError: ``n`` is smaller than the number of included vehicles, or an included plate
            is malformed or repeated.
    """
    wanted = [v if isinstance(v, SeedVehicle) else SeedVehicle(v) for v in include]
    if n < len(wanted):
        raise ValueError(f"n: expected at least the {len(wanted)} included vehicles, got {n}")
    rng = np.random.default_rng(seed)
    classes = _choice(rng, CLASS_WEIGHTS, n)
    taken: set[str] = set()
    fixed_plates = []
    for i, vehicle in enumerate(wanted):
        plate = canonical_plate(vehicle.plate, ("KG", "KZ", "RU"))
        if plate in taken:
            raise ValueError(f"include: plate {plate} is listed twice")
        taken.add(plate)
        fixed_plates.append(plate)
        if vehicle.vehicle_class:
            classes[i] = vehicle.vehicle_class
    plates = fixed_plates + _random_plates(rng, n - len(wanted), classes[len(wanted) :], taken)
    statuses = _choice(rng, STATUS_WEIGHTS, n)
    years = rng.integers(1995, 2026, n)
    makes = np.empty(n, dtype=object)
    colours = np.empty(n, dtype=object)
    for vclass in VEHICLE_CLASSES:  # draw per class in bulk: one rng call per class, not per row
        idx = np.flatnonzero(classes == vclass)
        table = MAKES[vclass]
        picks = _choice(rng, [m[2] for m in table], len(idx))
        makes[idx] = [table[int(k)][:2] for k in picks]
        paint = COLOURS[vclass]
        colours[idx] = [paint[int(k)][0] for k in _choice(rng, [c[1] for c in paint], len(idx))]
    for i, vehicle in enumerate(wanted):
        if vehicle.colour:
            colours[i] = vehicle.colour
    rows = []
    for i in range(n):
        make, model = makes[i]
        rows.append(
            {
                "plate": plates[i],
                "make": make,
                "model": model,
                "colour": str(colours[i]),
                "vehicle_class": str(classes[i]),
                "year": int(years[i]),
                # Included vehicles are seen driving: keep them registered so a case proceeds.
                "registration_status": "registered" if i < len(wanted) else str(statuses[i]),
                "owner_ref": f"OWN-{seed:03d}-{i:07d}",
            }
        )
    return rows


def seed_registry(url: str, n: int = 100_000, seed: int = 0, include_plates: Sequence[str | SeedVehicle] = ()) -> int:
    """Create the registry tables and fill them with ``n`` synthetic vehicles (bulk inserts).

    Args:
        url: SQLAlchemy URL of the registry database.
        n: vehicles in total, ``include_plates`` included.
        seed: random seed (same seed, same registry).
        include_plates: plates (or :class:`SeedVehicle` with class/colour) that must be there.

    Returns:
        The number of rows inserted.

    Raises:
        ValueError: the registry already holds vehicles (seed an empty database), or bad input.
    """
    if n < 1:
        raise ValueError(f"n: expected >= 1, got {n}")
    started = time.perf_counter()
    rows = generate_rows(n, seed, include_plates)
    engine = registry_engine(url)
    try:
        init_registry(engine)
        with Session(engine) as session, session.begin():
            existing = session.scalar(select(func.count()).select_from(RegisteredVehicle))
            if existing:
                raise ValueError(
                    f"registry at {engine.url.render_as_string(hide_password=True)} already holds {existing} vehicles"
                )
            for start in range(0, len(rows), BATCH):
                session.execute(insert(RegisteredVehicle), rows[start : start + BATCH])
    finally:
        engine.dispose()
    logger.info("seeded registry vehicles=%d seed=%d s=%.1f", n, seed, time.perf_counter() - started)
    return len(rows)

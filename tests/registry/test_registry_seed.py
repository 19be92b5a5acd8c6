"""Seeding the synthetic registry, and the SQL adapter, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, func, select

from plates.grammars import parse_plate
from registry_adapters.base import AccessContext, InMemoryAccessRecorder
from registry_adapters.schema import RegisteredVehicle
from registry_adapters.seed import SeedVehicle, generate_rows, seed_registry
from registry_adapters.sql import SqlRegistryAdapter

ACCESS = AccessContext("svc:test", "seed-test")


def test_rows_are_deterministic_distinct_and_valid() -> None:
    """Same seed, same rows; plates distinct and Kyrgyz; classes and statuses from the tables."""
    a, b = generate_rows(5000, seed=3), generate_rows(5000, seed=3)
    assert a == b
    plates = [r["plate"] for r in a]
    assert len(set(plates)) == len(plates)
    grammars = {parse_plate(p).grammar for p in plates}
    assert grammars <= {"kg_2016", "kg_2016_short", "kg_1994"} and "kg_2016" in grammars
    assert {r["vehicle_class"] for r in a} == {"car", "bus", "truck", "motorcycle"}
    assert generate_rows(50, seed=4) != generate_rows(50, seed=3)


def test_included_vehicles_come_first_as_seen() -> None:
    """Included plates are registered with the class and colour the scene showed."""
    rows = generate_rows(10, seed=0, include=["01 123 abc", SeedVehicle("02 456 KM", "motorcycle", "red")])
    assert (rows[0]["plate"], rows[0]["registration_status"]) == ("01123ABC", "registered")
    assert (rows[1]["plate"], rows[1]["vehicle_class"], rows[1]["colour"]) == ("02456KM", "motorcycle", "red")


@pytest.mark.parametrize(
    ("n", "include", "message"),
    [(1, ["01123ABC", "02123ABC"], "at least the 2 included"), (5, ["01123ABC", "01 123 ABC"], "listed twice")],
)
def test_bad_seed_input(n, include, message) -> None:
    """Too small n and repeated included plates are refused."""
    with pytest.raises(ValueError, match=message):
        generate_rows(n, include=include)


def test_seed_and_lookup_on_each_database(db_url) -> None:
    """Bulk seeding fills the table; the SQL adapter finds the included plate; reseeding refuses."""
    count = seed_registry(db_url, n=20_000, seed=1, include_plates=["05 321 TTT"])
    assert count == 20_000
    engine = create_engine(db_url)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(RegisteredVehicle.__table__)) == 20_000
    engine.dispose()
    adapter = SqlRegistryAdapter(db_url, recorder=InMemoryAccessRecorder())
    try:
        result = adapter.lookup("05 321 TTT", ACCESS)
        assert result.status == "exact" and result.record.registration_status == "registered"
    finally:
        adapter.close()
    with pytest.raises(ValueError, match="already holds 20000 vehicles"):
        seed_registry(db_url, n=10, seed=2)


def test_unreachable_database_is_transient(tmp_path) -> None:
    """A registry database that cannot be opened raises RegistryUnavailable (TransientError)."""
    from registry_adapters.base import RegistryUnavailable

    adapter = SqlRegistryAdapter(f"sqlite:///{tmp_path}/missing/dir/registry.sqlite", recorder=InMemoryAccessRecorder())
    with pytest.raises(RegistryUnavailable):
        adapter.lookup("01123ABC", ACCESS)

"""One contract, two adapters: the SQL adapter and the HTTP adapter against a real local server."""

from __future__ import annotations

import pytest
from registry_testdata import AMBIGUOUS_TRUTHS, API_KEY, EXACT_PLATE, FUZZY_TRUTH, MISSING_PLATE

from registry_adapters.base import AccessContext, InMemoryAccessRecorder, RegistryAdapter, VehicleRecord
from registry_adapters.registry import create_adapter

ACCESS = AccessContext(actor="svc:pipeline", purpose="violation-owner-lookup", case_id="case-1")


@pytest.fixture(params=["sql", "http"])
def adapter(request, seeded_registry_url):
    """Each adapter over the same seeded registry, with its own in-memory access recorder."""
    recorder = InMemoryAccessRecorder()
    if request.param == "sql":
        made = create_adapter("sql", url=seeded_registry_url, recorder=recorder)
    else:
        server = request.getfixturevalue("registry_server")
        made = create_adapter("http", base_url=server.url, api_key=API_KEY, recorder=recorder, timeout_s=5.0)
    yield made
    made.close()


def test_is_a_registry_adapter(adapter) -> None:
    """Both adapters satisfy the protocol."""
    assert isinstance(adapter, RegistryAdapter)


def test_exact_lookup_returns_the_record(adapter) -> None:
    """A registered plate, typed with spaces and lower case, comes back exactly."""
    result = adapter.lookup("01 123 abc", ACCESS)
    assert result.status == "exact" and not result.needs_review
    assert isinstance(result.record, VehicleRecord)
    assert result.record.plate == EXACT_PLATE
    assert result.record.registration_status == "registered"
    assert result.record.owner_ref.startswith("OWN-")
    assert result.record.vehicle_class in ("car", "bus", "truck", "motorcycle")


def test_confusable_read_is_canonicalised_before_lookup(adapter) -> None:
    """'O1 I23 A8C' (letter O, I and digit 8 in the wrong slots) is the registered 01123ABC."""
    result = adapter.lookup("O1 I23 A8C", ACCESS)
    assert (result.query, result.status) == (EXACT_PLATE, "exact")


def test_single_confusable_variant_is_a_fuzzy_match(adapter) -> None:
    """D read where the plate has O: one registered variant, shown for review."""
    result = adapter.lookup("01 777 ADC", ACCESS)
    assert result.status == "fuzzy" and result.needs_review
    assert result.record.plate == FUZZY_TRUTH
    assert [(c.record.plate, c.substitutions) for c in result.candidates] == [(FUZZY_TRUTH, 1)]


def test_several_variants_are_ambiguous_with_ranked_candidates(adapter) -> None:
    """Two registered variants: no record chosen, both candidates shown, stable order."""
    result = adapter.lookup("02 555 BDX", ACCESS)
    assert result.status == "ambiguous" and result.record is None and result.needs_review
    assert [c.record.plate for c in result.candidates] == sorted(AMBIGUOUS_TRUTHS)
    assert all(c.substitutions == 1 for c in result.candidates)


def test_fuzzy_off_finds_only_exact(adapter) -> None:
    """With fuzzy=False a near plate is simply not found."""
    assert adapter.lookup("02 555 BDX", ACCESS, fuzzy=False).status == "not_found"


def test_missing_plate_is_not_found(adapter) -> None:
    """An unregistered plate: status not_found, no record, no candidates."""
    result = adapter.lookup(MISSING_PLATE, ACCESS)
    assert (result.status, result.record, result.candidates) == ("not_found", None, ())


def test_batch_lookup_keeps_order(adapter) -> None:
    """lookup_many answers each plate in the order asked."""
    results = adapter.lookup_many([MISSING_PLATE, EXACT_PLATE, "01777ADC"], ACCESS)
    assert [r.status for r in results] == ["not_found", "exact", "fuzzy"]
    assert [r.query for r in results] == [MISSING_PLATE, EXACT_PLATE, "01777ADC"]


def test_every_lookup_is_recorded_with_who_why_and_case(adapter) -> None:
    """Queried plates and disclosed candidates are recorded with actor, purpose and case."""
    adapter.lookup_many([EXACT_PLATE, "01777ADC"], ACCESS)
    records = adapter.recorder.records
    assert [r.plate for r in records] == [EXACT_PLATE, "01777ADC", FUZZY_TRUTH]
    assert {(r.actor, r.purpose, r.case_id) for r in records} == {("svc:pipeline", "violation-owner-lookup", "case-1")}
    assert all(r.at_utc.tzinfo is not None for r in records)


def test_bad_plate_is_a_value_error_and_not_recorded(adapter) -> None:
    """Text without a letter or digit is refused before any access."""
    with pytest.raises(ValueError, match="expected letters or digits"):
        adapter.lookup(" -- ", ACCESS)
    assert adapter.recorder.records == ()


def test_recorder_failure_stops_the_lookup(adapter) -> None:
    """No record, no access: a failing recorder's error propagates and nothing is fetched."""

    class Broken:
        def record(self, actor, purpose, plate, case_id):
            raise OSError("exchange log down")

    adapter.recorder = Broken()
    with pytest.raises(OSError, match="exchange log down"):
        adapter.lookup(EXACT_PLATE, ACCESS)


def test_both_adapters_return_identical_records(seeded_registry_url, registry_server) -> None:
    """The HTTP service serves exactly what the database holds."""
    sql = create_adapter("sql", url=seeded_registry_url, recorder=InMemoryAccessRecorder())
    http = create_adapter("http", base_url=registry_server.url, api_key=API_KEY, recorder=InMemoryAccessRecorder())
    try:
        plates = [EXACT_PLATE, FUZZY_TRUTH, *AMBIGUOUS_TRUTHS, MISSING_PLATE]
        assert sql.lookup_many(plates, ACCESS) == http.lookup_many(plates, ACCESS)
    finally:
        sql.close()
        http.close()


def test_access_context_needs_who_and_why() -> None:
    """An access without actor or purpose is refused."""
    with pytest.raises(ValueError, match="actor and purpose"):
        AccessContext(actor="", purpose="x")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("sq", r"unknown registry adapter 'sq': expected one of \['http', 'sql'\]; did you mean 'sql'\?"),
        ("htp", r"did you mean 'http'\?"),
        ("ldap-xyz", r"unknown registry adapter 'ldap-xyz': expected one of \['http', 'sql'\]$"),
    ],
)
def test_unknown_adapter_name(name: str, message: str) -> None:
    """A bad adapter name lists the valid ones and suggests the closest."""
    with pytest.raises(ValueError, match=message):
        create_adapter(name)

"""Registry matching of stored violations: outcomes, pending when the registry is down, every
lookup a logged access, no plate in the application log (SQL adapter and HTTP service)."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from registry_testdata import AMBIGUOUS_TRUTHS, API_KEY, EXACT_PLATE, FUZZY_TRUTH, MISSING_PLATE, ServerThread

from exchange.access import list_pd_access
from exchange.home import init_home
from registry_adapters.matching import build_match_context, match_violation, pending_violation_ids, unmatched_violation_ids
from registry_adapters.models import RegistryMatchRow
from registry_adapters.seed import SeedVehicle, seed_registry
from store.db import init_db, make_engine, session_factory
from store.schema import CameraRow, RunRow, ViolationRow

T0 = dt.datetime(2026, 11, 26, 8, 0, tzinfo=dt.timezone.utc)
BISHKEK = (42.8746, 74.5698)
OSH = (40.5283, 72.7985)  # about 300 km away
BUS_PLATE = "01777BUS"


def add_violation(session, vid: str, plate: str | None, *, camera: str = "cam-1", cls: str = "car",
                  at: dt.datetime = T0, guess: str | None = None, vtype: str = "speeding",
                  measurements: dict | None = None) -> None:
    """A stored violation with the given machine read (None: unreadable)."""
    if session.get(CameraRow, camera) is None:
        session.add(CameraRow(id=camera, name=camera, calibration_version="v1", speed_limit_kmh=60, config_sha256="0" * 64))
    run_id = f"run-{camera}"
    if session.get(RunRow, run_id) is None:
        session.add(RunRow(id=run_id, camera_id=camera, video_path="x.mp4", video_sha256="0" * 64, frame_count=1,
                           fps=25.0, start_time_utc=T0, software_version="test", model="test"))
    session.flush()
    session.add(ViolationRow(
        id=vid, run_id=run_id, camera_id=camera, type=vtype, track_id=1, class_name=cls, first_frame=0,
        last_frame=10, first_time_utc=at, last_time_utc=at, speed_kmh=80.0, limit_kmh=60.0, measurements=measurements or {},
        plate_text=plate, plate_status="read" if plate else "unreadable", plate_guess=guess,
    ))


@pytest.fixture()
def registry_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'registry.sqlite'}"
    seed_registry(url, n=500, seed=3, include_plates=[SeedVehicle(EXACT_PLATE, vehicle_class="car"),
                                                      SeedVehicle(FUZZY_TRUTH, vehicle_class="car"),
                                                      SeedVehicle(BUS_PLATE, vehicle_class="bus"),
                                                      *AMBIGUOUS_TRUTHS])
    return url


@pytest.fixture()
def store(db_url):
    engine = make_engine(db_url)
    init_db(engine)
    yield session_factory(engine)
    engine.dispose()


def test_outcomes_for_each_kind_of_read(tmp_path, store, registry_url, caplog):
    """Exact, fuzzy, ambiguous, not found and unreadable reads each get their status; a guess is
    never looked up; every lookup is a pd_access entry; no plate reaches the application log."""
    home = init_home(tmp_path / "home")
    ctx = build_match_context(f"sql:{registry_url}", home)
    reads = {"v-exact": EXACT_PLATE, "v-fuzzy": "01777ADC", "v-amb": "02555BDX", "v-missing": MISSING_PLATE, "v-none": None}
    with store.begin() as session:
        for vid, plate in reads.items():
            add_violation(session, vid, plate, guess="01123ABC" if plate is None else None)
    caplog.set_level(logging.DEBUG)
    with store.begin() as session:
        assert sorted(unmatched_violation_ids(session)) == sorted(reads)
        results = {vid: match_violation(session, vid, ctx) for vid in reads}
    assert {k: r.status for k, r in results.items()} == {
        "v-exact": "matched", "v-fuzzy": "fuzzy", "v-amb": "ambiguous", "v-missing": "not_found", "v-none": "unreadable"}
    assert not results["v-exact"].needs_review and all(results[k].needs_review for k in reads if k != "v-exact")
    with store() as session:
        amb = session.get(RegistryMatchRow, "v-amb")
        assert sorted(c["plate"] for c in amb.candidates) == sorted(AMBIGUOUS_TRUTHS)
        assert all("owner_ref" not in c for c in amb.candidates)
        exact = session.get(RegistryMatchRow, "v-exact")
        assert exact.vehicle_plate == EXACT_PLATE and exact.vehicle["owner_ref"]
        accesses = list_pd_access(session)
    # four cases asked (each plate asked about, confusable variants included, is one access);
    # the unreadable one asks nothing: its guess is never looked up
    assert {a.case_id for a in accesses} == {"v-amb", "v-exact", "v-fuzzy", "v-missing"}
    assert all(a.actor == "svc:pipeline" and a.purpose == "violation-owner-lookup" for a in accesses)
    for plate in (EXACT_PLATE, "01777ADC", "02555BDX", MISSING_PLATE, *AMBIGUOUS_TRUTHS):
        assert plate not in caplog.text
    ctx.adapter.close()


def test_class_mismatch_and_clone_are_flagged(tmp_path, store, registry_url):
    """A plate registered to a car but seen on a truck is flagged; the same plate matched on a
    camera 300 km away ten minutes earlier is a possible clone."""
    home = init_home(tmp_path / "home")
    ctx = build_match_context(f"sql:{registry_url}", home, positions={"cam-1": BISHKEK, "cam-osh": OSH})
    with store.begin() as session:
        add_violation(session, "v-osh", EXACT_PLATE, camera="cam-osh", at=T0 - dt.timedelta(minutes=10))
        add_violation(session, "v-truck", EXACT_PLATE, cls="truck")
    with store.begin() as session:
        first = match_violation(session, "v-osh", ctx)
        second = match_violation(session, "v-truck", ctx)
    assert first.flags == ()
    assert any(f.startswith("class_or_colour_mismatch") for f in second.flags)
    assert any(f.startswith("possible_clone") and "v-osh" in f for f in second.flags)
    assert second.needs_review
    ctx.adapter.close()


def test_bus_lane_case_on_a_registered_bus_is_flagged(tmp_path, store, registry_url):
    """A bus-lane case whose plate is registered as a bus shows the reviewer the exemption; the
    same vehicle class on a car's plate does not."""
    home = init_home(tmp_path / "home")
    ctx = build_match_context(f"sql:{registry_url}", home)
    with store.begin() as session:
        add_violation(session, "v-bus", BUS_PLATE, cls="bus", vtype="bus_lane", measurements={"allowed_classes": ["bus"]})
        add_violation(session, "v-car", EXACT_PLATE, cls="car", vtype="bus_lane", measurements={"allowed_classes": ["bus"]})
    with store.begin() as session:
        bus = match_violation(session, "v-bus", ctx)
        car = match_violation(session, "v-car", ctx)
    assert any(f.startswith("bus_lane_exemption: registered as bus") for f in bus.flags)
    assert bus.needs_review
    assert not any(f.startswith("bus_lane_exemption") for f in car.flags)
    ctx.adapter.close()


def test_registry_down_keeps_the_case_pending_then_matches(tmp_path, store, registry_url):
    """With the HTTP registry service stopped, the case is stored as pending (attempt counted,
    access recorded); once the service is back, the retry matches it."""
    from registry_adapters.service import create_app

    home = init_home(tmp_path / "home")
    with store.begin() as session:
        add_violation(session, "v-1", EXACT_PLATE)
    server = ServerThread(create_app(registry_url, [API_KEY]))
    with server:
        url = server.url
    # the server is stopped now: nothing listens on its port
    ctx = build_match_context(url, home, api_key=API_KEY)
    with store.begin() as session:
        assert match_violation(session, "v-1", ctx).status == "pending"
    with store() as session:
        assert pending_violation_ids(session) == ["v-1"]
        row = session.get(RegistryMatchRow, "v-1")
        assert row.attempts == 1 and row.last_error and EXACT_PLATE not in row.last_error
    ctx.adapter.close()
    with ServerThread(create_app(registry_url, [API_KEY])) as server:
        ctx = build_match_context(server.url, home, api_key=API_KEY)
        with store.begin() as session:
            for vid in pending_violation_ids(session):
                assert match_violation(session, vid, ctx).status == "matched"
        ctx.adapter.close()
    with store() as session:
        assert pending_violation_ids(session) == []
        assert session.get(RegistryMatchRow, "v-1").attempts == 2


def test_correction_by_a_person_rematches(tmp_path, store, registry_url):
    """A reviewer's corrected plate replaces the machine read in the lookup and is recorded
    under the reviewer's name."""
    home = init_home(tmp_path / "home")
    ctx = build_match_context(f"sql:{registry_url}", home, actor="reviewer:ivanov", purpose="plate-correction")
    with store.begin() as session:
        add_violation(session, "v-1", None)
    with store.begin() as session:
        assert match_violation(session, "v-1", ctx).status == "unreadable"
        assert match_violation(session, "v-1", ctx, plate=EXACT_PLATE).status == "matched"
    with store() as session:
        (access,) = list_pd_access(session)
    assert (access.actor, access.purpose, access.case_id) == ("reviewer:ivanov", "plate-correction", "v-1")
    ctx.adapter.close()


@pytest.mark.parametrize(("spec", "problem"), [
    ("registry.sqlite", "expected sql:"),
    ("ftp:host", "unknown adapter"),
    ("http://127.0.0.1:1", "SAFECITY_REGISTRY_API_KEY"),
])
def test_bad_registry_spec_is_named(tmp_path, spec, problem, monkeypatch):
    """A registry spec that cannot work is refused with the spec and the problem named."""
    monkeypatch.delenv("SAFECITY_REGISTRY_API_KEY", raising=False)
    with pytest.raises(ValueError, match=problem):
        build_match_context(spec, init_home(tmp_path / "home"))


def test_unknown_violation_is_refused(tmp_path, store, registry_url):
    """Matching a violation id that is not stored names the id."""
    ctx = build_match_context(f"sql:{registry_url}", init_home(tmp_path / "home"))
    with store.begin() as session, pytest.raises(ValueError, match="v-404"):
        match_violation(session, "v-404", ctx)
    ctx.adapter.close()


def test_cli_matches_unmatched_then_retries_pending(tmp_path, store, registry_url, monkeypatch):
    """`safecity registry-match --unmatched` matches stored cases; exit 1 while a case stays
    pending (registry unreachable), 0 once `--pending` has matched it."""
    from typer.testing import CliRunner

    from safecity.cli import app

    init_home()  # the SAFECITY_HOME of this test
    db_url = str(store.kw["bind"].url.render_as_string(hide_password=False))
    with store.begin() as session:
        add_violation(session, "v-1", EXACT_PLATE)
        add_violation(session, "v-2", None)
    runner = CliRunner()
    down = runner.invoke(app, ["registry-match", "--unmatched", "--registry", "http://127.0.0.1:9", "--db", db_url, "--json"],
                         env={"SAFECITY_REGISTRY_API_KEY": API_KEY})
    assert down.exit_code == 1, down.output
    assert '"status": "pending"' in down.output and '"status": "unreadable"' in down.output
    ok = runner.invoke(app, ["registry-match", "--pending", "--registry", f"sql:{registry_url}", "--db", db_url])
    assert ok.exit_code == 0, ok.output
    assert "v-1  matched" in ok.output and EXACT_PLATE not in ok.output
    bad = runner.invoke(app, ["registry-match", "--registry", f"sql:{registry_url}", "--db", db_url])
    assert bad.exit_code == 2 and "--pending or --unmatched" in bad.output

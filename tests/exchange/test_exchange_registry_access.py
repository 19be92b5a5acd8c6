"""Registry lookups through the SQL adapter are logged as signed personal-data accesses."""

import datetime as dt

import pytest

from exchange.access import list_pd_access
from exchange.home import init_home
from exchange.recorder import ExchangeAccessRecorder
from registry_adapters.base import AccessContext
from registry_adapters.registry import create_adapter
from registry_adapters.seed import seed_registry
from store.db import init_db, make_engine, session_factory

AT = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.timezone.utc)


def test_lookup_is_a_logged_access(tmp_path, db_url):
    """Each lookup appends a pd_access entry (who, why, which plate, case) in the caller's
    transaction; a rolled-back transaction leaves neither the access nor anything else."""
    registry_url = f"sqlite:///{tmp_path / 'registry.sqlite'}"
    seed_registry(registry_url, n=200, seed=1, include_plates=["01123ABC"])
    home = init_home(tmp_path / "home")
    engine = make_engine(db_url)
    init_db(engine)
    sf = session_factory(engine)
    with sf.begin() as session:
        adapter = create_adapter("sql", url=registry_url, recorder=ExchangeAccessRecorder(session, home, clock=lambda: AT))
        result = adapter.lookup("01123ABC", AccessContext("svc:pipeline", "violation-owner-lookup", "case-1"))
        assert result.status == "exact"
    with pytest.raises(RuntimeError):
        with sf.begin() as session:
            adapter = create_adapter("sql", url=registry_url, recorder=ExchangeAccessRecorder(session, home, clock=lambda: AT))
            adapter.lookup("01123ABC", AccessContext("svc:pipeline", "violation-owner-lookup", "case-2"))
            raise RuntimeError("the case update failed")
    with sf() as session:
        rows = list_pd_access(session)
    assert [(r.actor, r.purpose, r.plate, r.case_id) for r in rows] == [
        ("svc:pipeline", "violation-owner-lookup", "01123ABC", "case-1")
    ]
    engine.dispose()

"""The fine is chosen on the decision day (Bishkek local date) from the table version in force:
effective-date boundaries, a version change, the discount date, the recorded table version."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from notices.service import issue_notice
from notice_testdata import add_violation, build_case
from pipeline.fines import fine_for, load_fines
from pipeline.types import IMPLEMENTED_TYPES
from safecity.errors import ConfigError, PermanentError

PACKAGED = Path(__file__).resolve().parents[2] / "pipeline" / "data" / "fines-kg.yaml"
CHANGE = dt.date(2027, 1, 1)


def _changed_table(tmp_path) -> Path:
    """The packaged table with red light and speeding +60 raised from 2027-01-01 (a new release)."""
    doc = yaml.safe_load(PACKAGED.read_text())
    doc["version"] = "kg-2027.1"
    for old in [e for e in doc["entries"] if e["type"] == "red_light" or (e["type"] == "speeding" and e.get("excess_kmh_from") == 60)]:
        old["effective_to"] = CHANGE.isoformat()
        doc["entries"].append(dict(old, amount_som=old["amount_som"] + 1000, effective_from=CHANGE.isoformat(), effective_to=None))
    path = tmp_path / "fines.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    return path


@pytest.mark.parametrize(
    ("day", "amount"),
    [(dt.date(2022, 12, 31), None), (dt.date(2023, 1, 1), 5000), (dt.date(2026, 12, 31), 5000), (CHANGE, 6000), (dt.date(2030, 6, 1), 6000)],
)
def test_effective_date_boundaries(tmp_path, day, amount):
    """effective_from is inclusive and effective_to exclusive; before the first entry nothing applies."""
    table = load_fines(_changed_table(tmp_path))
    if amount is None:
        with pytest.raises(PermanentError, match="no fine configured for red_light on 2022-12-31"):
            fine_for(table, "red_light", day, day)
        return
    fine = fine_for(table, "red_light", day, day)
    assert (fine.amount_som, fine.discounted_som, fine.currency, fine.table_version) == (amount, amount // 2, "KGS", "kg-2027.1")
    assert fine.effective_from <= day and (fine.effective_to is None or day < fine.effective_to)


@pytest.mark.parametrize(("excess", "amount"), [(39.9, None), (40.0, 7500), (59.99, 7500), (60.0, 16000), (140.0, 16000)])
def test_speeding_bands_after_the_change(tmp_path, excess, amount):
    """Band edges: lower edge inclusive, upper exclusive; an unconfigured band is refused."""
    table = load_fines(_changed_table(tmp_path))
    if amount is None:
        with pytest.raises(PermanentError, match=r"speeding at \+40 km/h"):
            fine_for(table, "speeding", CHANGE, CHANGE, excess)
    else:
        assert fine_for(table, "speeding", CHANGE, CHANGE, excess).amount_som == amount


def test_discount_period_counts_calendar_days_across_the_year():
    """15 calendar days from the notice date, across a month and year end."""
    fine = fine_for(load_fines(), "stop_line", dt.date(2026, 12, 20), dt.date(2026, 12, 20))
    assert fine.discount_until == dt.date(2027, 1, 4)
    assert load_fines().discount.within_days == 15 and "15 days" in load_fines().discount.source


def test_every_detected_type_has_a_fine_or_is_documented_as_missing():
    """Each rule type either has a 2026 entry or is listed in the table's comment as having no amount found."""
    table = load_fines()
    text = PACKAGED.read_text()
    day = dt.date(2026, 11, 26)
    for vtype in IMPLEMENTED_TYPES:
        excess = 45.0 if vtype == "speeding" else None
        try:
            fine_for(table, vtype, day, day, excess)
        except PermanentError:
            assert f"({vtype})" in text, f"{vtype}: neither an entry nor a documented gap"


@pytest.mark.parametrize(
    ("patch", "message"),
    [({"currency": "som"}, "currency"), ({"version": ""}, "version"), ({"discount": {"percent": 50, "within_days": 0, "source": "x"}}, "within_days")],
)
def test_invalid_tables_are_refused(tmp_path, patch, message):
    """A bad currency code, an empty version or a zero-day discount make the table invalid."""
    doc = yaml.safe_load(PACKAGED.read_text())
    doc.update(patch)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    with pytest.raises(ConfigError, match=message):
        load_fines(path)


@pytest.mark.parametrize(
    ("decided_at", "amount", "until"),
    [
        # 23:59 on 31 Dec in Bishkek is 17:59 UTC: the old amount
        (dt.datetime(2026, 12, 31, 17, 59, tzinfo=dt.timezone.utc), 5000, dt.date(2027, 1, 15)),
        # 00:30 on 1 Jan in Bishkek is still 31 Dec in UTC: the decision day is the local one
        (dt.datetime(2026, 12, 31, 18, 30, tzinfo=dt.timezone.utc), 6000, dt.date(2027, 1, 16)),
    ],
)
def test_issued_notice_uses_the_local_decision_day(tmp_path, decided_at, amount, until):
    """issue_notice prices the case by the Bishkek date of the decision and records the table version."""
    case = build_case(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", vtype="red_light", speed=40.0, limit=60.0, signal="red")
    with case.sessions.begin() as s:
        rec = issue_notice(s, case.violation_id, decided_by="officer-17", decided_at=decided_at, home=case.home,
                           evidence_root=case.evidence_root, store_dir=case.store_dir, fines=load_fines(_changed_table(tmp_path)))
    assert (rec.amount, rec.discounted_amount, rec.discount_until, rec.fines_table_version) == (amount, amount // 2, until, "kg-2027.1")
    assert rec.number == f"{(decided_at + dt.timedelta(hours=6)).year}-0000001"  # Bishkek is UTC+6


def test_numbers_restart_each_local_year(tmp_path):
    """The sequence is per local year of the decision."""
    case = build_case(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", vtype="red_light", speed=40.0, limit=60.0, signal="red")
    add_violation(case.sessions, case.home, case.evidence_root, vid="v" + "3" * 31, vtype="red_light", speed=40.0, limit=60.0, signal="red")
    numbers = []
    for vid, at in ((case.violation_id, dt.datetime(2026, 12, 31, 17, 0, tzinfo=dt.timezone.utc)),
                    ("v" + "3" * 31, dt.datetime(2026, 12, 31, 18, 30, tzinfo=dt.timezone.utc))):
        with case.sessions.begin() as s:
            numbers.append(issue_notice(s, vid, decided_by="o", decided_at=at, home=case.home,
                                        evidence_root=case.evidence_root, store_dir=case.store_dir).number)
    assert numbers == ["2026-0000001", "2027-0000001"]

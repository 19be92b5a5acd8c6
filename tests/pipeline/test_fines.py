"""The versioned fines table: amounts by type, band and date; discount; refusals."""

import datetime as dt
from pathlib import Path

import pytest
import yaml

from pipeline.fines import fine_for, load_fines
from safecity.errors import ConfigError, PermanentError

TABLE = load_fines()
D = dt.date(2026, 11, 26)
PACKAGED = Path(__file__).resolve().parents[2] / "pipeline" / "data" / "fines-kg.yaml"


@pytest.mark.parametrize(
    ("vtype", "excess", "amount"),
    [
        ("red_light", None, 5000),
        ("wrong_way", None, 15000),
        ("stop_line", None, 1000),
        ("no_stopping", None, 1000),
        ("solid_line_crossing", None, 1000),
        ("speeding", 40.0, 7500),
        ("speeding", 59.9, 7500),
        ("speeding", 60.0, 15000),
        ("speeding", 85.0, 15000),
    ],
)
def test_amounts(vtype, excess, amount):
    """The packaged table gives the documented 2023 amounts, speeding by band."""
    fine = fine_for(TABLE, vtype, D, D, excess)
    assert fine.amount_som == amount
    assert fine.discounted_som == amount // 2
    assert fine.discount_until == D + dt.timedelta(days=15)
    assert fine.source


@pytest.mark.parametrize(("vtype", "excess", "day"), [("speeding", 15.0, D), ("red_light", None, dt.date(2022, 12, 31)), ("bus_lane", None, D)])
def test_no_guessing(vtype, excess, day):
    """A band, date or type without an entry is refused, never guessed."""
    with pytest.raises(PermanentError, match=f"no fine configured for {vtype}"):
        fine_for(TABLE, vtype, day, day, excess)


def test_new_amount_applies_from_its_date(tmp_path):
    """A later entry takes over from its effective date; decisions before it keep the old amount."""
    doc = yaml.safe_load(PACKAGED.read_text())
    old = next(e for e in doc["entries"] if e["type"] == "red_light")
    old["effective_to"] = "2027-01-01"
    doc["entries"].append(dict(old, amount_som=6000, effective_from="2027-01-01", effective_to=None))
    path = tmp_path / "fines.yaml"
    path.write_text(yaml.safe_dump(doc))
    table = load_fines(path)
    assert fine_for(table, "red_light", dt.date(2026, 12, 31), D).amount_som == 5000
    assert fine_for(table, "red_light", dt.date(2027, 1, 1), D).amount_som == 6000


def test_overlapping_entries_are_refused(tmp_path):
    """Two amounts for the same type and day make the table invalid."""
    doc = yaml.safe_load(PACKAGED.read_text())
    doc["entries"].append(dict(next(e for e in doc["entries"] if e["type"] == "red_light"), amount_som=7000))
    path = tmp_path / "fines.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError, match="overlap for red_light"):
        load_fines(path)

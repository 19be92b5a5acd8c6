"""Confirmed cases that must not be fined: refused before anything is written, and recorded."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from exchange.cases import case_state
from exchange.schema import ExchangeEntryRow
from notices.errors import NoticeRefusedError
from notices.finable import NEEDS_REVIEW, NO_FINE_AMOUNT, SIGNAL_NOT_FINABLE, Refusal, unfinable
from notices.models import NoticeRefusalRow, NoticeRow
from notices.service import issue_notice, record_refusal, refusals_for_violation
from notice_testdata import DECIDED_AT, build_case

VISION_ONLY = "signal phase seen by the camera only (vision); fines on vision are not allowed for this camera"

CASES = [
    pytest.param(
        {"vtype": "red_light", "speed": None, "limit": None, "signal": "red",
         "measurements": {"signal_source": "vision", "review_reason": VISION_ONLY},
         "meta_extra": {"signal_source": "vision", "finable": False, "review_reason": VISION_ONLY}},
        NEEDS_REVIEW, "marked for review: signal phase seen by the camera only", id="vision-only-phase",
    ),
    pytest.param(
        {"vtype": "red_light", "speed": None, "limit": None, "signal": "red",
         "meta_extra": {"finable": False, "review_reason": "the controller feed and the signal head disagree"}},
        SIGNAL_NOT_FINABLE, "not finable \\(signal source controller\\): the controller feed", id="evidence-not-finable",
    ),
    pytest.param({"speed": 75.0}, NO_FINE_AMOUNT, "no fine configured for speeding at \\+15 km/h", id="no-amount-band"),
    pytest.param({"vtype": "pedestrian_yield", "speed": None, "limit": None}, NO_FINE_AMOUNT,
                 "no fine configured for pedestrian_yield", id="no-amount-type"),
]


def _counts(case) -> tuple[int, int, int]:
    with case.sessions() as s:
        return (
            s.scalar(select(func.count()).select_from(NoticeRow)),
            s.scalar(select(func.count()).select_from(ExchangeEntryRow)),
            s.scalar(select(func.count()).select_from(NoticeRefusalRow)),
        )


@pytest.mark.parametrize(("build", "code", "message"), CASES)
def test_unfinable_case_is_refused_and_nothing_is_written(tmp_path, db_url, build, code, message):
    """issue_notice raises NoticeRefusedError with the code; no notice, log entry, number or PDF is left."""
    case = build_case(tmp_path, db_url, **build)
    before = _counts(case)
    with pytest.raises(NoticeRefusedError, match=message) as info, case.sessions.begin() as s:
        issue_notice(s, case.violation_id, decided_by="officer-17", decided_at=DECIDED_AT, home=case.home,
                     evidence_root=case.evidence_root, store_dir=case.store_dir)
    assert (info.value.code, info.value.violation_id) == (code, case.violation_id)
    assert _counts(case) == before
    assert not case.store_dir.exists()
    with case.sessions() as s:
        assert case_state(s, case.violation_id) == "confirmed"


def test_refusal_is_recorded_once_and_shown_for_the_case(tmp_path, db_url):
    """record_refusal stores the code, reason, officer and time; a repeated refusal adds no row."""
    case = build_case(tmp_path, db_url, measurements={"review_reason": VISION_ONLY})
    for _ in range(2):
        try:
            with case.sessions.begin() as s:
                issue_notice(s, case.violation_id, decided_by="officer-17", decided_at=DECIDED_AT, home=case.home,
                             evidence_root=case.evidence_root, store_dir=case.store_dir)
        except NoticeRefusedError as refused:
            with case.sessions.begin() as s:
                record_refusal(s, refused, decided_by="officer-17", decided_at=DECIDED_AT)
    with case.sessions() as s:
        recs = refusals_for_violation(s, case.violation_id)
        assert s.scalar(select(func.count()).select_from(NoticeRow)) == 0
    assert [(r.code, r.decided_by, r.decided_at) for r in recs] == [(NEEDS_REVIEW, "officer-17", DECIDED_AT)]
    assert VISION_ONLY in recs[0].reason


def test_cli_issue_records_the_refusal_and_exits_1(tmp_path, monkeypatch):
    """`safecity notices issue` on an unfinable case exits 1 naming the reason; the refusal is stored."""
    from safecity.cli import app

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    case = build_case(tmp_path, url, measurements={"review_reason": VISION_ONLY})
    monkeypatch.setenv("SAFECITY_HOME", str(case.home.path))
    res = CliRunner().invoke(app, ["notices", "issue", case.violation_id, "--officer", "officer-17", "--db", url,
                                   "--evidence-root", str(case.evidence_root), "--json"])
    assert res.exit_code == 1, res.output
    doc = json.loads(res.output)
    assert doc["refused"] == NEEDS_REVIEW and VISION_ONLY in doc["reason"]
    with case.sessions() as s:
        assert [r.code for r in refusals_for_violation(s, case.violation_id)] == [NEEDS_REVIEW]
        assert s.scalar(select(func.count()).select_from(NoticeRow)) == 0


@pytest.mark.parametrize(
    ("measurements", "metadata", "expected"),
    [
        ({"t_start_s": 1.0}, {"finable": True}, None),
        ({"review_reason": "  "}, None, None),
        ({"review_reason": "disputed"}, {"finable": True}, NEEDS_REVIEW),
        ({}, {"finable": False, "signal_source": "vision"}, SIGNAL_NOT_FINABLE),
        (None, {"finable": None}, None),
    ],
)
def test_unfinable_table(measurements, metadata, expected):
    """The pure check: a review reason or finable=false refuses; anything else does not."""
    got = unfinable(measurements, metadata)
    assert (got.code if got else None) == expected


def test_refusal_codes_are_checked():
    """An unknown code or an empty reason is a ValueError."""
    with pytest.raises(ValueError, match="refusal code: expected one of"):
        Refusal("maybe", "x")
    with pytest.raises(ValueError, match="non-empty"):
        Refusal(NO_FINE_AMOUNT, " ")

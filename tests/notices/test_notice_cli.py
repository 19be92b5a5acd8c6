"""``safecity notices issue | list | deliver | pdf``: output, exit codes and errors."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from notices.cli import notices_app
from notice_testdata import PLATE, build_case

runner = CliRunner()


def _case(tmp_path, **kw):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    return build_case(tmp_path, url, **kw), url


def test_issue_list_deliver_pdf(tmp_path, monkeypatch):
    """A confirmed case gets a notice from the CLI, shows in the list, goes to the outbox, and its PDF can be written out."""
    case, url = _case(tmp_path)
    monkeypatch.setenv("SAFECITY_EVIDENCE_ROOT", str(case.evidence_root))
    res = runner.invoke(notices_app, ["issue", case.violation_id, "--officer", "officer-17",
                                      "--decided-at", "2026-11-26T15:30:00+06:00", "--db", url, "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert (doc["number"], doc["amount"], doc["discount_until"]) == ("2026-0000001", 7500, "2026-12-11")
    again = runner.invoke(notices_app, ["issue", case.violation_id, "--officer", "officer-99", "--db", url, "--json"])
    assert json.loads(again.stdout)["id"] == doc["id"]  # idempotent: the first notice

    listed = json.loads(runner.invoke(notices_app, ["list", "--db", url, "--json", "--status", "pending"]).stdout)
    assert [n["number"] for n in listed] == ["2026-0000001"]

    res = runner.invoke(notices_app, ["deliver", "--db", url, "--outbox", str(tmp_path / "out"), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["delivered"] == 1
    assert json.loads((tmp_path / "out" / "2026-0000001.json").read_text())["plate"] == PLATE

    res = runner.invoke(notices_app, ["pdf", "2026-0000001", "--out", str(tmp_path / "copy.pdf"), "--db", url])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "copy.pdf").read_bytes().startswith(b"%PDF-")
    res = runner.invoke(notices_app, ["pdf", "2026-0000001", "--out", str(tmp_path / "copy.pdf"), "--db", url])
    assert res.exit_code == 2 and "exists" in res.output


def test_errors_exit_2_with_the_reason(tmp_path, monkeypatch):
    """An unconfirmed case, a bad time and a bad status filter exit 2 naming the problem."""
    case, url = _case(tmp_path, to_state="ready_for_review")
    monkeypatch.setenv("SAFECITY_EVIDENCE_ROOT", str(case.evidence_root))
    res = runner.invoke(notices_app, ["issue", case.violation_id, "--officer", "o1", "--db", url])
    assert res.exit_code == 2 and "needs a confirmed decision" in res.output
    res = runner.invoke(notices_app, ["issue", case.violation_id, "--officer", "o1", "--decided-at", "yesterday", "--db", url])
    assert res.exit_code == 2 and "--decided-at" in res.output
    res = runner.invoke(notices_app, ["list", "--status", "lost", "--db", url])
    assert res.exit_code == 2 and "pending, delivered, needs_attention" in res.output
    res = runner.invoke(notices_app, ["deliver", "--adapter", "fax", "--db", url])
    assert res.exit_code == 2 and "unknown delivery adapter 'fax'" in res.output

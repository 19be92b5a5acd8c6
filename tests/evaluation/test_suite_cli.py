"""`safecity eval-suite --suite`: a bad suite file exits 2 naming the file and the field."""

from typer.testing import CliRunner

from safecity.cli import app


def test_bad_suite_file_exits_2_before_any_work(tmp_path):
    """An unknown scenario in the suite file is refused with exit code 2; no scene is rendered."""
    suite = tmp_path / "suite.yaml"
    suite.write_text("name: broken\nscenes:\n  - {scenario: bus-lain, seeds: [1]}\n")
    work = tmp_path / "work"
    result = CliRunner().invoke(app, ["eval-suite", "--suite", str(suite), "--work-dir", str(work)])
    assert result.exit_code == 2, result.output
    assert "suite.yaml" in result.output and "bus-lane" in result.output
    assert not work.exists()


def test_missing_suite_file_exits_2(tmp_path):
    """A suite path that does not exist is named."""
    result = CliRunner().invoke(app, ["eval-suite", "--suite", str(tmp_path / "none.yaml"), "--work-dir", str(tmp_path / "w")])
    assert result.exit_code == 2 and "none.yaml" in result.output

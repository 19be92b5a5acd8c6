"""`safecity plates` and `safecity eval-plates` as the lead mounts them; scoring on shared data."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from plates.cli import eval_plates_cmd, plates_cmd
from plates.evaluate import evaluate, openalpr_items, score_photos, shared_data_dir
from plates.reader import PlateReader, PlateReaderSettings
from plates.synth import CameraLook, sample_plate

app = typer.Typer()
app.command("plates")(plates_cmd)
app.command("eval-plates")(eval_plates_cmd)
runner = CliRunner()


def test_plates_command_json(tmp_path) -> None:
    """Each image in a folder gets its plates with box, text, country and confidence."""
    rng = np.random.default_rng(0)
    for i, text in enumerate(["01 234 KEY", "05 678 MAX"]):
        sample = sample_plate(rng, text, "car", CameraLook(width_px=170.0), vehicle=True)
        cv2.imwrite(str(tmp_path / f"car{i}.png"), sample.image)
    (tmp_path / "notes.txt").write_text("not an image")
    result = runner.invoke(app, ["plates", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    documents = json.loads(result.stdout)
    assert [d["image"].rsplit("/", 1)[-1] for d in documents] == ["car0.png", "car1.png"]
    plates = [d["plates"][0] for d in documents]
    assert [p["text"] for p in plates] == ["01234KEY", "05678MAX"]
    assert all(p["country"] == "KG" and p["status"] == "read" and len(p["box"]) == 4 for p in plates)


def test_plates_command_table_and_errors(tmp_path) -> None:
    """The human table names the plate; a missing path and a bad country exit 2."""
    rng = np.random.default_rng(1)
    sample = sample_plate(rng, "02 468 TOP", "car", CameraLook(width_px=170.0), vehicle=True)
    cv2.imwrite(str(tmp_path / "car.png"), sample.image)
    table = runner.invoke(app, ["plates", str(tmp_path / "car.png")])
    assert table.exit_code == 0 and "02 468 TOP" in table.stdout
    missing = runner.invoke(app, ["plates", str(tmp_path / "nope.jpg")])
    assert missing.exit_code == 2 and "no such image" in missing.output
    bad = runner.invoke(app, ["plates", str(tmp_path), "--country", "KGZ"])
    assert bad.exit_code == 2 and "unknown country" in bad.output


def test_eval_generated_json_and_skips_without_shared_data(tmp_path, monkeypatch) -> None:
    """The generated KG set always runs; photo sets are skipped cleanly without shared data."""
    monkeypatch.setenv("SAFECITY_SHARED_DATA", str(tmp_path / "absent"))
    result = runner.invoke(
        app, ["eval-plates", "--set", "generated", "--set", "openalpr_us", "--n-generated", "3", "--json"]
    )
    assert result.exit_code == 0, result.output
    scores = {s["name"]: s for s in json.loads(result.stdout)}
    assert scores["generated"]["total"] == 3 and scores["generated"]["exact"] >= 2
    assert scores["generated_single_frame"]["total"] == 3
    assert scores["openalpr_us"]["total"] == 0 and scores["openalpr_us"]["note"].startswith("skipped")


def test_eval_unknown_set_and_target(monkeypatch, tmp_path) -> None:
    """A misspelt set exits 2 with a did-you-mean; --min-exact 1.01 is refused by the option range."""
    result = runner.invoke(app, ["eval-plates", "--set", "genrated"])
    assert result.exit_code == 2 and "did you mean 'generated'" in result.output
    with pytest.raises(ValueError, match="unknown plate set"):
        evaluate(["openalpr"], None)


@pytest.mark.shared_data
def test_openalpr_subset_scores() -> None:
    """On the first 20 openalpr US photos, at least 12 are read exactly end to end."""
    root = shared_data_dir()
    if root is None:
        pytest.skip("../shared/data not found (set SAFECITY_SHARED_DATA)")
    items = list(openalpr_items(root))[:20]
    settings = PlateReaderSettings(countries=("US",))
    reader = PlateReader.create(settings, intra_op_threads=1, photos=True)
    score = score_photos("openalpr_us", items, reader)
    assert score.total == 20
    assert score.exact >= 12
    assert score.exact_given_box >= 12


def test_plate_model_option_reads_with_the_fine_tuned_model(tmp_path) -> None:
    """`--plate-model plates-yolov8n-ft` reads generated KG plates with the fine-tuned detector."""
    rng = np.random.default_rng(5)
    sample = sample_plate(rng, "02 345 ABC", "car", CameraLook(width_px=160.0), vehicle=True)
    cv2.imwrite(str(tmp_path / "car.png"), sample.image)
    result = runner.invoke(app, ["plates", str(tmp_path), "--json", "--plate-model", "plates-yolov8n-ft"])
    assert result.exit_code == 0, result.output
    plate = json.loads(result.stdout)[0]["plates"][0]
    assert plate["text"] == "02345ABC" and plate["status"] == "read"


@pytest.mark.parametrize("command", [["plates", "."], ["eval-plates", "--set", "generated", "--n-generated", "1"]])
def test_plate_model_option_rejects_an_unknown_model(command) -> None:
    """An unknown --plate-model is a clear input error (exit 2) listing the committed names."""
    result = runner.invoke(app, [*command, "--plate-model", "plates-nope"])
    assert result.exit_code == 2
    assert "plate model not found: plates-nope" in result.output
    assert "plates-yolov8n-ft" in result.output

"""`safecity bench` end to end on a tiny clip: every measurement present, ratios computed."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from bench.cli import bench_cmd
from bench.timing import Timing
from test_bench_sources import write_video

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
app.command("bench")(bench_cmd)
app.command("unused", hidden=True)(lambda: None)  # keeps "bench" a sub-command
runner = CliRunner()


def test_timing_rates() -> None:
    """fps is per wall second, fps_per_core per CPU second; streams = that / stream fps."""
    t = Timing(frames=100, wall_s=2.0, cpu_s=4.0)
    assert (t.fps, t.fps_per_core, t.streams_per_core(25.0)) == (50.0, 25.0, 1.0)
    assert Timing(0, 0.0, 0.0).fps == 0.0


def test_bench_json_on_a_small_clip(tmp_path: Path) -> None:
    """One run measures decode, detector (batch 1 and 4), the pipeline at the clip's size, 1080p
    and 720p, and reports the baseline as skipped with a reason when no ultralytics Python."""
    video = write_video(tmp_path / "clip.mp4", frames=8)
    result = runner.invoke(
        app,
        [
            "bench",
            "--video",
            str(video),
            "--json",
            "--work-dir",
            str(tmp_path / "work"),
            "--baseline-python",
            str(tmp_path / "no-python"),
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["sizes"] == {"source": [320, 240], "1080p25": [1920, 1080], "720p25": [1280, 720]}
    assert set(doc["decode_only"]) == set(doc["pipeline"]) == {"source", "1080p25", "720p25"}
    assert set(doc["every_frame_pipeline"]) == {"source", "1080p25", "720p25"}
    assert list(doc["steps"]) == ["every frame (before)", "+ region crop", "+ stride 3 with prediction", "+ motion gate", "+ optical flow"]
    assert all(t["frames"] == 8 and t["cpu_s"] > 0 for t in doc["steps"].values())
    assert doc["options"]["detect_stride"] == 3 and doc["options"]["motion_gate"] and doc["options"]["roi_crop"]
    assert set(doc["detector_only"]) == {"batch 1", "batch 4"}
    assert all(run["frames"] == 8 and run["fps"] > 0 for run in doc["pipeline"].values())
    assert doc["baseline"] == {
        "status": "skipped",
        "reason": f"--baseline-python {tmp_path / 'no-python'} not found",
    }
    ratios = doc["ratios"]
    assert ratios["pipeline / decode-only fps (1080p25)"] > 0
    assert ratios["real-time 25 fps streams per CPU core (1080p25)"] > 0
    assert ratios["pipeline / naive baseline, per CPU second (source)"] is None
    assert ratios["pipeline / every-frame pipeline, per CPU second (1080p25)"] > 0
    # Plates on: the same scheduled run with a plate reader, paired with the plates-off run.
    assert doc["pipeline_with_plates"]["source"]["frames"] == 8 and doc["pipeline_with_plates"]["source"]["cpu_s"] > 0
    assert set(doc["plates"]) == {"violations", "plates_read"} and doc["plates"]["plates_read"] <= doc["plates"]["violations"]
    assert ratios["plates on / plates off, per CPU second, evidence included (source)"] > 0
    assert ratios["real-time 25 fps streams per CPU core, plates on, evidence included (source)"] > 0


def test_missing_video_exits_2(tmp_path: Path) -> None:
    """A --video that does not exist exits 2 naming it."""
    result = runner.invoke(app, ["bench", "--video", str(tmp_path / "absent.mp4")])
    assert result.exit_code == 2 and "absent.mp4: video file not found" in result.output


def test_missing_model_exits_2_naming_it(tmp_path: Path) -> None:
    """A --model that is neither a file nor a committed model's name exits 2 naming it."""
    result = runner.invoke(app, ["bench", "--model", str(tmp_path / "absent.onnx")])
    assert result.exit_code == 2 and "detector model not found" in result.output
    assert "absent.onnx" in result.output

"""process_video with controller-feed and vision sources on a real video: fines, review marks, disagreements, signed packages."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from detectors.registry import create_detector
from exchange.home import init_home
from pipeline.config import CameraConfig
from pipeline.manifest import EvidenceSigner, verify_package
from pipeline.run import ProcessOptions, process_video, result_document
from pipeline.signal_sources.compare import VISION_REVIEW_REASON
from pipeline.signal_sources.events import format_utc
from pipeline.signal_sources.setup import DISPUTE_REASON
from scenes.world import SignalHeadPx, draw_signal
from tests.factories import camera_dict

HEAD = SignalHeadPx((1000.0, 100.0, 30.0, 69.0), ((1015.0, 111.5), (1015.0, 134.5), (1015.0, 157.5)), 9.0)
T0 = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.timezone.utc).timestamp()  # camera_dict's start_time_utc


def video(path: Path, head_state: str, frames: int = 100) -> Path:
    """A block driving toward the camera across the stop line; the signal head shows ``head_state``."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (1280, 720))
    for k in range(frames):
        img = np.full((720, 1280, 3), 90, np.uint8)
        cv2.rectangle(img, (1000, 100), (1030, 169), (25, 25, 25), -1)
        draw_signal(img, HEAD, head_state, "day")
        y = 120 + 5 * k
        cv2.rectangle(img, (640, y), (760, y + 90), (230, 230, 230), -1)
        writer.write(img)
    writer.release()
    return path


def run(tmp_path: Path, head_state: str, log_seconds: range, vision: bool, signer=None):
    log = tmp_path / "controller.log"
    log.write_text("".join(f"{format_utc(T0 + s)} red kind=status\n" for s in log_seconds), encoding="utf-8")
    doc = camera_dict()
    doc["signal"] = {
        "source": "log_file", "stop_line": "stop-1", "head_px": list(HEAD.box_px),
        "feed": {"path": str(log), "max_silence_s": 1.5}, "vision": {"enabled": vision},
    }
    result = process_video(
        video(tmp_path / "v.mp4", head_state), CameraConfig.model_validate(doc), "0" * 64,
        create_detector("motion", warmup_frames=5), "motion", tmp_path / "ev", ProcessOptions(min_track_points=3), signer=signer,
    )
    return result, result_document(result)


def test_feed_red_vision_green_reports_and_holds_for_review(tmp_path):
    """The feed decides the phase (source log_file); the green head is reported and puts the hit to review."""
    signer = EvidenceSigner.from_home(init_home())
    result, doc = run(tmp_path, "green", range(0, 6), vision=True, signer=signer)
    [v] = [v for v in result.violations if v.type == "red_light"]
    assert v.signal_state == "red" and v.measurements["signal_source"] == "log_file"
    [d] = doc["signal_disagreements"]
    assert (d["feed_source"], d["feed_state"], d["vision_state"]) == ("log_file", "red", "green")
    # The camera saw green when the feed said red: the hit goes to a person, not to a fine.
    assert v.measurements["review_reason"] == DISPUTE_REASON
    package = tmp_path / "ev" / v.id
    meta = json.loads((package / "metadata.json").read_text())
    assert meta["signal_source"] == "log_file" and meta["finable"] is False
    assert meta["signal_disagreements"] == [d]
    for key in ("camera_id", "location", "calibration_version", "offence_time_utc", "speed_kmh", "limit_kmh", "model", "software_version"):
        assert key in meta
    assert {"before.jpg", "at.jpg", "after.jpg", "clip.mp4", "vehicle.jpg", "metadata.json", "manifest.json"} <= {p.name for p in package.iterdir()}
    report = verify_package(package, init_home().roster.public_keys())
    assert report.ok, report.problems


def test_silent_feed_vision_red_is_review_only(tmp_path):
    """Feed silent at the crossing: the vision phase is used, marked source=vision and not finable."""
    result, _ = run(tmp_path, "red", range(-3, -2), vision=True)
    [v] = [v for v in result.violations if v.type == "red_light"]
    assert v.measurements["signal_source"] == "vision"
    assert v.measurements["review_reason"] == VISION_REVIEW_REASON
    meta = json.loads((tmp_path / "ev" / v.id / "metadata.json").read_text())
    assert meta["finable"] is False and meta["review_reason"] == VISION_REVIEW_REASON
    # Unsigned (no signer given): the manifest exists but does not verify.
    assert verify_package(tmp_path / "ev" / v.id).problems == ["manifest.json: not signed"]


def test_feed_red_vision_red_is_finable(tmp_path):
    """Feed and head agree on red: a finable hit, no disagreement, no review reason."""
    result, doc = run(tmp_path, "red", range(0, 6), vision=True)
    [v] = [v for v in result.violations if v.type == "red_light"]
    assert v.measurements["signal_source"] == "log_file" and "review_reason" not in v.measurements
    assert doc["signal_disagreements"] == []
    assert json.loads((tmp_path / "ev" / v.id / "metadata.json").read_text())["finable"] is True


def test_silent_feed_without_vision_never_fines(tmp_path):
    """Feed silent and no vision: the phase is unknown and no red-light violation is raised."""
    result, doc = run(tmp_path, "red", range(-3, -2), vision=False)
    assert not [v for v in result.violations if v.type in ("red_light", "stop_line")]
    assert doc["signal_disagreements"] == []


@pytest.mark.parametrize("bad", ["", "   "])
def test_vision_fines_need_a_reason(bad):
    """allow_fines without a reason is refused by the config."""
    doc = camera_dict()
    doc["signal"].update(head_px=list(HEAD.box_px), vision={"enabled": True, "allow_fines": True, "allow_fines_reason": bad})
    with pytest.raises(ValueError, match="allow_fines_reason"):
        CameraConfig.model_validate(doc)

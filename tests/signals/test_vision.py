"""The vision fallback: HSV lamp classification, debouncing, feed comparison and finability."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.config import PhasePlan, VisionSignalConfig, load_camera_config
from pipeline.signal_sources.compare import VISION_REVIEW_REASON, CompareSignalSource, phase_finable
from pipeline.signal_sources.setup import SignalSetup
from pipeline.signal_sources.vision import VisionSignalSource, classify_head
from pipeline.signals import PhaseInterval, PlanSignalSource
from scenes.world import SignalHeadPx, draw_signal

HEAD = SignalHeadPx((100.0, 40.0, 30.0, 69.0), ((115.0, 51.5), (115.0, 74.5), (115.0, 97.5)), 9.0)
HEAD_PX = HEAD.box_px
SAMPLES = Path(__file__).resolve().parents[2] / "sample_videos"
ORIGIN = dt.datetime(2026, 11, 26, 8, 0, tzinfo=dt.timezone.utc)


def frame(state: str, lighting: str) -> np.ndarray:
    """A frame with the scene renderer's own signal head drawn in ``state``."""
    bg = {"day": 120, "dusk": 60, "night": 12}[lighting]
    img = np.full((200, 260, 3), bg, np.uint8)
    cv2.rectangle(img, (100, 40), (130, 109), (25, 25, 25), -1)
    draw_signal(img, HEAD, state, lighting)
    return img


@pytest.mark.parametrize("lighting", ["day", "dusk", "night"])
@pytest.mark.parametrize("state", ["green", "amber", "red", "red_amber"])
def test_renderer_states_classified(state, lighting):
    """Every state the renderer draws is read back, day, dusk and night (night glow included)."""
    assert classify_head(frame(state, lighting), HEAD_PX).state == state


@pytest.mark.parametrize("gain", [0.35, 0.5, 1.6])
@pytest.mark.parametrize("lighting", ["day", "night"])
@pytest.mark.parametrize("state", ["green", "amber", "red", "red_amber"])
def test_exposure_changes(state, lighting, gain):
    """Under- and overexposed heads (night glow clipping included) still read right."""
    img = np.clip(frame(state, lighting) * gain, 0, 255).astype(np.uint8)
    assert classify_head(img, HEAD_PX).state == state


@pytest.mark.parametrize("gain", [1.0, 1.6, 3.0])
@pytest.mark.parametrize("lighting", ["day", "night"])
def test_dark_head_is_unknown(lighting, gain):
    """A head with no lamp lit (power cut, occluded) is unknown, never a colour, even overexposed in sun."""
    img = np.clip(frame("off", lighting) * gain, 0, 255).astype(np.uint8)
    assert classify_head(img, HEAD_PX).state == "unknown"


def test_green_with_red_is_unknown():
    """A combination no signal shows (green with red) is unknown."""
    img = frame("red", "day")
    img[85:110, 100:131] = frame("green", "day")[85:110, 100:131]  # the lit green lamp
    assert classify_head(img, HEAD_PX).state == "unknown"


@pytest.mark.parametrize(
    "image, box, problem",
    [(np.zeros((50, 50), np.uint8), (1, 1, 5, 5), "uint8 BGR"), (np.zeros((50, 50, 3), np.uint8), (40, 40, 20, 20), "not inside")],
)
def test_bad_inputs_named(image, box, problem):
    """A grey image or a head box outside the frame is refused with the reason."""
    with pytest.raises(ValueError, match=problem):
        classify_head(image, box)


def fed(states: list[str], step_s: float = 0.2, cfg: VisionSignalConfig | None = None) -> VisionSignalSource:
    src = VisionSignalSource(HEAD_PX, cfg or VisionSignalConfig(enabled=True, sample_every_s=step_s))
    cache = {s: frame(s, "night") for s in set(states)}
    for k, s in enumerate(states):
        src.observe(k * step_s, cache[s])
    return src


def test_debounce_ignores_single_flicker():
    """One odd reading between steady ones does not change the debounced phase."""
    src = fed(["red"] * 5 + ["green"] + ["red"] * 5 + ["green"] * 5)
    assert [(s.state, s.start_s) for s in src.segments()] == [("red", 0.0), ("green", pytest.approx(2.2))]
    assert src.state_at(1.0).state == "red"
    assert src.state_at(5.0).state == "unknown" and src.state_at(5.0).reason == "no_vision_sample"


def test_sampling_interval_respected():
    """Frames arriving faster than sample_every_s are not all classified."""
    src = VisionSignalSource(HEAD_PX, VisionSignalConfig(enabled=True, sample_every_s=0.2))
    img = frame("green", "day")
    for k in range(25):
        src.observe(k / 25, img)
    assert len(src.samples) == 5


def plan(offset: float = 0.0) -> PlanSignalSource:
    return PlanSignalSource(PhasePlan.model_validate({"offset_s": offset, "phases": [
        {"state": "green", "duration_s": 4}, {"state": "amber", "duration_s": 2}, {"state": "red", "duration_s": 4}]}))


def video_of(p: PlanSignalSource, seconds: float, step_s: float = 0.2) -> VisionSignalSource:
    return fed([p.state_at(k * step_s).state for k in range(int(seconds / step_s))], step_s)


def test_no_disagreement_when_vision_matches_feed():
    """The head drawn from the plan agrees with the plan: nothing reported."""
    p = plan()
    assert CompareSignalSource(p, video_of(p, 20)).disagreements("cam-1", ORIGIN) == []


def test_disagreement_reported_with_states_and_times(caplog):
    """A feed 3 s out of step with the head yields records naming both states, and a log line."""
    p = plan()
    vision = video_of(p, 20)
    shifted = plan(offset=3.0)
    found = CompareSignalSource(shifted, vision).disagreements("cam-1", ORIGIN)
    assert found, "a 3 s shift must be noticed"
    first = found[0]
    assert (first.camera_id, first.feed_source) == ("cam-1", "plan")
    assert first.feed_state != first.vision_state
    assert first.end_s - first.start_s >= 1.0
    assert first.start_utc.startswith("2026-11-26T08:00")
    assert "signal disagreement camera_id=cam-1" in caplog.text


class _SilentFeed:
    """A feed that knows nothing (what a silent controller link looks like)."""

    name = "controller_udp"

    def state_at(self, t_s: float) -> PhaseInterval:
        return PhaseInterval("unknown", t_s, t_s, self.name, "feed_silent")


def test_vision_fills_in_but_is_not_finable():
    """When the feed is silent, vision gives the phase, marked source=vision and review-only."""
    vision = video_of(plan(), 20)
    combined = CompareSignalSource(_SilentFeed(), vision)
    ph = combined.state_at(8.0)
    assert (ph.state, ph.source) == ("red", "vision")
    assert "feed_silent" in ph.reason
    assert phase_finable(ph, VisionSignalConfig()) == (False, VISION_REVIEW_REASON)
    allowed = VisionSignalConfig(allow_fines=True, allow_fines_reason="controller has no data link; head calibrated 2026-10")
    assert phase_finable(ph, allowed) == (True, "")
    assert phase_finable(PhaseInterval("unknown", 0, 1, "plan", "feed_silent"), allowed)[0] is False


def test_feed_wins_where_it_knows():
    """Where the feed knows the phase, it decides, whatever vision says."""
    vision = video_of(plan(offset=3.0), 20)
    ph = CompareSignalSource(plan(), vision).state_at(1.0)
    assert (ph.state, ph.source) == ("green", "plan")


@pytest.mark.parametrize("scene", ["day-default-s1", "night-s2"])
def test_rendered_scenes_vision_matches_plan(scene):
    """On the committed generated scenes the classifier agrees with the controller plan on every sampled frame."""
    cfg = load_camera_config(SAMPLES / scene / "camera.yaml")
    truth = PlanSignalSource(cfg.signal.plan)
    cap = cv2.VideoCapture(str(SAMPLES / scene / "scene.mp4"))
    fps = cap.get(cv2.CAP_PROP_FPS)
    hits = total = 0
    k = 0
    while True:
        ok, img = cap.read()
        if not ok:
            break
        if k % 5 == 0:
            total += 1
            hits += classify_head(img, cfg.signal.head_px).state == truth.state_at(k / fps).state
        k += 1
    cap.release()
    assert total >= 90 and hits == total


def test_setup_without_vision_is_plain_feed():
    """A camera without vision enabled runs the primary source alone."""
    from tests.factories import camera_config

    setup = SignalSetup.from_config(camera_config())
    assert setup.vision is None and setup.source is setup.primary and setup.name == "plan"
    v = setup.verdict(12.0)
    assert v is not None and v.phase.source == "plan" and v.finable

"""Stream health (pure) and reconnect backoff: frozen pictures, timestamp gaps, frame-rate drops."""

from __future__ import annotations

import random

import numpy as np
import pytest

from workers.streams import Backoff, BackoffPolicy, HealthThresholds, StreamHealth

FPS = 25.0


def _noisy(rng: np.random.Generator) -> np.ndarray:
    return rng.normal(120, 3, size=(36, 64)).astype(np.float32)


def _feed(health: StreamHealth, thumbs, fps: float = FPS, t0: float = 0.0, pts0: float = 0.0):
    events = []
    for i, th in enumerate(thumbs):
        events += health.observe(pts0 + i / fps, t0 + i / fps, th)
    return events


def test_live_noise_is_not_frozen():
    """A picture that changes only by sensor noise never raises a frozen alert."""
    rng = np.random.default_rng(1)
    h = StreamHealth(HealthThresholds(frozen_after_s=2), FPS)
    assert _feed(h, [_noisy(rng) for _ in range(200)]) == []


def test_frozen_raised_after_threshold_and_cleared():
    """Identical frames raise "frozen" once after frozen_after_s of stream time and clear when the picture moves."""
    rng = np.random.default_rng(2)
    still = _noisy(rng)
    h = StreamHealth(HealthThresholds(frozen_after_s=2), FPS)
    frames = [_noisy(rng) for _ in range(10)] + [still] * 80 + [_noisy(rng) for _ in range(5)]
    events = _feed(h, frames)
    assert [(e.kind, e.state) for e in events] == [("frozen", "raised"), ("frozen", "cleared")]
    assert events[0].details["frozen_s"] == pytest.approx(2.0, abs=0.05)
    assert events[1].details["frozen_s"] == pytest.approx(79 / FPS, abs=0.05)


def test_short_freeze_is_not_reported():
    """A still picture shorter than frozen_after_s raises nothing."""
    rng = np.random.default_rng(3)
    still = _noisy(rng)
    h = StreamHealth(HealthThresholds(frozen_after_s=2), FPS)
    assert _feed(h, [_noisy(rng)] * 1 + [still] * 40 + [_noisy(rng) for _ in range(5)]) == []


@pytest.mark.parametrize(
    ("pts_jump_s", "arrival_jump_s", "expected"),
    [
        (3.0, 0.04, ["stream timestamp jumped by 3.00 s"]),
        (-2.0, 0.04, ["stream timestamp went backwards by -2.00 s"]),
        (0.04, 2.5, ["no frame arrived for 2.50 s"]),
        (0.5, 0.5, []),  # under gap_s: no alert
    ],
)
def test_timestamp_gaps(pts_jump_s, arrival_jump_s, expected):
    """A jump of the stream clock or of arrival times beyond gap_s is one timestamp_gap alert."""
    rng = np.random.default_rng(4)
    h = StreamHealth(HealthThresholds(gap_s=1.0), FPS)
    _feed(h, [_noisy(rng) for _ in range(10)])
    events = h.observe(9 / FPS + pts_jump_s, 9 / FPS + arrival_jump_s, _noisy(rng))
    assert [e.message for e in events] == expected
    assert all(e.kind == "timestamp_gap" for e in events)


def test_fps_drop_raised_and_cleared():
    """Arrivals at 8 fps of a 25 fps stream raise fps_drop after a full window; back at 25 fps it clears."""
    rng = np.random.default_rng(5)
    h = StreamHealth(HealthThresholds(fps_window_s=2, min_fps_ratio=0.5), FPS)
    events = _feed(h, [_noisy(rng) for _ in range(75)], fps=25)  # 3 s fine
    assert events == []
    events = _feed(h, [_noisy(rng) for _ in range(24)], fps=8, t0=3.0, pts0=3.0)  # 3 s slow
    assert [(e.kind, e.state) for e in events] == [("fps_drop", "raised")]
    assert events[0].details["fps"] < 12.5
    events = _feed(h, [_noisy(rng) for _ in range(75)], fps=25, t0=6.0, pts0=6.0)
    assert [(e.kind, e.state) for e in events] == [("fps_drop", "cleared")]


def test_backoff_grows_with_jitter_and_is_capped():
    """Delays double from initial_s up to max_s; each lies in [(1 - jitter) * base, base]; reset starts over."""
    b = Backoff(BackoffPolicy(initial_s=0.5, factor=2, max_s=4, jitter=0.5), random.Random(7))
    delays = [b.next_delay_s() for _ in range(7)]
    bases = [0.5, 1, 2, 4, 4, 4, 4]
    for d, base in zip(delays, bases):
        assert 0.5 * base <= d <= base
    assert len(set(delays)) == len(delays)  # jittered, not a fixed ladder
    b.reset()
    assert b.next_delay_s() <= 0.5


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("initial_s", 0, "greater than 0"), ("factor", 0.5, "greater than or equal to 1"), ("jitter", 2, "less than or equal to 1")],
)
def test_backoff_policy_rejects_bad_values(field, value, message):
    """Invalid backoff settings are refused, naming the field."""
    with pytest.raises(ValueError, match=message) as info:
        BackoffPolicy(**{field: value})
    assert field in str(info.value)

"""The fixed-time signal plan: states over time, the scene timeline, time since red began."""

from __future__ import annotations

import pytest

from scenes.signal import PROHIBITING, Phase, SignalPlan, standard_plan


@pytest.mark.parametrize(
    ("t_s", "state"),
    [(0.0, "green"), (7.99, "green"), (8.0, "amber"), (10.99, "amber"), (11.0, "red"), (22.99, "red"),
     (23.0, "red_amber"), (25.0, "green"), (35.0, "amber")],
)
def test_state_at(t_s, state):
    """Offset 2 s into a 10/3/12/2 cycle: green to 8 s, amber to 11 s, red to 23 s, red+amber to 25 s."""
    assert standard_plan(2.0).state_at(t_s) == state


def test_timeline_tiles_the_scene():
    """The timeline starts at 0, ends at the scene length and alternates states."""
    tl = standard_plan(2.0).timeline(30.0)
    assert [(p.state, p.start_s, p.end_s) for p in tl] == [
        ("green", 0.0, 8.0), ("amber", 8.0, 11.0), ("red", 11.0, 23.0), ("red_amber", 23.0, 25.0),
        ("green", 25.0, 30.0),
    ]


def test_elapsed_in_prohibiting_run():
    """Time since red began counts through red + amber and is 0 outside it."""
    plan = standard_plan(2.0)
    assert plan.elapsed_in(12.5, PROHIBITING) == pytest.approx(1.5)
    assert plan.elapsed_in(24.0, PROHIBITING) == pytest.approx(13.0)
    assert plan.elapsed_in(5.0, PROHIBITING) == 0.0


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Phase("blue", 3.0), "state"),
        (lambda: Phase("red", 0.0), "duration_s"),
        (lambda: SignalPlan(()), "at least one phase"),
        (lambda: SignalPlan((Phase("red", 5.0),), offset_s=5.0), "offset_s"),
    ],
)
def test_bad_plans(build, message):
    """Unknown states, empty plans and offsets outside the cycle are refused."""
    with pytest.raises(ValueError, match=message):
        build()

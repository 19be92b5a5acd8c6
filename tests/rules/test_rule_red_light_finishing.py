"""A vehicle that entered on green or amber and finishes its manoeuvre on red is no violation."""

import numpy as np
import pytest

from pipeline.analysis import analyse_track
from pipeline.scene import build_scene_geometry
from pipeline.signals import PlanSignalSource
from tests.factories import STOP_Y_M, approach, camera_config, track_from_positions
from pipeline.types import Track, TrackPoint

CFG = camera_config()
GEOM = build_scene_geometry(CFG)
SIGNAL = PlanSignalSource(CFG.signal.plan)  # green 0-10, amber 10-13, red 13-25, red_amber 25-27


def _hits(t, y, x=1.75):
    return sorted(h.type for h in analyse_track(track_from_positions(t, y, x_m=x), CFG, GEOM, SIGNAL).hits)


def _queued_in_junction(t_cross: float, wait_until: float):
    """Crosses the line at ``t_cross``, stops 10 m past it (queue in the junction), goes on at ``wait_until``."""
    t = np.arange(t_cross - 2.0, wait_until + 4.0, 0.04)
    v = 8.0
    y = np.empty(len(t))
    for k, ti in enumerate(t):
        if ti < t_cross + 10.0 / v:
            y[k] = STOP_Y_M + v * (t_cross - ti)
        elif ti < wait_until:
            y[k] = STOP_Y_M - 10.0
        else:
            y[k] = STOP_Y_M - 10.0 - 0.5 * 2.0 * (ti - wait_until) ** 2
    return t, y


CASES = [
    ("entered on green, queued in the junction, clears on red", _queued_in_junction(9.0, 15.0), []),
    ("entered on amber, queued in the junction, clears on red", _queued_in_junction(11.5, 16.0), []),
    ("entered on amber at 30 km/h, clears on red", approach(t0=11.0, t1=17, y0=50, speed_kmh=30), []),
    ("entered 0.1 s before red", approach(t0=11.0, t1=17, y0=35 + 1.9 * 50 / 3.6, speed_kmh=50), []),
    ("entered 0.2 s after red", approach(t0=11.0, t1=17, y0=35 + 2.2 * 50 / 3.6, speed_kmh=50), ["red_light"]),
]


@pytest.mark.parametrize(("name", "ty", "expected"), CASES, ids=[c[0] for c in CASES])
def test_finishing_the_manoeuvre_table(name, ty, expected):
    """Only the phase when the front crosses the stop line decides a red-light hit."""
    assert _hits(*ty) == expected


def test_turning_after_amber_entry_is_not_red_light():
    """Crossed on amber, then turned (lateral motion) and left the view during red: no hit."""
    t = np.arange(11.0, 17.0, 0.04)
    y = np.maximum(50.0 - 10.0 * (t - 11.0), 15.0)  # crosses Y 35 at 12.5 s (amber)
    x = 1.75 + np.clip(t - 14.0, 0, None) * 6.0     # turns across from 14 s (red)
    pts = tuple(TrackPoint(int(round(ti * 25)), float(ti), (600.0, 400.0, 700.0, 480.0), (float(xi), float(yi)), 0.9)
                for ti, xi, yi in zip(t, x, y))
    hits = analyse_track(Track(1, "car", pts), CFG, GEOM, SIGNAL).hits
    assert "red_light" not in {h.type for h in hits}

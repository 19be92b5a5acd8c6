"""A fast vehicle seen for less than one fit window still gets a speed (one fit over its span)."""

import numpy as np

from pipeline.analysis import analyse_track
from pipeline.scene import build_scene_geometry
from pipeline.types import Track, TrackPoint
from tests.factories import camera_config

CFG = camera_config()
GEOM = build_scene_geometry(CFG)


def _track(duration_s: float, speed_kmh: float) -> Track:
    t = np.arange(0, duration_s, 0.04)
    y = 30.0 + speed_kmh / 3.6 * t
    return Track(1, "car", tuple(TrackPoint(int(round(x * 25)), float(x), (600.0, 400.0, 700.0, 480.0), (1.75, float(yy)), 0.9, True, 0.1)
                                 for x, yy in zip(t, y)))


def test_short_fast_track_is_measured_and_flagged():
    """0.6 s at 110 km/h (18 m): no 1.2 s window fits, the whole-span fit measures it."""
    a = analyse_track(_track(0.64, 110.0), CFG, GEOM, None)
    assert a.speed is not None and abs(a.speed.speed_kmh - 110.0) < 0.5
    assert [h.type for h in a.hits] == ["speeding"]


def test_too_short_track_stays_unmeasured():
    """Under min_fit_s (0.5 s) nothing is measured."""
    assert analyse_track(_track(0.4, 110.0), CFG, GEOM, None).speed is None

"""Exact synthetic tracks for the rule tables (road metres, 25 fps)."""

from __future__ import annotations

import numpy as np

from pipeline.types import Track, TrackPoint

FPS = 25.0


def track(t, x, y, cls: str = "car", track_id: int = 1) -> Track:
    """A track from time, X and Y arrays (front point), all observations usable and measurable."""
    pts = tuple(
        TrackPoint(int(round(ti * FPS)), float(ti), (0.0, 0.0, 10.0, 10.0), (float(xi), float(yi)), 0.9, True, 0.05)
        for ti, xi, yi in zip(t, x, y)
    )
    return Track(track_id, cls, pts)


def straight(x: float, y0: float, speed_kmh: float, duration_s: float, t0: float = 0.0, toward: bool = True):
    """(t, x, y) of a constant-speed drive along the road."""
    t = np.arange(t0, t0 + duration_s, 1 / FPS)
    y = y0 + (-1 if toward else 1) * speed_kmh / 3.6 * (t - t0)
    return t, np.full(len(t), x), y


def lane_change(x0: float, x1: float, y0: float, speed_kmh: float, t_change: tuple[float, float], duration_s: float,
                toward: bool = True):
    """(t, x, y): constant speed, smooth lateral move from x0 to x1 during ``t_change``."""
    t, _, y = straight(x0, y0, speed_kmh, duration_s, toward=toward)
    s = np.clip((t - t_change[0]) / (t_change[1] - t_change[0]), 0, 1)
    return t, x0 + (x1 - x0) * (3 * s**2 - 2 * s**3), y


def excursion(x0: float, x1: float, y0: float, speed_kmh: float, out: tuple[float, float], back: tuple[float, float],
              duration_s: float):
    """(t, x, y): approaching; moves to x1 during ``out`` and back to x0 during ``back``."""
    t, _, y = straight(x0, y0, speed_kmh, duration_s)
    s_out = np.clip((t - out[0]) / (out[1] - out[0]), 0, 1)
    s_back = np.clip((t - back[0]) / (back[1] - back[0]), 0, 1)
    x = x0 + (x1 - x0) * (3 * s_out**2 - 2 * s_out**3) - (x1 - x0) * (3 * s_back**2 - 2 * s_back**3)
    return t, x, y


def far_coarse(t, x, y, cls: str = "car", track_id: int = 1, zone_y_m: float = 60.0) -> Track:
    """A track whose resolution coarsens with distance, as a road camera sees it.

    One pixel spans 0.25 m of road at ``zone_y_m`` (the default measurement zone's edge) and
    grows with the square of the distance (0.84 m at 110 m, 1.56 m at 150 m).
    """
    pts = tuple(
        TrackPoint(int(round(ti * FPS)), float(ti), (0.0, 0.0, 10.0, 10.0), (float(xi), float(yi)), 0.9, True,
                   0.25 * (float(yi) / zone_y_m) ** 2)
        for ti, xi, yi in zip(t, x, y)
    )
    return Track(track_id, cls, pts)

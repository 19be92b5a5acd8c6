"""Robust speeds from a track's road positions (never frame-to-frame differences).

A window of observations is fitted with a straight line per axis using the Theil-Sen
estimator (median of pairwise slopes), which ignores a minority of bad boxes (occlusion,
a box clipped by a passing vehicle) that would drag a least-squares fit.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from pipeline.types import SpeedMeasurement

MS_TO_KMH = 3.6


@lru_cache(maxsize=256)
def _pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Index arrays (i, j), i < j, of all pairs of ``n`` observations (cached: windows repeat n)."""
    i, j = np.triu_indices(n, k=1)
    i.setflags(write=False)
    j.setflags(write=False)
    return i, j


def _pairwise_slopes(t: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Slopes (x[j] - x[i]) / (t[j] - t[i]) of all pairs with distinct times; x is (N,) or (N, D)."""
    i, j = _pairs(len(t))
    dt = t[j] - t[i]
    ok = dt > 1e-9
    if not np.any(ok):
        raise ValueError("need at least two distinct times")
    dx = x[j] - x[i]
    return dx[ok] / (dt[ok] if x.ndim == 1 else dt[ok, None])


def theil_sen_slope(t: np.ndarray, x: np.ndarray) -> float:
    """Median of pairwise slopes dx/dt; units of x per second."""
    return float(np.median(_pairwise_slopes(t, x)))


def fit_velocity(t: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, float]:
    """Robust velocity (vx, vy) in m/s and RMS residual in m over one window.

    Args:
        t: (N,) seconds.
        pos: (N, 2) road metres.
    """
    # Both axes from one set of pairs: the same medians as theil_sen_slope per axis.
    v = np.median(_pairwise_slopes(t, pos), axis=0)
    intercept = np.median(pos - np.outer(t, v), axis=0)
    resid = pos - (intercept + np.outer(t, v))
    return v, float(np.sqrt((resid**2).sum(axis=1).mean()))


def fit_speed(t: np.ndarray, pos: np.ndarray) -> SpeedMeasurement:
    """The robust speed over all of ``t`` (one :func:`fit_velocity`), as a measurement."""
    v, resid = fit_velocity(t, pos)
    return SpeedMeasurement(float(np.hypot(*v)) * MS_TO_KMH, float(t[0]), float(t[-1]), len(t), resid)


def window_speeds(
    t: np.ndarray, pos: np.ndarray, window_s: float, min_points: int = 5, step: int | None = None
) -> list[SpeedMeasurement]:
    """Speeds over sliding windows of ``window_s`` seconds.

    Args:
        t: (N,) seconds, increasing.
        pos: (N, 2) road metres.
        window_s: window length, seconds.
        min_points: a window with fewer observations is skipped.
        step: observations between window starts (default: a quarter window).
    """
    t = np.asarray(t, dtype=np.float64)
    pos = np.asarray(pos, dtype=np.float64).reshape(-1, 2)
    out: list[SpeedMeasurement] = []
    if len(t) < min_points:
        return out
    n = len(t)
    start = 0
    while start < n:
        end = int(np.searchsorted(t, t[start] + window_s, side="right"))
        if end - start >= min_points and t[end - 1] - t[start] >= 0.6 * window_s:
            out.append(fit_speed(t[start:end], pos[start:end]))
        if end >= n:
            break
        per_window = max(1, end - start)
        start += step or max(1, per_window // 4)
    return out


def centred_velocities(t: np.ndarray, pos: np.ndarray, half_window_s: float, min_points: int = 3) -> np.ndarray:
    """(N, 2) robust velocity in m/s at each observation, over the observations within
    +-``half_window_s`` of it; NaN where fewer than ``min_points`` are.

    The same numbers as :func:`fit_velocity` on each window in turn, computed for all windows at
    once: with optical flow between detections a track has an observation on every frame, and
    the per-window loop was the rules' largest cost (~6 ms a 1080p frame, issue #3's profile).
    Windows of equal size are stacked and their pairwise slopes take one median; a window with
    two observations at the same time, or ``t`` out of order, goes through :func:`fit_velocity`.

    Args:
        t: (N,) seconds, increasing.
        pos: (N, D) positions (road metres, D = 2) or (N,).
    """
    t = np.asarray(t, dtype=np.float64)
    pos = np.asarray(pos, dtype=np.float64)
    n = len(t)
    out = np.full((n, *pos.shape[1:]), np.nan)
    if n == 0:
        return out
    ordered = bool(np.all(np.diff(t) >= 0))
    lo = np.empty(n, np.int64)
    count = np.empty(n, np.int64)
    for r0 in range(0, n, 512):  # the window of each observation, exactly |t - t[k]| <= half
        sel = np.abs(t[None, :] - t[r0 : r0 + 512, None]) <= half_window_s
        lo[r0 : r0 + 512] = np.argmax(sel, axis=1)
        count[r0 : r0 + 512] = sel.sum(axis=1)
    slow: list[int] = []
    if not ordered:
        slow = [k for k in range(n) if count[k] >= min_points]
    else:
        for m in np.unique(count[count >= min_points]):
            rows = np.nonzero(count == m)[0]
            i, j = _pairs(int(m))
            per_chunk = max(1, 2_000_000 // len(i))  # windows a stacked slope array holds
            for c0 in range(0, len(rows), per_chunk):
                chunk = rows[c0 : c0 + per_chunk]
                idx = lo[chunk, None] + np.arange(m)
                tw, pw = t[idx], pos[idx]
                dt = tw[:, j] - tw[:, i]
                fine = np.all(dt > 1e-9, axis=1)
                slow.extend(chunk[~fine].tolist())
                if fine.any():
                    dt, pw = dt[fine], pw[fine]
                    dx = pw[:, j] - pw[:, i]
                    out[chunk[fine]] = np.median(dx / (dt if pos.ndim == 1 else dt[..., None]), axis=1)
    for k in slow:
        sel = np.abs(t - t[k]) <= half_window_s
        out[k] = np.median(_pairwise_slopes(t[sel], pos[sel]), axis=0)
    return out


def instantaneous_speeds(t: np.ndarray, pos: np.ndarray, half_window_s: float = 0.3) -> np.ndarray:
    """(N,) speed in km/h at each observation, robustly fitted over +-half_window_s (NaN with
    fewer than 3 observations there)."""
    v = centred_velocities(t, np.asarray(pos, dtype=np.float64).reshape(-1, 2), half_window_s, 3)
    return np.hypot(v[:, 0], v[:, 1]) * MS_TO_KMH

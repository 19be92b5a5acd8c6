"""Stopping beyond the stop line at red.

Encodes the KR Traffic Rules (sec. 6.13: at a prohibiting signal stop before the stop line).
The vehicle stops (speed under ``stopped_speed_kmh`` for ``min_stop_s``) during red with its
front at least ``overshoot_m`` past the line. A vehicle that ran the light is reported by the
red-light rule instead, never by both.
"""

from __future__ import annotations

import numpy as np

from pipeline.config import StopLineRuleConfig
from pipeline.rules.red_light import PROHIBITING
from pipeline.rules.stop_line_crossing import LineProgress
from pipeline.signals import SignalSource
from pipeline.types import RuleHit


def stopped_intervals(t_s: np.ndarray, speed_kmh: np.ndarray, below_kmh: float, min_s: float) -> list[tuple[int, int]]:
    """Index ranges [i, j] (inclusive) where speed stays under ``below_kmh`` for >= ``min_s``."""
    slow = np.nan_to_num(speed_kmh, nan=np.inf) < below_kmh
    out: list[tuple[int, int]] = []
    k = 0
    while k < len(slow):
        if slow[k]:
            j = k
            while j + 1 < len(slow) and slow[j + 1]:
                j += 1
            if t_s[j] - t_s[k] >= min_s:
                out.append((k, j))
            k = j + 1
        else:
            k += 1
    return out


def check_stop_line(
    track_id: int,
    progress: LineProgress,
    speed_kmh: np.ndarray,
    signal: SignalSource,
    cfg: StopLineRuleConfig,
) -> RuleHit | None:
    """Flag the first stop at red with the front ``overshoot_m`` or more beyond the line.

    Args:
        progress: the track against the stop line (usable observations).
        speed_kmh: (N,) speed at each of those observations.
    """
    if not cfg.enabled or len(progress.t_s) == 0:
        return None
    for i, j in stopped_intervals(progress.t_s, speed_kmh, cfg.stopped_speed_kmh, cfg.min_stop_s):
        t0 = float(progress.t_s[i])
        phase = signal.state_at(t0)
        if phase.state not in PROHIBITING:
            continue
        beyond = float(np.median(progress.beyond_m[i : j + 1]))
        along = float(np.median(progress.along[i : j + 1]))
        if beyond < cfg.overshoot_m or not (-0.15 <= along <= 1.15):
            continue
        return RuleHit(
            type="stop_line",
            track_id=track_id,
            t_start_s=t0,
            t_end_s=float(progress.t_s[j]),
            t_at_s=t0,
            signal_state=phase.state,
            measurements={
                "beyond_line_m": round(beyond, 2),
                "overshoot_threshold_m": cfg.overshoot_m,
                "stopped_for_s": round(float(progress.t_s[j] - t0), 2),
                "red_since_s": round(t0 - phase.start_s, 3),
            },
        )
    return None

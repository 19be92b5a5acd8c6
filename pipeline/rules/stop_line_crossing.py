"""Shared geometry of the signal rules: where and when a track's front crosses a stop line."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.geometry import Segment
from pipeline.types import Track


@dataclass(frozen=True)
class LineProgress:
    """A track's usable observations against a stop line.

    Attributes:
        t_s: (N,) seconds.
        beyond_m: (N,) signed distance of the front past the line, metres (> 0 = beyond).
        along: (N,) position of the front along the line, fraction of its length.
    """

    t_s: np.ndarray
    beyond_m: np.ndarray
    along: np.ndarray

    def crossing_time(self, lateral_margin: float = 0.15) -> float | None:
        """Interpolated time the front first moves from behind (<= 0) to beyond (> 0) the line.

        Only a crossing within the line's extent (plus ``lateral_margin`` of its length)
        counts: traffic in other lanes passes the line's extension without crossing it.
        """
        b = self.beyond_m
        for k in range(1, len(b)):
            if b[k - 1] <= 0 < b[k]:
                if not (-lateral_margin <= self.along[k] <= 1 + lateral_margin):
                    continue
                frac = -b[k - 1] / (b[k] - b[k - 1])
                return float(self.t_s[k - 1] + frac * (self.t_s[k] - self.t_s[k - 1]))
        return None

    def first_time_beyond(self, distance_m: float, after_s: float) -> float | None:
        """First time at or after ``after_s`` that the front is ``distance_m`` past the line."""
        sel = np.nonzero((self.t_s >= after_s) & (self.beyond_m >= distance_m))[0]
        return float(self.t_s[sel[0]]) if len(sel) else None


def line_progress(track: Track, line: Segment) -> LineProgress:
    """Project the track's usable front positions onto ``line``."""
    use = track.usable
    pos = track.road_m[use]
    return LineProgress(track.t_s[use], line.side(pos), line.projection(pos))

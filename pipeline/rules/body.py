"""Where a vehicle's body is, given the point its box shows: the bumper nearest the camera."""

from __future__ import annotations

import numpy as np

from pipeline.ground_point import GroundPointSettings, headings_of
from pipeline.types import Track

# Within this share of the road's axis (|cos| of the heading against Y, 0.5 = 60 degrees) the
# body lies half a length along the heading; a vehicle moving more across the road than along it
# (mid-turn) or standing still keeps the body half a length further along Y.
ALONG_ROAD_MIN_COS = 0.5
# Headings from the points' motion as the ground point takes them (a window of 1 s that must
# span 1.5 m of road, else the whole observed motion).
_HEADINGS = GroundPointSettings()


def body_centres(track: Track, t_s: np.ndarray, pos: np.ndarray, lengths: dict[str, float]) -> np.ndarray:
    """(N, 2) body centres: half a nominal length from the point, away from the camera.

    The point (the box's bottom centre, or the ground-point correction's bumper) is the end of
    the vehicle nearest the camera: the front of an approaching vehicle, the rear of a receding
    one. Its body lies half a length further on along its heading, away from the camera (towards
    larger Y in the road frame, where the camera looks along +Y). Along the heading and not
    along Y: in a lane change the body's across-road position lags the front's, and a line
    crossed by the body is crossed further on than the front's path suggests (a lane change of
    3.5 m over 36 m moves the body's crossing 2 m along the road).

    Args:
        track: the vehicle (its class picks the length).
        t_s: (N,) ascending times of ``pos``.
        pos: (N, 2) road metres of the observations to convert (a time-ordered subset of the
            track's points).
        lengths: nominal length per class, m; 4.5 m when the class is not listed.
    """
    half = lengths.get(track.class_name, 4.5) / 2
    pos = np.asarray(pos, dtype=np.float64).reshape(-1, 2)
    out = pos.copy()
    out[:, 1] += half
    if len(pos) < 2:
        return out
    heading = headings_of(np.asarray(t_s, dtype=np.float64), pos, _HEADINGS)
    along = np.all(np.isfinite(heading), axis=1)
    along[along] = np.abs(heading[along, 1]) >= ALONG_ROAD_MIN_COS
    # sign(dy) * d points away from the camera whichever way the vehicle drives
    away = heading[along] * np.sign(heading[along, 1])[:, None]
    out[along] = pos[along] + half * away
    return out

"""Where a vehicle's body is, given the front point its box shows."""

from __future__ import annotations

import numpy as np

from pipeline.types import Track


def body_centres(track: Track, pos: np.ndarray, lengths: dict[str, float]) -> np.ndarray:
    """(N, 2) body centres: half a nominal length behind the front point along the road.

    The box's bottom centre is the front of an approaching vehicle (nearest the camera), so
    its body lies further from the camera (larger Y); for a receding vehicle the bottom centre
    is its rear and the body lies nearer the camera.

    Args:
        track: the vehicle (its class picks the length).
        pos: (N, 2) road metres of the observations to convert.
        lengths: nominal length per class, m; 4.5 m when the class is not listed.
    """
    length = lengths.get(track.class_name, 4.5)
    approaching = pos[-1, 1] - pos[0, 1] <= 0
    out = np.array(pos, dtype=np.float64, copy=True)
    out[:, 1] += (1.0 if approaching else -1.0) * length / 2
    return out

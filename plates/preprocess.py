"""Image variants of a plate crop that the OCR reads besides the crop itself (pure cv2/numpy).

One plate read through several preprocessings gives several votes per character
(:mod:`plates.voting`): a variant that removes what confuses the recogniser on one plate (a
coloured emblem between the groups, low contrast) wins there, and where the variants agree the
confidence stays. Each variant keeps the image (H, W, 3) uint8 BGR, so the recogniser's input
is unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np


def _grey3(grey: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))


def max_channel(image: np.ndarray) -> np.ndarray:
    """Each pixel's brightest channel, as grey: a saturated colour (a red or green emblem, the
    red state name, the Arizona cactus) turns nearly as light as the plate's background, while
    black and dark-blue characters stay dark."""
    return _grey3(image.max(axis=2))


def clahe(image: np.ndarray) -> np.ndarray:
    """Grey with local contrast equalised (CLAHE, clip 2, 4 x 4 tiles): lifts faded or
    shadowed characters of a dark or washed-out plate."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return _grey3(cv2.createCLAHE(clipLimit=2.0, tileGridSize=(4, 4)).apply(grey))


#: name -> function; ``"none"`` is the crop as it is.
PREPROCESSORS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "none": lambda image: image,
    "max_channel": max_channel,
    "clahe": clahe,
}


def check_preprocess(names: tuple[str, ...]) -> tuple[str, ...]:
    """``names`` if every one is in :data:`PREPROCESSORS`.

    Raises:
        ValueError: an unknown or repeated name (with a did-you-mean), or none at all.
    """
    import difflib

    if not names:
        raise ValueError(f"preprocess: expected at least one of {sorted(PREPROCESSORS)}")
    for name in names:
        if name not in PREPROCESSORS:
            close = difflib.get_close_matches(str(name), list(PREPROCESSORS), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            known = sorted(PREPROCESSORS)
            raise ValueError(f"preprocess: unknown variant {name!r}, expected some of {known}{hint}")
    if len(set(names)) != len(names):
        raise ValueError(f"preprocess: a variant is named twice in {list(names)}")
    return names

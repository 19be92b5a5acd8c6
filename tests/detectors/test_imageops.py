"""Fast shrinking of frames (detectors.imageops.shrink) against OpenCV's INTER_AREA."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from detectors.imageops import shrink


def _scene(width: int, height: int) -> np.ndarray:
    """A road-like test image: smooth gradient, textured noise, hard-edged boxes.

    No periodic stripes near the filter's size: there exact INTER_AREA and any faster scheme differ
    by the phase of their windows, not by quality.
    """
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:height, 0:width]
    image = np.dstack([(x * 255 // width), (y * 255 // height), ((x + y) * 127 // (width + height))])
    image = image.astype(np.uint8)
    for _ in range(12):
        x1, y1 = int(rng.integers(0, width - 80)), int(rng.integers(0, height - 60))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        cv2.rectangle(image, (x1, y1), (x1 + 70, y1 + 40), colour, -1)
    noise = rng.normal(0, 12, image.shape)
    return cv2.GaussianBlur(np.clip(image + noise, 0, 255).astype(np.uint8), (3, 3), 0)


@pytest.mark.parametrize(
    ("source", "size"),
    [
        ((1920, 1080), (704, 396)),  # factor 2.73: 2 x 2 box mean, then bilinear
        ((1280, 720), (704, 396)),  # factor 1.82: bilinear to 2x, then 2 x 2 box mean
        ((1920, 1080), (320, 180)),  # integer factor 6
        ((1921, 1081), (640, 360)),  # odd sides: the last row/column left out of the box mean
        ((768, 432), (640, 360)),
    ],
)
def test_shrink_matches_area_interpolation(source, size):
    """The result has the asked size and is within a few grey levels of INTER_AREA everywhere."""
    image = _scene(*source)
    expected = cv2.resize(image, size, interpolation=cv2.INTER_AREA).astype(np.int16)
    got = shrink(image, size)
    assert got.shape == (size[1], size[0], 3)
    assert got.dtype == np.uint8
    diff = np.abs(got.astype(np.int16) - expected)
    # 1921 -> 640 is where they differ most (mean ~1.1): INTER_AREA's 3.0016 px windows drift a px
    # against the 3 px box mean by the far edge; elsewhere the mean is 0.1-0.4.
    assert diff.mean() < 1.5
    assert np.percentile(diff, 99) <= 8


def test_shrink_keeps_a_small_object_where_it_was():
    """A bright square lands where INTER_AREA puts it (no shift from the integer step)."""
    image = np.zeros((1081, 1921, 3), np.uint8)
    image[900:940, 1800:1840] = 255  # near the far corner, where a crop shift would show most
    for size in ((704, 396), (640, 360), (1280, 720)):
        got = shrink(image, size)[..., 0].astype(float)
        ref = cv2.resize(image, size, interpolation=cv2.INTER_AREA)[..., 0].astype(float)
        ys, xs = np.nonzero(got > 127)
        ys_r, xs_r = np.nonzero(ref > 127)
        assert abs(xs.mean() - xs_r.mean()) < 1.0 and abs(ys.mean() - ys_r.mean()) < 1.0


def test_shrink_greyscale_and_same_size():
    """Works on one-channel images; the same size returns the image unchanged."""
    grey = _scene(1280, 720)[..., 0].copy()
    assert shrink(grey, (320, 180)).shape == (180, 320)
    assert shrink(grey, (1280, 720)) is grey


@pytest.mark.parametrize(
    ("size", "message"),
    [((0, 10), "expected positive"), ((2000, 10), "enlarges"), ((10, 721), "enlarges")],
)
def test_shrink_rejects_bad_sizes(size, message):
    """A zero or enlarging size is a clear ValueError naming the problem."""
    with pytest.raises(ValueError, match=message):
        shrink(np.zeros((720, 1280, 3), np.uint8), size)

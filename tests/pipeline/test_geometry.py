"""Homography fitting, mapping and plane helpers."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.geometry import Segment, apply_homography, fit_homography, point_in_polygon, reprojection_rms_m
from tests.factories import project


def test_fit_recovers_exact_camera():
    """A homography fitted to exact pinhole projections maps image points back to within 1 mm."""
    road = np.array([(-6, 18), (6, 18), (-6, 30), (6, 30), (-6, 60), (6, 60)], dtype=float)
    h = fit_homography(project(road), road)
    probe = np.array([(1.5, 22.0), (-3.0, 47.5), (4.0, 80.0)])
    assert np.allclose(apply_homography(h, project(probe)), probe, atol=1e-3)
    assert reprojection_rms_m(h, project(road), road) < 1e-6


@settings(max_examples=40, deadline=None)
@given(x=st.floats(-8, 8), y=st.floats(15, 90))
def test_round_trip_property(x, y):
    """image -> road -> image is the identity for any point on the visible road."""
    road = np.array([(-6, 18), (6, 18), (-6, 30), (6, 30), (-6, 60), (6, 60)], dtype=float)
    h = fit_homography(project(road), road)
    p = np.array([[x, y]])
    back = apply_homography(np.linalg.inv(h), apply_homography(h, project(p)))
    assert np.allclose(back, project(p), atol=1e-6)


@pytest.mark.parametrize(
    ("image", "road", "message"),
    [
        ([(0, 0), (1, 1), (2, 2), (3, 3)], [(0, 0), (1, 0), (0, 1), (1, 1)], "collinear"),
        ([(0, 0), (10, 0), (0, 10)], [(0, 0), (1, 0), (0, 1)], "at least 4"),
        ([(0, 0), (10, 0), (0, 10), (10, 10)], [(0, 0), (1, 0), (0, 1)], "equal shape"),
    ],
)
def test_fit_rejects_degenerate_input(image, road, message):
    """Degenerate point sets are refused with a reason."""
    with pytest.raises(ValueError, match=message):
        fit_homography(np.array(image, dtype=float), np.array(road, dtype=float))


def test_segment_side_and_projection():
    """side() is signed distance; projection() is the fraction along the segment."""
    seg = Segment((0.0, 0.0), (10.0, 0.0))
    assert np.allclose(seg.side(np.array([[5, 2], [5, -3]])), [2, -3])
    assert np.allclose(seg.projection(np.array([[5, 2], [-1, 0]])), [0.5, -0.1])


def test_point_in_polygon():
    """Even-odd rule on a square."""
    sq = np.array([(0, 0), (4, 0), (4, 4), (0, 4)], dtype=float)
    assert list(point_in_polygon(np.array([(1, 1), (5, 1), (3.9, 3.9)]), sq)) == [True, False, True]

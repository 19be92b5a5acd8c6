"""The synthetic camera: projection, ground homography and the view the scenes rely on."""

from __future__ import annotations

import numpy as np
import pytest

from scenes.camera import PinholeCamera, enforcement_camera
from scenes.geom2d import box_iou, clip_polygon_to_rect, clip_segment_to_rect, point_in_polygon, polygon_area


def test_ground_round_trip():
    """Ground points projected into the image and back land where they started (< 1 mm)."""
    cam = enforcement_camera()
    rng = np.random.default_rng(0)
    pts = np.column_stack([rng.uniform(-15, 12, 200), rng.uniform(cam.position_m[1] + 2, 150, 200)])
    back = cam.image_to_ground(cam.ground_to_image(pts))
    assert np.abs(back - pts).max() < 1e-6


def test_homography_matches_projection():
    """The ground homography gives the same pixels as the full 3D projection of Z = 0 points."""
    cam = enforcement_camera()
    pts = np.array([[-10.5, 26.0], [0.0, 35.0], [7.0, 80.0]])
    hom = np.column_stack([pts, np.ones(3)]) @ cam.ground_homography.T
    assert np.allclose(hom[:, :2] / hom[:, 2:], cam.ground_to_image(pts))


def test_view_covers_the_site():
    """Bottom row sees the road past the crosswalk, the horizon is in the picture, the stop line
    sits in the lower middle of the image with >= 10 px per metre of road."""
    cam = enforcement_camera()
    bottom = cam.image_to_ground(np.array([[640.0, 719.5]]))[0]
    assert 22.0 < bottom[1] < 29.0
    assert 0 < cam.horizon_y_px() < 100
    u, v = cam.ground_to_image(np.array([[-5.0, 35.0]]))[0]
    assert 0 < u < 1280 and 360 < v < 600
    _, v_beyond = cam.ground_to_image(np.array([[-5.0, 34.0]]))[0]
    assert v_beyond - v >= 10.0


def test_point_above_horizon_has_no_ground_position():
    """A pixel in the sky is refused with ValueError, not mapped behind the camera."""
    cam = enforcement_camera()
    with pytest.raises(ValueError, match="horizon"):
        cam.image_to_ground(np.array([[640.0, 10.0]]))


def test_points_behind_camera_are_nan():
    """Points behind the near plane get NaN pixels (callers skip them)."""
    cam = enforcement_camera()
    uv, depth = cam.project(np.array([[cam.position_m[0], -10.0, 0.0]]))
    assert depth[0] < 0 and np.isnan(uv).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"focal_px": 0.0}, "focal_px"),
        ({"pitch_deg": 0.0}, "pitch_deg"),
        ({"pitch_deg": 95.0}, "pitch_deg"),
        ({"position_m": (0.0, 0.0, -1.0)}, "height"),
        ({"width_px": 8}, "image size"),
    ],
)
def test_bad_camera_parameters(kwargs, message):
    """Impossible cameras are refused with a message naming the parameter."""
    base = {"width_px": 1280, "height_px": 720, "focal_px": 880.0, "position_m": (0.0, 0.0, 7.0), "pitch_deg": 19.0}
    base.update(kwargs)
    with pytest.raises(ValueError, match=message):
        PinholeCamera(**base)


def test_polygon_clipping_and_area():
    """Clipping a square half outside the frame keeps the inside half."""
    square = np.array([[-10.0, 0.0], [10.0, 0.0], [10.0, 10.0], [-10.0, 10.0]])
    clipped = clip_polygon_to_rect(square, 0, 0, 100, 100)
    assert polygon_area(clipped) == pytest.approx(100.0)
    assert len(clip_polygon_to_rect(square + 500, 0, 0, 100, 100)) == 0


def test_segment_clipping_and_helpers():
    """Segments are cut at the frame border; boxes and point-in-polygon behave."""
    a, b = clip_segment_to_rect(np.array([-50.0, 50.0]), np.array([150.0, 50.0]), 0, 0, 100, 100)
    assert a.tolist() == [0.0, 50.0] and b.tolist() == [100.0, 50.0]
    assert clip_segment_to_rect(np.array([-5.0, -5.0]), np.array([-1.0, -1.0]), 0, 0, 10, 10) is None
    assert box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(1 / 3)
    assert point_in_polygon((1.0, 1.0), np.array([[0, 0], [2, 0], [2, 2], [0, 2]]))

"""Where a vehicle stands on the road: its box's ground point corrected for the camera's view.

The tracker's road point is the bottom centre of the detector's box mapped through the ground
homography. Along the road that is near the bumper nearest the camera, a little behind it
(step 4 below; :mod:`pipeline.rules.body` turns the point into the body centre). Across the
road it is not the vehicle's centre line when the camera sees the vehicle obliquely: the box drawn around a 3D body seen from one side and from
above also spans its side and roof, so its bottom centre maps to a ground point pulled towards
the camera. Measured on the held-out ``far-side`` view (a 9.5 m pole 10-18 m beside the lanes):
+0.3 to +1.3 m for cars and up to +4 m for buses and trucks, growing as they come closer, enough
to put a straight-driving bus over the solid lane line beside it. Lane, line and crossing rules
need the centre line.

The correction is geometric, with no learned part:

1. :class:`CameraPose` recovers the camera's 3D pose from the calibration homography alone
   (Zhang's one-plane method, assuming square pixels, no skew and the principal point at the
   image centre, as for any lens without a crop offset): the focal length from the two
   constraints the rotation's first two columns satisfy (orthogonal, equal norm), then rotation
   and position.
2. A vehicle is a box of its class's nominal size (:class:`GroundPointSettings`), its body
   starting at bumper height above the road and its wheels, inset from the body's corners,
   touching the road; it heads along its own motion (its road points over a short window).
3. The cuboid's centre ``c`` is solved so that its projected box has the observed bottom centre
   (a fixed-point iteration from the uncorrected point; the offset changes slowly with position).
4. The point becomes the model's bumper nearest the camera: on the centre line across the road,
   and along it where that bumper touches the road plane. The along-road component keeps its
   meaning (the nearest bumper, the front of an approaching vehicle) for speed, stop line and
   red light, but no longer lies behind the bumper: the box's lowest point is the bumper's lower
   edge, whose ray meets the road further on, or a front tyre set back from it (renderer
   silhouettes: 0.5-0.6 m behind on average, p95 1.1-1.5 m; 0.4 m p95 with the model).
   ``along_road=False`` keeps the box's along-road component and corrects across only.

Where the pose cannot be recovered (a degenerate calibration) or a vehicle's heading is unknown
(it has not moved), points are left as they are.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace

import numpy as np

from pipeline.geometry import apply_homography
from pipeline.types import Track

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GroundPointSettings:
    """Nominal vehicle sizes and the heading window.

    Attributes:
        width_m, height_m: per class, m; a class not listed uses the ``car`` entry.
        clearance_m: height of the body's lowest edge (bumpers, sills) above the road, m.
        track_share, wheelbase_share: where the wheels touch the road, as shares of the body's
            width and length (the lowest image point of a vehicle is a tyre, not a body corner).
        heading_window_s: road points within +- half of this give a point's heading.
        min_heading_move_m: the window must span at least this much road for a heading; else
            the track's whole displacement is used, and if that is shorter too, no correction.
        along_lane_deg, across_lane_deg: the angle between a vehicle's heading and the nearest
            lane axis where the correction starts to fade, and where it is gone. While a vehicle
            turns across the road its heading lags its body and "across the road" turns with it,
            so a full correction would push the point along the vehicle's path; a vehicle that is
            not driving along a lane keeps its uncorrected points (the lane and line rules judge
            vehicles driving along lanes; a lane change, 5-10 degrees, keeps the correction).
        straight_turn_deg, max_turn_deg: the same fading on the heading's change between the
            window's two halves, used only for a camera with no lanes.
        along_road: also place the point along the road on the modelled bumper nearest the
            camera (else only the across-road component changes).
        iterations: fixed-point steps (the offset moves by < 1 cm after three on the suites).
        max_shift_m: a correction larger than this (a bad pose or box) is not applied.
        source: where the sizes come from.
    """

    width_m: dict[str, float] = field(default_factory=lambda: {"car": 1.8, "bus": 2.55, "truck": 2.5, "motorcycle": 0.8})
    height_m: dict[str, float] = field(default_factory=lambda: {"car": 1.5, "bus": 3.1, "truck": 3.0, "motorcycle": 1.5})
    clearance_m: float = 0.3
    track_share: float = 0.9
    wheelbase_share: float = 0.7
    heading_window_s: float = 1.0
    min_heading_move_m: float = 1.5
    straight_turn_deg: float = 4.0
    max_turn_deg: float = 12.0
    along_lane_deg: float = 12.0
    across_lane_deg: float = 25.0
    along_road: bool = True
    iterations: int = 4
    max_shift_m: float = 3.5
    source: str = (
        "nominal sizes: widths after the 2.55 m limit on buses and trucks (UNECE / EAEU TR 018/2011 "
        "vehicle dimensions) and a mid-size car; heights of a city bus, a box truck, a sedan and a "
        "motorcycle with rider; lengths are RulesConfig.vehicle_length_m; clearance, track and "
        "wheelbase shares typical of passenger cars (wheelbase 2.7 m of 4.5 m, track 1.55 m of "
        "1.8 m), checked against the scene renderer's exact silhouettes (tests/pipeline/"
        "test_ground_point.py)"
    )


@dataclass(frozen=True)
class CameraPose:
    """A pinhole camera recovered from the road-to-image homography.

    Attributes:
        k: (3, 3) intrinsics.
        r: (3, 3) rotation road -> camera.
        t: (3,) translation (camera = r @ road + t).
        up: +1 when the road frame's Z axis points up from the road towards the camera, -1 when
            the calibration's X, Y axes make it point down (a mirrored frame); heights go along
            ``up * Z``.
    """

    k: np.ndarray
    r: np.ndarray
    t: np.ndarray
    up: float

    @property
    def focal_px(self) -> float:
        return float(self.k[0, 0])

    @property
    def centre(self) -> np.ndarray:
        """(3,) camera centre, road metres (Z along ``up``)."""
        return -self.r.T @ self.t

    @property
    def height_m(self) -> float:
        return float(self.up * self.centre[2])

    @classmethod
    def from_homography(cls, image_to_road: np.ndarray, image_size: tuple[int, int]) -> "CameraPose | None":
        """The pose whose ground homography is ``image_to_road`` (3x3, image px -> road m).

        Returns:
            The pose, or None when the homography admits none (focal length not positive or not
            finite: a calibration that is not a plane seen through a centred pinhole).
        """
        h = np.linalg.inv(np.asarray(image_to_road, dtype=np.float64))  # road -> image
        cx, cy = image_size[0] / 2.0, image_size[1] / 2.0
        h = np.array([[1.0, 0.0, -cx], [0.0, 1.0, -cy], [0.0, 0.0, 1.0]]) @ h
        h = h / np.linalg.norm(h[:, :2])
        (a1, a2, _), (b1, b2, _), (c1, c2, _) = h
        # r1 . r2 = 0 and |r1| = |r2| with r_i ~ diag(1/f, 1/f, 1) h_i, in w = 1/f^2:
        rows = np.array([[a1 * a2 + b1 * b2, c1 * c2], [a1 * a1 + b1 * b1 - a2 * a2 - b2 * b2, c1 * c1 - c2 * c2]])
        denom = float(rows[:, 0] @ rows[:, 0])
        if denom <= 1e-18:
            return None
        w = -float(rows[:, 0] @ rows[:, 1]) / denom
        if not (w > 0 and math.isfinite(w)):
            return None
        f = 1.0 / math.sqrt(w)
        k_inv = np.diag([1.0 / f, 1.0 / f, 1.0])
        m = k_inv @ h
        lam = 2.0 / (np.linalg.norm(m[:, 0]) + np.linalg.norm(m[:, 1]))
        if m[2, 2] < 0:  # road points must lie in front of the camera (positive depth)
            lam = -lam
        r1, r2, t = lam * m[:, 0], lam * m[:, 1], lam * m[:, 2]
        u, _, vt = np.linalg.svd(np.column_stack([r1, r2, np.cross(r1, r2)]))
        r = u @ vt
        if np.linalg.det(r) < 0:
            return None
        k = np.array([[f, 0.0, cx], [0.0, f, cy], [0.0, 0.0, 1.0]])
        up = 1.0 if (-r.T @ t)[2] > 0 else -1.0  # the camera centre's side of the road plane
        return cls(k, r, t, up)

    def project(self, points_m: np.ndarray) -> np.ndarray:
        """(..., 3) road points (Z along ``up``) -> (..., 2) px."""
        p = np.asarray(points_m, dtype=np.float64)
        p = p * np.array([1.0, 1.0, self.up])
        cam = p @ self.r.T + self.t
        img = cam @ self.k.T
        return img[..., :2] / img[..., 2:3]


def box_bottom_centres(
    pose: CameraPose,
    centres: np.ndarray,
    headings: np.ndarray,
    size: tuple[float, float, float],
    settings: GroundPointSettings | None = None,
) -> np.ndarray:
    """(N, 2) px: bottom centre of the box around each vehicle model's projection.

    The model: the body's 8 corners between ``clearance_m`` and the roof, and the 4 tyre contact
    points on the road (``track_share`` x ``wheelbase_share`` of the body).

    Args:
        centres: (N, 2) footprint centres, road m.
        headings: (N, 2) unit vectors along each vehicle's length.
        size: (length, width, height), m.
    """
    s = settings or GroundPointSettings()
    length, width, height = size
    d = np.asarray(headings, dtype=np.float64)
    n = np.column_stack([-d[:, 1], d[:, 0]])
    corners = []
    for sl in (-0.5, 0.5):
        for sw in (-0.5, 0.5):
            xy = centres + sl * length * d + sw * width * n
            for z in (min(s.clearance_m, height / 2), height):
                corners.append(np.column_stack([xy, np.full(len(xy), z)]))
            tyre = centres + sl * s.wheelbase_share * length * d + sw * s.track_share * width * n
            corners.append(np.column_stack([tyre, np.zeros(len(xy))]))
    px = pose.project(np.stack(corners, axis=1))  # (N, 12, 2)
    return np.column_stack([(px[:, :, 0].min(axis=1) + px[:, :, 0].max(axis=1)) / 2, px[:, :, 1].max(axis=1)])


def corrected_points(
    pose: CameraPose,
    image_to_road: np.ndarray,
    ground_m: np.ndarray,
    headings: np.ndarray,
    size: tuple[float, float, float],
    settings: GroundPointSettings | None = None,
) -> np.ndarray:
    """(N, 2) road m: each ground point moved onto the vehicle's centre line across the road
    and, with ``settings.along_road``, onto its bumper nearest the camera along it.

    ``ground_m`` are the uncorrected points (bottom centres through the homography). Solves for
    the cuboid centre ``c`` whose projected box has that bottom centre, then returns the point
    half a length from ``c`` towards the camera along the heading (or, without ``along_road``,
    the along-road component of ``ground_m`` with the across-road one of ``c``).
    """
    settings = settings or GroundPointSettings()
    p0 = np.asarray(ground_m, dtype=np.float64).reshape(-1, 2)
    d = np.asarray(headings, dtype=np.float64).reshape(-1, 2)
    c = p0.copy()
    for _ in range(settings.iterations):
        g = apply_homography(image_to_road, box_bottom_centres(pose, c, d, size, settings))
        c = c + (p0 - g)
    if settings.along_road:
        # the modelled bumper nearest the camera: the end whose front the box's bottom shows
        towards = np.einsum("ij,ij->i", pose.centre[:2] - c, d)
        return c + np.where(towards >= 0, 0.5, -0.5)[:, None] * size[0] * d
    n = np.column_stack([-d[:, 1], d[:, 0]])
    shift = np.einsum("ij,ij->i", c - p0, n)
    return p0 + shift[:, None] * n


def _window_ends(t: np.ndarray, before_s: float, after_s: float) -> tuple[np.ndarray, np.ndarray]:
    """For each time of the sorted ``t``: index of the first time >= t - before_s and of the last
    time <= t + after_s (O(n log n), so a vehicle parked for an hour costs no more than it should)."""
    return np.searchsorted(t, t - before_s, side="left"), np.searchsorted(t, t + after_s, side="right") - 1


def _unit_steps(road: np.ndarray, first: np.ndarray, last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    step = road[last] - road[first]
    length = np.hypot(step[:, 0], step[:, 1])
    with np.errstate(invalid="ignore", divide="ignore"):
        return step / length[:, None], length


def headings_of(t_s: np.ndarray, road_m: np.ndarray, settings: GroundPointSettings) -> np.ndarray:
    """(N, 2) unit headings from the road points' motion; NaN rows where unknown.

    ``t_s`` ascends (a track's points are in time order).
    """
    out = np.full((len(t_s), 2), np.nan)
    idx = np.flatnonzero(np.all(np.isfinite(road_m), axis=1))
    if len(idx) < 2:
        return out
    t, road = np.asarray(t_s, dtype=np.float64)[idx], np.asarray(road_m, dtype=np.float64)[idx]
    whole, whole_len = _unit_steps(road, np.array([0]), np.array([len(idx) - 1]))
    half = settings.heading_window_s / 2
    unit, length = _unit_steps(road, *_window_ends(t, half, half))
    good = length >= settings.min_heading_move_m
    heading = np.where(good[:, None], unit, whole[0] if whole_len[0] >= settings.min_heading_move_m else np.nan)
    out[idx] = heading
    return out


def turn_weights(t_s: np.ndarray, road_m: np.ndarray, settings: GroundPointSettings) -> np.ndarray:
    """(N,) 1 where the vehicle drives straight, fading to 0 where it turns (see the settings).

    The turn at a point is the angle between its motion over the half window before it and the
    half window after it; a half window that spans too little road counts as straight.
    """
    out = np.ones(len(t_s))
    idx = np.flatnonzero(np.all(np.isfinite(road_m), axis=1))
    if len(idx) < 2:
        return out
    t, road = np.asarray(t_s, dtype=np.float64)[idx], np.asarray(road_m, dtype=np.float64)[idx]
    half = settings.heading_window_s / 2
    first, _ = _window_ends(t, half, 0.0)
    _, last = _window_ends(t, 0.0, half)
    here = np.arange(len(idx))
    a, la = _unit_steps(road, first, here)
    b, lb = _unit_steps(road, here, last)
    cos = np.clip(np.einsum("ij,ij->i", a, b), -1.0, 1.0)
    turn = np.degrees(np.arccos(cos))
    lo, hi = settings.straight_turn_deg, settings.max_turn_deg
    w = np.clip((hi - turn) / (hi - lo), 0.0, 1.0)
    moving = np.minimum(la, lb) >= settings.min_heading_move_m / 2
    out[idx] = np.where(moving, w, 1.0)
    return out


def lane_axes(lanes_m: list[np.ndarray]) -> np.ndarray:
    """(K, 2) unit long axes of lane polygons (road m), by the principal direction of each."""
    axes = []
    for poly in lanes_m:
        pts = np.asarray(poly, dtype=np.float64).reshape(-1, 2)
        pts = pts[np.all(np.isfinite(pts), axis=1)]
        if len(pts) < 3:
            continue
        _, _, vt = np.linalg.svd(pts - pts.mean(axis=0), full_matrices=False)
        axes.append(vt[0] / np.linalg.norm(vt[0]))
    return np.array(axes).reshape(-1, 2)


def lane_weights(headings: np.ndarray, axes: np.ndarray, settings: GroundPointSettings) -> np.ndarray:
    """(N,) 1 for a heading along a lane axis, fading to 0 across it (see the settings); 0 where
    the heading is unknown."""
    h = np.asarray(headings, dtype=np.float64).reshape(-1, 2)
    cos = np.abs(h @ np.asarray(axes, dtype=np.float64).T).max(axis=1)
    off = np.degrees(np.arccos(np.clip(cos, 0.0, 1.0)))
    lo, hi = settings.along_lane_deg, settings.across_lane_deg
    w = np.clip((hi - off) / (hi - lo), 0.0, 1.0)
    return np.where(np.isfinite(w), w, 0.0)


def _smooth(t_s: np.ndarray, values: np.ndarray, half_s: float) -> np.ndarray:
    """Moving mean of (N, 2) ``values`` over +- ``half_s`` seconds (sorted ``t_s``)."""
    first, last = _window_ends(np.asarray(t_s, dtype=np.float64), half_s, half_s)
    csum = np.vstack([np.zeros((1, values.shape[1])), np.cumsum(values, axis=0)])
    return (csum[last + 1] - csum[first]) / (last + 1 - first)[:, None]


def correct_tracks(
    tracks: list[Track],
    image_to_road: np.ndarray,
    image_size: tuple[int, int],
    lengths: dict[str, float],
    settings: GroundPointSettings | None = None,
    camera_id: str = "",
    axes: np.ndarray | None = None,
) -> list[Track]:
    """Each track with its points on the vehicle's centre line across the road and (with
    ``along_road``) on its nearest bumper along it: every point with a known heading and a
    correction of at most ``max_shift_m``.

    Args:
        tracks: vehicle tracks (persons stay as they are: they are not given here).
        image_to_road: the calibration homography (image px -> road m).
        image_size: (w, h) px of the frames (the principal point is its centre).
        lengths: nominal length per class, m (RulesConfig.vehicle_length_m).
        axes: (K, 2) unit lane axes (:func:`lane_axes`); the correction fades where a vehicle
            does not drive along one. None or empty: it fades where the heading turns instead.

    Returns:
        New tracks; the input is untouched. All of them unchanged when no pose exists.
    """
    settings = settings or GroundPointSettings()
    pose = CameraPose.from_homography(image_to_road, image_size)
    if pose is None:
        log.warning("ground point: no camera pose fits the calibration camera_id=%s; across-road positions uncorrected", camera_id)
        return list(tracks)
    out = []
    shifts: list[float] = []
    for track in tracks:
        cls = track.class_name
        size = (
            lengths.get(cls, lengths.get("car", 4.5)),
            settings.width_m.get(cls, settings.width_m["car"]),
            settings.height_m.get(cls, settings.height_m["car"]),
        )
        road = track.road_m
        heading = headings_of(track.t_s, road, settings)  # NaN where the road point or the heading is unknown
        ok = np.all(np.isfinite(heading), axis=1)
        shift = np.zeros_like(road)
        shift[ok] = corrected_points(pose, image_to_road, road[ok], heading[ok], size, settings) - road[ok]
        good = ok & np.all(np.isfinite(shift), axis=1) & (np.hypot(*shift.T) <= settings.max_shift_m)
        if not good.any():
            out.append(track)
            continue
        # fade out where the vehicle does not drive along a lane, then smooth: the correction
        # itself must add no jitter
        t = track.t_s
        weight = lane_weights(heading, axes, settings) if axes is not None and len(axes) else turn_weights(t, road, settings)
        shift[good] *= weight[good, None]
        shift[good] = _smooth(t[good], shift[good], settings.heading_window_s / 2)
        fixed = road + shift
        points = tuple(
            replace(p, road_m=(float(fixed[i, 0]), float(fixed[i, 1]))) if good[i] else p
            for i, p in enumerate(track.points)
        )
        shifts += np.hypot(*shift[good].T).tolist()
        out.append(replace(track, points=points))
    if shifts:
        log.info(
            "ground point camera_id=%s focal_px=%.0f camera_height_m=%.2f tracks=%d points=%d mean_shift_m=%.2f max_shift_m=%.2f",
            camera_id, pose.focal_px, pose.height_m, len(tracks), len(shifts), float(np.mean(shifts)), float(np.max(shifts)),
        )
    return out


__all__ = [
    "CameraPose", "GroundPointSettings", "box_bottom_centres", "corrected_points", "correct_tracks", "headings_of",
    "lane_axes", "lane_weights", "turn_weights",
]

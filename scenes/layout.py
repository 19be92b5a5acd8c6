"""The synthetic site in road metres: lanes, painted lines, zones and street furniture.

One layout serves the renderer (what is painted), the kinematics (lane centres, stop line),
the truth rules (which line is solid where) and ``camera.yaml`` (projected into the image).
Right-hand traffic: the three approach lanes (towards the camera) lie left of the double centre
line (X < 0), the two departure lanes right of it.
"""

from __future__ import annotations

from dataclasses import dataclass

Point = tuple[float, float]


@dataclass(frozen=True)
class LaneDef:
    """A lane strip ``x_min_m`` < X < ``x_max_m`` (road metres) with its lawful direction."""

    id: str
    x_min_m: float
    x_max_m: float
    direction: str  # "toward" | "away"
    kind: str = "general"

    @property
    def centre_x_m(self) -> float:
        """Lane centre X, m."""
        return 0.5 * (self.x_min_m + self.x_max_m)


@dataclass(frozen=True)
class LineDef:
    """A painted line as a polyline of road points (X, Y) m; ``kind`` stop_line|solid|dashed.

    ``double`` marks a double line (drawn as two strokes 0.2 m apart around the polyline).
    """

    id: str
    kind: str
    points_m: tuple[Point, ...]
    double: bool = False
    publish: bool = True  # written to camera.yaml (tiny near-camera stubs are not)


@dataclass(frozen=True)
class ZoneDef:
    """A ground polygon (road metres); ``kind`` no_stopping|crosswalk|intersection."""

    id: str
    kind: str
    polygon_m: tuple[Point, ...]


@dataclass(frozen=True)
class RoadLayout:
    """Everything painted or standing at the site, in road metres (see module docstring)."""

    lanes: tuple[LaneDef, ...]
    lines: tuple[LineDef, ...]
    zones: tuple[ZoneDef, ...]
    stop_line_y_m: float
    stop_line_width_m: float
    crosswalk_y_m: tuple[float, float]
    intersection_y_m: tuple[float, float]
    kerb_left_x_m: float
    kerb_right_x_m: float
    sidewalk_width_m: float
    far_y_m: float
    signal_head_m: tuple[float, float, float, float, float]  # overhead head X, face Y; repeater bottom Z; head w, h
    # (the repeater facing the camera stands on its own pole on the left sidewalk)
    signal_pole_m: Point
    signal_repeater_pole_m: Point
    no_stopping_sign_m: Point

    def lane(self, lane_id: str) -> LaneDef:
        """The lane with ``lane_id``.

        Raises:
            ValueError: listing the lane ids when there is no such lane.
        """
        for lane in self.lanes:
            if lane.id == lane_id:
                return lane
        raise ValueError(f"unknown lane {lane_id!r}; lanes are {[ln.id for ln in self.lanes]}")

    def lane_at(self, x_m: float) -> LaneDef | None:
        """The lane containing road X ``x_m`` (m), or None off the carriageway."""
        for lane in self.lanes:
            if lane.x_min_m <= x_m < lane.x_max_m:
                return lane
        return None

    def zone(self, zone_id: str) -> ZoneDef:
        """The zone with ``zone_id``; ValueError when there is none."""
        for zone in self.zones:
            if zone.id == zone_id:
                return zone
        raise ValueError(f"unknown zone {zone_id!r}; zones are {[z.id for z in self.zones]}")


def default_layout(bus_lane: str | None = None) -> RoadLayout:
    """The Chui-Avenue-like approach every scenario uses.

    ``bus_lane`` names a lane reserved for buses (kind ``bus``) in scenarios that need one.

    Cross-section (X, m): sidewalk [-15, -10.5], approach lanes L1 (kerb) [-10.5, -7],
    L2 [-7, -3.5], L3 [-3.5, 0], double centre line at 0, departure lanes L4 [0, 3.5],
    L5 [3.5, 7], sidewalk [7, 11.5]. Along the road (Y, m): intersection 10-28, zebra 29-33,
    stop line 35 (0.4 m wide band centred there), lane lines solid 35-55 then dashed, a kerb-side
    no-stopping zone in L1 at 55-80, everything drawn out to Y = 150.
    """
    far = 150.0
    stop_y = 35.0
    lanes = (
        LaneDef("L1", -10.5, -7.0, "toward"),
        LaneDef("L2", -7.0, -3.5, "toward"),
        LaneDef("L3", -3.5, 0.0, "toward"),
        LaneDef("L4", 0.0, 3.5, "away"),
        LaneDef("L5", 3.5, 7.0, "away"),
    )
    if bus_lane is not None:
        if bus_lane not in {ln.id for ln in lanes}:
            raise ValueError(f"bus_lane: unknown lane {bus_lane!r}; lanes are {[ln.id for ln in lanes]}")
        lanes = tuple(LaneDef(ln.id, ln.x_min_m, ln.x_max_m, ln.direction, "bus" if ln.id == bus_lane else ln.kind) for ln in lanes)
    solid_end = 55.0
    lines = (
        LineDef("stop-1", "stop_line", ((-10.5, stop_y), (0.0, stop_y))),
        LineDef("centre-far", "solid", ((0.0, 33.5), (0.0, far)), double=True),
        LineDef("centre-near", "solid", ((0.0, 1.0), (0.0, 10.0)), double=True, publish=False),
        LineDef("l12-solid", "solid", ((-7.0, stop_y + 0.2), (-7.0, solid_end))),
        LineDef("l12-dashed", "dashed", ((-7.0, solid_end), (-7.0, far))),
        LineDef("l23-solid", "solid", ((-3.5, stop_y + 0.2), (-3.5, solid_end))),
        LineDef("l23-dashed", "dashed", ((-3.5, solid_end), (-3.5, far))),
        LineDef("l45-dashed", "dashed", ((3.5, 33.5), (3.5, far))),
        LineDef("l12-near", "dashed", ((-7.0, 1.0), (-7.0, 10.0)), publish=False),
        LineDef("l23-near", "dashed", ((-3.5, 1.0), (-3.5, 10.0)), publish=False),
        LineDef("l45-near", "dashed", ((3.5, 1.0), (3.5, 10.0)), publish=False),
    )
    zones = (
        ZoneDef("ns-1", "no_stopping", ((-10.5, 55.0), (-7.0, 55.0), (-7.0, 80.0), (-10.5, 80.0))),
        ZoneDef("cw-1", "crosswalk", ((-10.5, 29.0), (7.0, 29.0), (7.0, 33.0), (-10.5, 33.0))),
        ZoneDef("ix-1", "intersection", ((-10.5, 10.0), (7.0, 10.0), (7.0, 28.0), (-10.5, 28.0))),
    )
    return RoadLayout(
        lanes=lanes,
        lines=lines,
        zones=zones,
        stop_line_y_m=stop_y,
        stop_line_width_m=0.4,
        crosswalk_y_m=(29.0, 33.0),
        intersection_y_m=(10.0, 28.0),
        kerb_left_x_m=-10.5,
        kerb_right_x_m=7.0,
        sidewalk_width_m=4.5,
        far_y_m=far,
        signal_head_m=(-5.25, 35.3, 2.6, 0.5, 1.3),
        signal_pole_m=(-11.4, 35.6),
        signal_repeater_pole_m=(-11.6, 36.6),
        no_stopping_sign_m=(-11.2, 55.5),
    )

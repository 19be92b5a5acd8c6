"""Camera configuration (``camera.yaml``): validated data, errors pointing at YAML lines.

Image coordinates are pixels of the frame the config was drawn for (``image_size_px``);
road coordinates are metres on the ground plane: X across the road (positive to the right
of the image), Y along the road, distance from the camera pole, increasing away from it.
Every statute-derived threshold carries its source next to it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from safecity.errors import ConfigError

Point = tuple[float, float]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Location(_Strict):
    lat: float = Field(ge=-90, le=90, description="WGS-84 latitude, degrees")
    lon: float = Field(ge=-180, le=180, description="WGS-84 longitude, degrees")
    description: str = ""


class CalibrationPoint(_Strict):
    image_px: Point
    road_m: Point


class Calibration(_Strict):
    version: str = Field(min_length=1, description="changes whenever the points change")
    max_reprojection_error_m: float = Field(
        default=0.3, gt=0, le=5, description="refuse the calibration above this RMS error, metres"
    )
    points: list[CalibrationPoint] = Field(min_length=4)


class Lane(_Strict):
    id: str = Field(min_length=1)
    kind: Literal["general", "bus"] = "general"
    direction: Literal["toward", "away"] = Field(
        description="lawful direction of travel relative to the camera"
    )
    polygon_px: list[Point] = Field(min_length=3)


class Line(_Strict):
    id: str = Field(min_length=1)
    kind: Literal["stop_line", "solid", "dashed"]
    points_px: list[Point] = Field(min_length=2, description="polyline, image px")


class Zone(_Strict):
    id: str = Field(min_length=1)
    kind: Literal["no_stopping", "crosswalk", "intersection", "turn_area"] = Field(
        description="turn_area: an entry or exit area of a manoeuvre (rules.forbidden_turn)"
    )
    polygon_px: list[Point] = Field(min_length=3)


SignalState = Literal["green", "amber", "red", "red_amber", "off"]


class Phase(_Strict):
    state: SignalState
    duration_s: float = Field(gt=0)


class PhasePlan(_Strict):
    offset_s: float = Field(default=0.0, ge=0, description="seconds into the cycle at frame 0")
    phases: list[Phase] = Field(min_length=1)


class SignalFeedConfig(_Strict):
    """A controller feed (log file, UDP or HTTP); see docs/signals.md for the line format."""

    path: str | None = Field(default=None, description="log file to read (log_file) or where receivers record messages")
    listen: str | None = Field(default=None, description="host:port the UDP/HTTP receiver binds, e.g. 127.0.0.1:9400")
    poll_url: str | None = Field(default=None, description="controller_http: poll this URL for events instead of listening")
    poll_every_s: float = Field(default=1.0, gt=0, le=60, description="controller_http poll interval, s")
    max_silence_s: float = Field(
        default=5.0, gt=0, le=600,
        description="the feed is trusted up to this long after its last message (change or status), s; beyond: unknown",
    )
    max_clock_skew_s: float = Field(default=2.0, gt=0, le=60, description="reject messages whose controller time is this far from the receive time, s")
    clock_offset_s: float = Field(default=0.0, ge=-3600, le=3600, description="controller clock minus camera clock, s (measured at installation)")
    max_events: int = Field(default=100_000, ge=2, le=10_000_000, description="phase history kept in memory, messages")


class VisionSignalConfig(_Strict):
    """The vision fallback: the signal head's lamps (``head_px``) classified by colour."""

    enabled: bool = Field(default=False, description="classify the head on sampled frames and compare with the feed")
    sample_every_s: float = Field(default=0.2, gt=0, le=5, description="classify one frame per this many s")
    min_lit_fraction: float = Field(default=0.3, gt=0, lt=1, description="a lamp is lit when this share of its pixels is bright and saturated")
    debounce_samples: int = Field(default=2, ge=1, le=20, description="a state counts after this many equal samples in a row")
    disagreement_min_s: float = Field(default=1.0, gt=0, description="report feed/vision disagreements lasting at least this long, s")
    boundary_tolerance_s: float = Field(default=0.5, ge=0, le=5, description="ignore disagreements this close to a feed phase change, s")
    allow_fines: bool = Field(default=False, description="rule hits on a vision-only phase may be fined (default: review only)")
    allow_fines_reason: str = Field(default="", description="required when allow_fines: why this camera's vision is trusted")

    @model_validator(mode="after")
    def _reason(self) -> "VisionSignalConfig":
        if self.allow_fines and not self.allow_fines_reason.strip():
            raise ValueError("allow_fines: true needs allow_fines_reason (why vision alone may fine at this camera)")
        return self


class SignalConfig(_Strict):
    source: str = Field(
        description="where phases come from: plan (controller phase plan), log_file, controller_udp, controller_http, vision"
    )
    stop_line: str = Field(description="id of the stop line this signal controls")
    head_px: tuple[float, float, float, float] | None = Field(
        default=None, description="signal head box x, y, w, h in px (vision fallback ROI)"
    )
    plan: PhasePlan | None = None
    feed: SignalFeedConfig | None = None
    vision: VisionSignalConfig = VisionSignalConfig()

    @model_validator(mode="after")
    def _source(self) -> "SignalConfig":
        from pipeline.signal_sources import SOURCES  # a plain table: imports no backend
        from safecity.plugins import LazyRegistry

        if self.source not in SOURCES:
            LazyRegistry("signal source", SOURCES).resolve(self.source)  # raises with "did you mean"
        if self.source == "plan" and self.plan is None:
            raise ValueError("source 'plan' needs signal.plan")
        if self.source == "log_file" and (self.feed is None or not self.feed.path):
            raise ValueError("source 'log_file' needs signal.feed.path")
        if self.source in ("controller_udp", "controller_http") and (self.feed is None or not (self.feed.listen or self.feed.poll_url)):
            raise ValueError(f"source {self.source!r} needs signal.feed.listen (or feed.poll_url for HTTP)")
        if self.source == "controller_udp" and self.feed is not None and self.feed.poll_url:
            raise ValueError("feed.poll_url is for controller_http only")
        if (self.source == "vision" or self.vision.enabled) and self.head_px is None:
            raise ValueError("the vision source needs signal.head_px (the signal head box)")
        return self


class SpeedingRuleConfig(_Strict):
    enabled: bool = True
    tolerance_kmh: float = Field(default=10.0, ge=0, le=30)
    tolerance_source: str = (
        "KR Code of Offenses (2023 edition): liability for exceeding the limit starts above "
        "+10 km/h (article number to confirm, see DOMAIN.md)"
    )
    fit_window_s: float = Field(default=1.2, gt=0.2, le=5, description="robust speed fit window, s")
    min_track_m: float = Field(default=6.0, gt=0, description="track must span this many metres")
    min_fit_s: float = Field(
        default=0.5, gt=0.1, le=5,
        description="a track seen in the measurement zone for less than one fit window (a fast vehicle) is fitted "
        "over its whole span when that lasts at least this long, s",
    )
    max_m_per_px: float = Field(
        default=0.25, gt=0, le=2,
        description="speed uses only observations where one pixel spans at most this much road, m "
        "(the measurement zone: far boxes quantise position too coarsely)",
    )
    peak_margin_kmh: float = Field(
        default=2.0, ge=0, le=10,
        description="the decision rests on one robust fit over the whole measurement zone; a single fit window "
        "alone (a vehicle that speeds over part of the zone only) must exceed limit + tolerance by this much, km/h",
    )
    peak_margin_source: str = (
        "measurement uncertainty, not statute: one 1.2 s window's speed scatters by up to ~2 km/h (issue #5 "
        "target |error| p95 <= 2 km/h; commercial complexes state 1-2 km/h, DOMAIN.md); the fastest of several "
        "overlapping windows is biased upward by that scatter"
    )


class RedLightRuleConfig(_Strict):
    enabled: bool = True
    red_grace_s: float = Field(default=0.0, ge=0, le=1.0, description="crossing within this many s after red onset counts as amber")
    red_grace_source: str = "Traffic Rules of the KR, sec. 6: amber forbids entry except when stopping is unsafe; no grace set by law (0 s)"
    proceed_m: float = Field(default=4.0, gt=0, description="front must go this far past the stop line to count as running the light, m")


class StopLineRuleConfig(_Strict):
    enabled: bool = True
    overshoot_m: float = Field(default=0.5, ge=0, description="front beyond the stop line by at least this, m")
    overshoot_source: str = "Traffic Rules of the KR, sec. 6.13: stop before the stop line at a prohibiting signal; 0.5 m measurement margin"
    stopped_speed_kmh: float = Field(default=3.0, gt=0, description="below this the vehicle counts as stopped")
    min_stop_s: float = Field(default=1.0, gt=0, description="stopped at least this long")


class SolidLineRuleConfig(_Strict):
    enabled: bool = True
    margin_m: float = Field(default=0.5, gt=0, le=2, description="body centre this far on the first side before crossing, m")
    beyond_m: float = Field(
        default=0.2, gt=0, le=2,
        description="and at least this far on the other side after it, m (smaller: the track may leave the view mid-manoeuvre)",
    )
    min_points_each_side: int = Field(default=5, ge=2, description="observations needed on each side")
    source: str = "Traffic Rules of the KR, annex 2 (road markings 1.1/1.3): a solid line must not be crossed"


class WrongWayRuleConfig(_Strict):
    enabled: bool = True
    min_speed_kmh: float = Field(default=6.0, gt=0, description="movement against the lane faster than this counts")
    min_duration_s: float = Field(default=1.0, gt=0, description="for at least this long")
    window_s: float = Field(default=0.8, gt=0.2, description="velocity fit window, s")
    min_distance_m: float = Field(default=3.0, gt=0, description="and cover at least this much road against the lane, m")
    max_m_per_px: float = Field(default=0.25, gt=0, le=2, description="only observations where a pixel spans at most this much road, m")
    source: str = "Traffic Rules of the KR, sec. 9: drive in the lawful direction of the lane; sign 5.5 one-way road"


class NoStoppingRuleConfig(_Strict):
    enabled: bool = True
    min_dwell_s: float = Field(default=5.0, gt=0, description="stopped in the zone at least this long, s")
    min_dwell_source: str = (
        "Traffic Rules of the KR, sec. 1.2 ('stopping' is any intentional halt) and sign 3.27 'No stopping'; "
        "5 s is the measurement margin that separates a stop from slow traffic"
    )
    stopped_speed_kmh: float = Field(default=5.0, gt=0, description="below this the vehicle counts as stopped")
    speed_half_window_s: float = Field(default=1.0, gt=0.1, description="speed smoothing half window, s")


class TimeWindow(_Strict):
    """A daily window of local time, ``start`` inclusive, ``end`` exclusive (HH:MM, 24 h)."""

    start: str = Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    end: str = Field(pattern=r"^([01][0-9]|2[0-4]):[0-5][0-9]$")
    weekdays: list[int] = Field(default=[0, 1, 2, 3, 4, 5, 6], description="0 = Monday ... 6 = Sunday")

    @field_validator("weekdays")
    @classmethod
    def _days(cls, value: list[int]) -> list[int]:
        if not value or any(d < 0 or d > 6 for d in value):
            raise ValueError(f"weekdays must be a non-empty list of 0..6 (Monday = 0), got {value}")
        return value

    @model_validator(mode="after")
    def _order(self) -> "TimeWindow":
        if self.minutes()[0] >= self.minutes()[1]:
            raise ValueError(f"start {self.start} must be before end {self.end}")
        return self

    def minutes(self) -> tuple[int, int]:
        """(start, end) minutes after local midnight."""
        (h0, m0), (h1, m1) = (map(int, x.split(":")) for x in (self.start, self.end))
        return h0 * 60 + m0, h1 * 60 + m1


class BusLaneRuleConfig(_Strict):
    enabled: bool = True
    windows: list[TimeWindow] = Field(
        default=[TimeWindow(start="00:00", end="24:00")],
        description="local times when the lanes of kind 'bus' are reserved (the sign's plate); default all day",
    )
    utc_offset_hours: float = Field(default=6.0, ge=-12, le=14, description="local time = UTC + this (Bishkek: +6)")
    allowed_classes: list[str] = Field(default=["bus"], description="classes allowed in a bus lane")
    min_distance_m: float = Field(
        default=20.0, gt=0, description="the body centre must travel this far inside the bus lane, m "
        "(a short entry to turn right or reach the kerb is allowed)",
    )
    min_points: int = Field(default=10, ge=3, description="observations needed inside the bus lane")
    exemption_min_share: float = Field(
        default=0.8, gt=0.5, le=1,
        description="the exemption needs this share of the track's detections to name an allowed class: the "
        "exemption is a legal decision taken on the detector's label, so a track it labels bus in some frames "
        "and truck in others is not exempt by a bare majority (docs/camera-config.md)",
    )
    exemption_min_confidence: float = Field(
        default=0.5, ge=0, le=1,
        description="and the mean detector confidence of those detections must reach this (the detector is more "
        "sure than not); weak labels, as at night, do not exempt",
    )
    review_min_share: float = Field(
        default=0.2, ge=0, le=1,
        description="a passage that is not exempt while at least this share of the track's detections name an "
        "allowed class is reported with exemption_doubtful and a review_reason: a person looks at the vehicle "
        "(or its registered category) before any fine",
    )
    source: str = (
        "Traffic Rules of the KR: sign 5.14 'lane for route vehicles' and marking 1.23; vehicles other "
        "than route vehicles must not drive in it (entering to turn right or stop at the kerb is allowed; "
        "section number to confirm, see DOMAIN.md)"
    )


class PedestrianYieldRuleConfig(_Strict):
    enabled: bool = True
    conflict_lateral_m: float = Field(
        default=3.5, gt=0, le=10,
        description="a person on the crosswalk within this lateral distance of the vehicle's body centre "
        "is in the conflict zone of its lane, m (one lane width)",
    )
    min_person_points: int = Field(default=3, ge=1, description="the person must be seen in the conflict zone this often")
    min_vehicle_speed_kmh: float = Field(default=5.0, gt=0, description="the vehicle moves faster than this across the crosswalk")
    max_person_gap_s: float = Field(
        default=0.6, ge=0, le=3, description="a person's position is interpolated across detection gaps up to this long, s"
    )
    source: str = (
        "Traffic Rules of the KR, sec. 14.1 (unregulated crossings): a driver must yield to pedestrians "
        "crossing the road or stepping onto the crossing; the conflict zone (one lane either side) is a "
        "measurement convention, not law (section number to confirm, see DOMAIN.md)"
    )


class Manoeuvre(_Strict):
    id: str = Field(min_length=1)
    kind: Literal["u_turn", "left_turn"]
    entry_zone: str = Field(description="id of a turn_area zone the vehicle starts the manoeuvre in")
    exit_zone: str = Field(description="id of a turn_area zone it ends in")
    min_heading_change_deg: float = Field(default=60.0, gt=0, le=180, description="heading change that makes it a turn")


class ForbiddenTurnRuleConfig(_Strict):
    enabled: bool = True
    manoeuvres: list[Manoeuvre] = Field(default=[], description="forbidden manoeuvres at this site")
    fit_window_s: float = Field(default=0.4, gt=0.2, le=3, description="heading fit window before/after, s")
    min_speed_kmh: float = Field(default=4.0, gt=0, description="heading is measured only above this speed")
    source: str = (
        "Traffic Rules of the KR, sec. 8 and signs 3.18.2 'No left turn' / 3.19 'No U-turn' (turn "
        "prohibited where the sign or marking stands; section numbers to confirm, see DOMAIN.md)"
    )


class OncomingLaneRuleConfig(_Strict):
    enabled: bool = True
    min_distance_m: float = Field(default=5.0, gt=0, description="the body centre travels this far in an oncoming lane, m")
    min_points: int = Field(default=8, ge=3, description="observations needed in the oncoming lane")
    min_own_points: int = Field(default=5, ge=1, description="observations first seen in a lane of its own direction")
    own_side_max_m_per_px: float = Field(
        default=1.5, gt=0, le=5,
        description="which side the vehicle came along may be judged on observations up to this coarse, m per px "
        "(before the measurement zone): the lane depends on the lateral position, which a road camera resolves "
        "many times finer than this along-road bound, and the direction of travel on the sign of a window's "
        "velocity; the distance driven in the oncoming lane is measured in the zone only (wrong_way.max_m_per_px)",
    )
    overtaking_allowed: bool = Field(
        default=False,
        description="True where overtaking through the oncoming lane is lawful (a dashed centre line on a "
        "two- or three-lane road): then only an excursion longer than max_overtake_m counts",
    )
    max_overtake_m: float = Field(default=150.0, gt=0, description="longest lawful overtaking excursion, m")
    source: str = (
        "Traffic Rules of the KR, sec. 9 (on two-way roads with four or more lanes driving in the "
        "oncoming lanes is forbidden) and sec. 11 (overtaking); Code of Offenses: driving into the "
        "oncoming lane (15,000 som, DOMAIN.md); section numbers to confirm"
    )


class RulesConfig(_Strict):
    vehicle_length_m: dict[str, float] = Field(
        default={"car": 4.5, "bus": 12.0, "truck": 8.0, "motorcycle": 2.1},
        description="nominal lengths per class, m: the body centre lies half a length from the point (the bumper nearest "
        "the camera) along the heading, away from the camera",
    )
    speeding: SpeedingRuleConfig = SpeedingRuleConfig()
    red_light: RedLightRuleConfig = RedLightRuleConfig()
    stop_line: StopLineRuleConfig = StopLineRuleConfig()
    solid_line: SolidLineRuleConfig = SolidLineRuleConfig()
    wrong_way: WrongWayRuleConfig = WrongWayRuleConfig()
    no_stopping: NoStoppingRuleConfig = NoStoppingRuleConfig()
    bus_lane: BusLaneRuleConfig = BusLaneRuleConfig()
    pedestrian_yield: PedestrianYieldRuleConfig = PedestrianYieldRuleConfig()
    forbidden_turn: ForbiddenTurnRuleConfig = ForbiddenTurnRuleConfig()
    oncoming_lane: OncomingLaneRuleConfig = OncomingLaneRuleConfig()


class CameraConfig(_Strict):
    """One camera's site description: calibration, geometry, limits and signal."""

    camera_id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    name: str = ""
    location: Location | None = None
    start_time_utc: dt.datetime = Field(description="UTC wall time of frame 0 for file sources")
    image_size_px: tuple[int, int] = Field(description="width, height")
    speed_limit_kmh: float = Field(gt=0, le=150)
    calibration: Calibration
    lanes: list[Lane] = []
    lines: list[Line] = []
    zones: list[Zone] = []
    signal: SignalConfig | None = None
    rules: RulesConfig = RulesConfig()

    @field_validator("start_time_utc")
    @classmethod
    def _utc(cls, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is None:
            raise ValueError("must carry a time zone (e.g. ...Z for UTC)")
        return value.astimezone(dt.timezone.utc)

    @field_validator("image_size_px")
    @classmethod
    def _size(cls, value: tuple[int, int]) -> tuple[int, int]:
        if value[0] < 64 or value[1] < 64:
            raise ValueError(f"image size {value} is too small (minimum 64x64)")
        return value

    @model_validator(mode="after")
    def _references(self) -> "CameraConfig":
        ids = [x.id for x in (*self.lanes, *self.lines, *self.zones)]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate ids: {', '.join(dupes)}")
        if self.signal is not None:
            stop_lines = {ln.id for ln in self.lines if ln.kind == "stop_line"}
            if self.signal.stop_line not in stop_lines:
                raise ValueError(
                    f"signal.stop_line '{self.signal.stop_line}' is not a stop_line id "
                    f"(stop lines: {sorted(stop_lines) or 'none'})"
                )
        areas = {z.id for z in self.zones if z.kind == "turn_area"}
        for m in self.rules.forbidden_turn.manoeuvres:
            for ref in (m.entry_zone, m.exit_zone):
                if ref not in areas:
                    raise ValueError(
                        f"rules.forbidden_turn manoeuvre '{m.id}': zone '{ref}' is not a turn_area zone "
                        f"(turn_area zones: {sorted(areas) or 'none'})"
                    )
        return self

    def line(self, line_id: str) -> Line:
        for ln in self.lines:
            if ln.id == line_id:
                return ln
        raise KeyError(line_id)


def _mark_lines(node: yaml.Node, path: tuple[Any, ...], out: dict[tuple[Any, ...], int]) -> None:
    """Record the 1-based YAML line of every mapping key / sequence item under ``node``."""
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            _mark_lines(value, (*path, key.value), out)
            out[(*path, key.value)] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _mark_lines(item, (*path, i), out)


def _line_for(loc: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> int | None:
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return None


def load_camera_config(path: str | Path) -> CameraConfig:
    """Read and validate a camera config, including its geometry.

    Raises:
        ConfigError: naming the file, each bad field (with its YAML line) and the problem.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read file: {exc.strerror or exc}"]) from exc
    try:
        raw = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), [f"not valid YAML: {exc}"]) from exc
    if not isinstance(raw, dict):
        raise ConfigError(str(path), ["top level must be a mapping of fields"])
    lines: dict[tuple[Any, ...], int] = {}
    if root is not None:
        _mark_lines(root, (), lines)
    try:
        config = CameraConfig.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            field = ".".join(str(p) for p in loc) or "(top level)"
            line = _line_for(loc, lines)
            where = f" (line {line})" if line else ""
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "missing":
                msg = "required field is missing"
            problems.append(f"{field}{where}: {msg}")
        raise ConfigError(str(path), problems) from exc
    from pipeline.scene import check_scene_geometry  # geometry needs numpy/cv2, kept at the edge

    problems = check_scene_geometry(config)
    if problems:
        raise ConfigError(str(path), [f"{f}{_where(f, lines)}: {m}" for f, m in problems])
    return config


def _where(field: str, lines: dict[tuple[Any, ...], int]) -> str:
    loc = tuple(int(p) if p.isdigit() else p for p in field.split("."))
    line = _line_for(loc, lines)
    return f" (line {line})" if line else ""

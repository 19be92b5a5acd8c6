"""Typed records that flow between pipeline stages (never loose dicts)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

ViolationType = Literal[
    "speeding",
    "red_light",
    "stop_line",
    "solid_line_crossing",
    "no_stopping",
    "wrong_way",
    "oncoming_lane",
    "bus_lane",
    "pedestrian_yield",
    "u_turn",
    "left_turn",
]

IMPLEMENTED_TYPES: tuple[str, ...] = (
    "speeding", "red_light", "stop_line", "solid_line_crossing", "wrong_way", "no_stopping",
    "oncoming_lane", "bus_lane", "pedestrian_yield", "u_turn", "left_turn",
)


@dataclass(frozen=True)
class TrackPoint:
    """One observation of a tracked vehicle.

    Attributes:
        frame: frame index in the source, 0-based.
        t_s: seconds since frame 0.
        box_px: (x1, y1, x2, y2) in px.
        road_m: (X, Y) metres, the ground point below the vehicle's front centre.
        confidence: detector confidence, 0..1.
        usable: False when the box touches the frame border (position unreliable).
        m_per_px: road metres one image pixel spans at the road point (measurement resolution).
        class_name: the detector's class for this observation (None when not recorded).
        detected: False when the box was not found by the detector but carried from the previous
            frame by optical flow (pipeline/flow.py, between detected frames); such points
            measure position only and carry no class vote.
    """

    frame: int
    t_s: float
    box_px: tuple[float, float, float, float]
    road_m: tuple[float, float]
    confidence: float
    usable: bool = True
    m_per_px: float = 0.0
    class_name: str | None = None
    detected: bool = True


def weighted_class(points: "tuple[TrackPoint, ...] | list[TrackPoint]", fallback: str) -> str:
    """A track's class: the one with the largest sum of detector confidence over ``points``.

    Observations without a class count for ``fallback``; on an exact tie the class seen first
    wins. Points moved by optical flow (``detected`` False) do not vote. The tracker votes this
    way, and so does the track repair for a track it splits or joins.
    """
    votes: dict[str, float] = {}
    for p in points:
        if not p.detected:
            continue
        name = p.class_name or fallback
        votes[name] = votes.get(name, 0.0) + p.confidence
    return max(votes, key=votes.__getitem__) if votes else fallback


@dataclass(frozen=True)
class ClassVote:
    """How one class is supported among a track's observations.

    Attributes:
        detections: observations the detector gave this class.
        share: ``detections`` over all the track's observations, 0..1.
        mean_confidence: mean detector confidence of those observations, 0..1.
    """

    detections: int
    share: float
    mean_confidence: float


@dataclass(frozen=True)
class Track:
    """A tracked vehicle: its class and its observations in time order.

    ``repairs`` says, in words for the reviewer, where the track was split from another or
    stitched across frames it was not seen in (pipeline/track_repair.py): its identity there
    is inferred from road position and speed, not observed.
    """

    track_id: int
    class_name: str
    points: tuple[TrackPoint, ...]
    repairs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.points:
            raise ValueError(f"track {self.track_id} has no points")

    @property
    def t_s(self) -> np.ndarray:
        return np.array([p.t_s for p in self.points])

    @property
    def road_m(self) -> np.ndarray:
        return np.array([p.road_m for p in self.points], dtype=np.float64).reshape(-1, 2)

    @property
    def usable(self) -> np.ndarray:
        return np.array([p.usable for p in self.points], dtype=bool)

    def measurable(self, max_m_per_px: float) -> np.ndarray:
        """Usable observations where one pixel spans at most ``max_m_per_px`` of road."""
        return self.usable & np.array([p.m_per_px <= max_m_per_px for p in self.points], dtype=bool)

    def class_votes(self) -> dict[str, ClassVote]:
        """The detector's per-observation classes: class -> how often and how confidently.

        Observations without a recorded class count for the track's voted ``class_name``; points
        moved by optical flow (``detected`` False) are not the detector's and are left out.
        """
        n: dict[str, int] = {}
        conf: dict[str, float] = {}
        detected = [p for p in self.points if p.detected] or list(self.points)
        for p in detected:
            name = p.class_name or self.class_name
            n[name] = n.get(name, 0) + 1
            conf[name] = conf.get(name, 0.0) + p.confidence
        total = len(detected)
        return {k: ClassVote(n[k], n[k] / total, conf[k] / n[k]) for k in sorted(n, key=lambda k: (-n[k], k))}

    def point_near(self, t_s: float) -> TrackPoint:
        """The observation closest in time to ``t_s``."""
        return self.points[int(np.argmin(np.abs(self.t_s - t_s)))]


@dataclass(frozen=True)
class SpeedMeasurement:
    """A robust speed over one window of a track.

    Attributes:
        speed_kmh: magnitude of the fitted velocity, km/h.
        t_start_s, t_end_s: the window, seconds since frame 0.
        n_points: observations used.
        residual_m: RMS residual of the fit, metres (quality).
    """

    speed_kmh: float
    t_start_s: float
    t_end_s: float
    n_points: int
    residual_m: float


@dataclass(frozen=True)
class RuleHit:
    """What a rule found on one track, with the measurements that justify it."""

    type: ViolationType
    track_id: int
    t_start_s: float
    t_end_s: float
    t_at_s: float
    speed_kmh: float | None = None
    limit_kmh: float | None = None
    signal_state: str | None = None
    measurements: dict[str, float | str] = field(default_factory=dict)


@dataclass(frozen=True)
class EvidenceFile:
    kind: str
    path: str
    sha256: str


@dataclass(frozen=True)
class Violation:
    """A violation candidate ready to be stored and reviewed."""

    id: str
    type: ViolationType
    camera_id: str
    track_id: int
    class_name: str
    first_frame: int
    last_frame: int
    at_frame: int
    first_time_utc: str
    last_time_utc: str
    speed_kmh: float | None
    limit_kmh: float | None
    signal_state: str | None
    measurements: dict[str, float | str]
    plate_text: str | None = None
    plate_confidence: float | None = None
    plate_status: str | None = None
    plate_country: str | None = None
    plate_guess: str | None = None
    evidence: tuple[EvidenceFile, ...] = ()

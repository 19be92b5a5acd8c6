"""Turn finished tracks into rule hits and speed summaries (pure: no I/O)."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.config import CameraConfig
from pipeline.kinematics import instantaneous_speeds, window_speeds
from pipeline.rules.red_light import check_red_light
from pipeline.rules.speeding import check_speeding
from pipeline.rules.stop_line import check_stop_line
from pipeline.rules.stop_line_crossing import line_progress
from pipeline.scene import SceneGeometry
from pipeline.signals import SignalSource
from pipeline.types import RuleHit, SpeedMeasurement, Track


@dataclass(frozen=True)
class TrackAnalysis:
    """What the rules made of one track.

    Attributes:
        speed: the track's representative speed (median window), or None when too short.
        max_speed: the fastest window, or None.
        hits: rule hits, at most one per rule.
    """

    track: Track
    speed: SpeedMeasurement | None
    max_speed: SpeedMeasurement | None
    hits: tuple[RuleHit, ...]


def analyse_track(
    track: Track, config: CameraConfig, geometry: SceneGeometry, signal: SignalSource | None
) -> TrackAnalysis:
    """Run every enabled rule on one track."""
    rules = config.rules
    use = track.usable
    zone = track.measurable(rules.speeding.max_m_per_px)
    speeds = window_speeds(track.t_s[zone], track.road_m[zone], rules.speeding.fit_window_s)
    hits: list[RuleHit] = []
    hit = check_speeding(track, speeds, config.speed_limit_kmh, rules.speeding)
    if hit:
        hits.append(hit)
    if signal is not None and config.signal is not None and use.sum() >= 3:
        progress = line_progress(track, geometry.stop_segment(config.signal.stop_line))
        red = check_red_light(track.track_id, progress, signal, rules.red_light)
        if red:
            hits.append(red)
        else:
            inst = instantaneous_speeds(progress.t_s, track.road_m[use])
            stop = check_stop_line(track.track_id, progress, inst, signal, rules.stop_line)
            if stop:
                hits.append(stop)
    median = None
    fastest = None
    if speeds:
        ordered = sorted(speeds, key=lambda s: s.speed_kmh)
        median = ordered[len(ordered) // 2]
        fastest = ordered[-1]
    return TrackAnalysis(track, median, fastest, tuple(hits))

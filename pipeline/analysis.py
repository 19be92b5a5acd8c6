"""Turn finished tracks into rule hits and speed summaries (pure: no I/O)."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.config import CameraConfig
from pipeline.kinematics import instantaneous_speeds, window_speeds
from pipeline.rules.bus_lane import check_bus_lane
from pipeline.rules.forbidden_turn import check_forbidden_turn
from pipeline.rules.no_stopping import check_no_stopping
from pipeline.rules.oncoming_lane import came_along_own_side, check_oncoming_lane
from pipeline.rules.pedestrian_yield import check_pedestrian_yield
from pipeline.rules.red_light import check_red_light
from pipeline.rules.solid_line import check_solid_line
from pipeline.rules.speeding import check_speeding
from pipeline.rules.stop_line import check_stop_line
from pipeline.rules.stop_line_crossing import line_progress
from pipeline.rules.wrong_way import check_wrong_way
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


def split_persons(tracks: list[Track]) -> tuple[list[Track], list[Track]]:
    """(vehicle tracks, person tracks): persons feed the pedestrian rule, never the vehicle rules."""
    return [t for t in tracks if t.class_name != "person"], [t for t in tracks if t.class_name == "person"]


def analyse_track(
    track: Track, config: CameraConfig, geometry: SceneGeometry, signal: SignalSource | None,
    persons: list[Track] | tuple[Track, ...] = (),
) -> TrackAnalysis:
    """Run every enabled rule on one vehicle track.

    Args:
        persons: person tracks of the same video (for the pedestrian rule); none disables it.
    """
    rules = config.rules
    use = track.usable
    zone = track.measurable(rules.speeding.max_m_per_px)
    speeds = window_speeds(track.t_s[zone], track.road_m[zone], rules.speeding.fit_window_s)
    if not speeds and zone.sum() >= 5:
        # Too short for one window (a fast vehicle crosses the zone in well under a second): one
        # fit over the whole span, if it lasts min_fit_s.
        span = float(track.t_s[zone][-1] - track.t_s[zone][0])
        if span >= rules.speeding.min_fit_s:
            speeds = window_speeds(track.t_s[zone], track.road_m[zone], span / 0.6 - 1e-9)
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
    for line in config.lines:
        if line.kind == "solid":
            hit = check_solid_line(track, line.id, geometry.lines_m[line.id], rules.solid_line, rules.vehicle_length_m)
            if hit:
                hits.append(hit)
                break
    lanes = {lane.id: (lane.direction, geometry.zones_m[lane.id]) for lane in config.lanes}
    # A vehicle that came along its own side and moved into an oncoming lane is an oncoming-lane
    # offence (or lawful overtaking where the site allows it); wrong way is only for one first
    # seen travelling against its lane.
    ww = rules.wrong_way
    hit = check_oncoming_lane(track, lanes, rules.oncoming_lane, rules.vehicle_length_m, ww.max_m_per_px)
    if hit is None and not came_along_own_side(
        track, lanes, rules.oncoming_lane, rules.vehicle_length_m, ww.max_m_per_px
    ):
        hit = check_wrong_way(track, lanes, ww)
    if hit:
        hits.append(hit)
    bus = {lane.id: geometry.zones_m[lane.id] for lane in config.lanes if lane.kind == "bus"}
    hit = check_bus_lane(track, bus, rules.bus_lane, rules.vehicle_length_m, config.start_time_utc)
    if hit:
        hits.append(hit)
    crosswalks = {z.id: geometry.zones_m[z.id] for z in config.zones if z.kind == "crosswalk"}
    hit = check_pedestrian_yield(track, list(persons), crosswalks, rules.pedestrian_yield, rules.vehicle_length_m)
    if hit:
        hits.append(hit)
    manoeuvres = [
        (m, geometry.zones_m[m.entry_zone], geometry.zones_m[m.exit_zone]) for m in rules.forbidden_turn.manoeuvres
    ]
    hit = check_forbidden_turn(track, manoeuvres, rules.forbidden_turn)
    if hit:
        hits.append(hit)
    no_stop = {z.id: geometry.zones_m[z.id] for z in config.zones if z.kind == "no_stopping"}
    hit = check_no_stopping(track, no_stop, rules.no_stopping, rules.vehicle_length_m)
    if hit:
        hits.append(hit)
    median = None
    fastest = None
    if speeds:
        ordered = sorted(speeds, key=lambda s: s.speed_kmh)
        median = ordered[len(ordered) // 2]
        fastest = ordered[-1]
    return TrackAnalysis(track, median, fastest, tuple(hits))

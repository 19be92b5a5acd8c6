"""Driving in a bus lane: a vehicle of a class not allowed there travels along it while reserved.

Encodes the KR Traffic Rules' lane for route vehicles (sign 5.14, marking 1.23; source and the
caveat on section numbers in ``rules.bus_lane.source``). The vehicle's body centre must travel
``min_distance_m`` along a lane of kind ``bus`` while one of the configured local-time windows
is in force: a short entry to turn right or to reach the kerb is lawful and stays under it.

The exemption of an allowed class (route buses) is taken on the detector's label, so it is
granted only on decisive class evidence (:func:`class_evidence`): enough of the track's
detections name an allowed class, with enough confidence. A passage whose evidence is mixed (a
truck labelled bus at night, a bus labelled truck) is reported with ``exemption_doubtful`` and a
``review_reason``: a person decides, never a fine straight from the label.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from pipeline.config import BusLaneRuleConfig
from pipeline.geometry import point_in_polygon
from pipeline.rules.body import body_centres
from pipeline.types import RuleHit, Track


def window_active(cfg: BusLaneRuleConfig, at_utc: dt.datetime) -> bool:
    """True when ``at_utc`` (aware datetime) falls in one of the reserved local-time windows."""
    if at_utc.tzinfo is None:
        raise ValueError(f"at_utc must carry a time zone, got naive {at_utc.isoformat()}")
    local = at_utc.astimezone(dt.timezone(dt.timedelta(hours=cfg.utc_offset_hours)))
    minute = local.hour * 60 + local.minute + local.second / 60.0
    for w in cfg.windows:
        start, end = w.minutes()
        if local.weekday() in w.weekdays and start <= minute < end:
            return True
    return False


def class_evidence(track: Track, cfg: BusLaneRuleConfig) -> tuple[bool, bool, dict]:
    """Whether the track is exempt as an allowed class, whether that is doubtful, and the votes.

    Returns:
        (exempt, doubtful, measurements): exempt when the allowed classes' share of the track's
        detections reaches ``exemption_min_share`` and their mean confidence
        ``exemption_min_confidence``; doubtful when not exempt but the track's class vote is an
        allowed class or their share reaches ``review_min_share``.
    """
    votes = track.class_votes()
    allowed = [v for c, v in votes.items() if c in cfg.allowed_classes]
    n = sum(v.detections for v in allowed)
    share = sum(v.share for v in allowed)
    conf = sum(v.mean_confidence * v.detections for v in allowed) / n if n else 0.0
    exempt = share >= cfg.exemption_min_share and conf >= cfg.exemption_min_confidence
    doubtful = not exempt and (track.class_name in cfg.allowed_classes or (n > 0 and share >= cfg.review_min_share))
    doc = {
        "class_votes": {
            c: {"detections": v.detections, "share": round(v.share, 3), "mean_confidence": round(v.mean_confidence, 3)}
            for c, v in votes.items()
        },
        "allowed_classes": list(cfg.allowed_classes),
        "allowed_share": round(share, 3),
        "allowed_mean_confidence": round(conf, 3),
        "exemption_doubtful": doubtful,
    }
    return exempt, doubtful, doc


def _runs(flag: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive (first, last) index runs where ``flag`` is true."""
    d = np.diff(np.concatenate([[0], flag.astype(np.int8), [0]]))
    return list(zip(np.nonzero(d == 1)[0].tolist(), (np.nonzero(d == -1)[0] - 1).tolist()))


def check_bus_lane(
    track: Track,
    bus_lanes: dict[str, np.ndarray],
    cfg: BusLaneRuleConfig,
    lengths: dict[str, float],
    start_time_utc: dt.datetime,
) -> RuleHit | None:
    """Flag the longest stretch a non-exempt vehicle drives inside a reserved bus lane.

    A vehicle of an allowed class on decisive evidence is exempt (None); on doubtful evidence
    the passage is reported with ``exemption_doubtful: true`` and a ``review_reason``.

    Args:
        track: the vehicle (usable observations are used).
        bus_lanes: lane id -> (K, 2) polygon in road metres, lanes of kind ``bus`` only.
        cfg: windows, allowed classes and minimum evidence.
        lengths: nominal vehicle length per class, m (to place the body centre).
        start_time_utc: UTC wall time of the track's time origin (frame 0).
    """
    if not cfg.enabled or not bus_lanes:
        return None
    exempt, doubtful, evidence = class_evidence(track, cfg)
    if exempt:
        return None
    use = track.usable
    t = track.t_s[use]
    if len(t) < cfg.min_points:
        return None
    centres = body_centres(track, t, track.road_m[use], lengths)
    active = np.array([window_active(cfg, start_time_utc + dt.timedelta(seconds=float(x))) for x in t], dtype=bool)
    best: tuple[float, str, int, int] | None = None
    for lane_id, poly in bus_lanes.items():
        inside = point_in_polygon(centres, poly) & active
        for i, j in _runs(inside):
            if j - i + 1 < cfg.min_points:
                continue
            travelled = float(np.abs(np.diff(centres[i : j + 1, 1])).sum())
            if travelled >= cfg.min_distance_m and (best is None or travelled > best[0]):
                best = (travelled, lane_id, i, j)
    if best is None:
        return None
    travelled, lane_id, i, j = best
    return RuleHit(
        type="bus_lane",
        track_id=track.track_id,
        t_start_s=float(t[i]),
        t_end_s=float(t[j]),
        t_at_s=float((t[i] + t[j]) / 2),
        measurements={
            "lane_id": lane_id,
            "class_name": track.class_name,
            "distance_in_lane_m": round(travelled, 2),
            "min_distance_m": cfg.min_distance_m,
            "points_in_lane": int(j - i + 1),
            **evidence,
            **({"review_reason": _doubt_reason(evidence, cfg)} if doubtful else {}),
        },
    )


def _doubt_reason(evidence: dict, cfg: BusLaneRuleConfig) -> str:
    """One line for the reviewer (and the evidence overlay); the full votes are in ``class_votes``."""
    return (
        f"bus-lane exemption doubtful: {'/'.join(cfg.allowed_classes)} on {evidence['allowed_share']:.0%} of detections "
        f"at mean confidence {evidence['allowed_mean_confidence']:.2f} (exempt: {cfg.exemption_min_share:.0%} at "
        f"{cfg.exemption_min_confidence:.2f})"
    )

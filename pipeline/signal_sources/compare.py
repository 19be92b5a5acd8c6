"""The controller feed as primary, vision as fallback, and the disagreements between them.

When the feed knows the phase, it decides. When it does not (silent, skewed, before its
history), the vision reading is used but marked ``source="vision"``: a rule hit on such a
phase goes to review and is not finable unless the camera config says
``vision.allow_fines: true`` with a reason (:func:`phase_finable`). Wherever both know the
phase and differ for longer than ``disagreement_min_s`` (away from a feed phase change by
``boundary_tolerance_s``), a :class:`SignalDisagreement` is reported to operators.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass

from pipeline.config import VisionSignalConfig
from pipeline.signal_sources.vision import VisionSignalSource
from pipeline.signals import UNKNOWN, PhaseInterval, SignalSource

log = logging.getLogger(__name__)

VISION_REVIEW_REASON = "signal phase from the vision fallback only; the camera config does not allow vision fines"


@dataclass(frozen=True)
class SignalDisagreement:
    """Feed and vision saw different phases over [start_s, end_s] (s since frame 0)."""

    camera_id: str
    start_s: float
    end_s: float
    start_utc: str
    end_utc: str
    feed_source: str
    feed_state: str
    vision_state: str
    samples: int

    def to_dict(self) -> dict:
        return asdict(self)


class CompareSignalSource:
    """Primary feed with the vision fallback (see the module docstring)."""

    def __init__(self, primary: SignalSource, vision: VisionSignalSource) -> None:
        self.primary = primary
        self.vision = vision
        self.name = primary.name

    def state_at(self, t_s: float) -> PhaseInterval:
        ph = self.primary.state_at(t_s)
        if ph.state != UNKNOWN:
            return ph
        v = self.vision.state_at(t_s)
        if v.state == UNKNOWN:
            return ph
        return PhaseInterval(v.state, v.start_s, v.end_s, self.vision.name, f"primary {ph.source}: {ph.reason or 'unknown'}")

    def disagreements(self, camera_id: str, origin_utc: dt.datetime) -> list[SignalDisagreement]:
        """Periods where feed and vision both know the phase and differ; logged as warnings."""
        return find_disagreements(self.primary, self.vision, camera_id, origin_utc)

    def close(self) -> None:
        close = getattr(self.primary, "close", None)
        if close:
            close()


def find_disagreements(
    primary: SignalSource, vision: VisionSignalSource, camera_id: str, origin_utc: dt.datetime
) -> list[SignalDisagreement]:
    cfg: VisionSignalConfig = vision.cfg
    gap = 1.5 * cfg.sample_every_s
    groups: list[list] = []  # [start_s, end_s, feed_state, vision_state, samples, feed_source]
    for s in vision.samples:
        v = vision.state_at(s.t_s)
        if v.state == UNKNOWN:
            continue
        p = primary.state_at(s.t_s)
        if p.state == UNKNOWN or p.state == v.state:
            continue
        if s.t_s - p.start_s < cfg.boundary_tolerance_s or p.end_s - s.t_s < cfg.boundary_tolerance_s:
            continue  # a phase change: feed and camera clocks may be a frame or two apart
        last = groups[-1] if groups else None
        if last and last[2] == p.state and last[3] == v.state and s.t_s - last[1] <= gap:
            last[1] = s.t_s
            last[4] += 1
        else:
            groups.append([s.t_s, s.t_s, p.state, v.state, 1, p.source])
    out = []
    for start, end, feed_state, vision_state, n, feed_source in groups:
        end += cfg.sample_every_s
        if end - start < cfg.disagreement_min_s:
            continue
        d = SignalDisagreement(
            camera_id, round(start, 3), round(end, 3), _utc(origin_utc, start), _utc(origin_utc, end),
            feed_source, feed_state, vision_state, n,
        )
        log.warning(
            "signal disagreement camera_id=%s feed_source=%s feed=%s vision=%s from=%s to=%s samples=%d",
            camera_id, feed_source, feed_state, vision_state, d.start_utc, d.end_utc, n,
        )
        out.append(d)
    return out


def phase_finable(phase: PhaseInterval, cfg: VisionSignalConfig) -> tuple[bool, str]:
    """Whether a rule hit decided on ``phase`` may lead to a fine, and if not, why."""
    if phase.state == UNKNOWN:
        return False, f"signal phase unknown ({phase.reason or 'no information'})"
    if phase.source == "vision" and not cfg.allow_fines:
        return False, VISION_REVIEW_REASON
    return True, ""


def _utc(origin: dt.datetime, t_s: float) -> str:
    return (origin + dt.timedelta(seconds=t_s)).isoformat(timespec="milliseconds")

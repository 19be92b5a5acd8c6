"""Signal phases: the ``SignalSource`` protocol, its registry and the controller phase-plan source.

Every source answers "which phase was in force at ``t_s`` seconds since frame 0?" with a
:class:`PhaseInterval` that names the source. ``unknown`` (feed silent, clock skew, before
the history, vision unsure) never prohibits, so the signal rules cannot fine on it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from pipeline.config import PhasePlan, SignalConfig
from pipeline.signal_sources import SOURCES
from safecity.plugins import LazyRegistry

UNKNOWN = "unknown"

#: ``name -> "module:Class"``; each class has ``from_config(signal_config, origin_utc)``.
SIGNAL_SOURCES = LazyRegistry("signal source", SOURCES)


@dataclass(frozen=True)
class PhaseInterval:
    """A phase on the video's time axis.

    Attributes:
        state: green, amber, red, red_amber, off or unknown.
        start_s, end_s: the phase's bounds as far as the source knows them, s since frame 0.
        source: the registry name of the source that decided (``plan``, ``log_file``, ``vision``...).
        reason: why the state is ``unknown`` (``feed_silent``, ``before_history``...), else "".
    """

    state: str
    start_s: float
    end_s: float
    source: str = ""
    reason: str = ""


class SignalSource(Protocol):
    """Where the phase of a stop line's signal comes from."""

    name: str

    def state_at(self, t_s: float) -> PhaseInterval:
        """The phase in force at ``t_s`` seconds since frame 0, with its bounds."""
        ...


class PlanSignalSource:
    """A fixed-time controller plan: the phases repeat with the cycle, shifted by the offset."""

    name = "plan"

    def __init__(self, plan: PhasePlan) -> None:
        self._phases = [(p.state, p.duration_s) for p in plan.phases]
        self._cycle = sum(d for _, d in self._phases)
        self._offset = plan.offset_s % self._cycle

    @classmethod
    def from_config(cls, config: SignalConfig, origin_utc: dt.datetime) -> "PlanSignalSource":
        if config.plan is None:
            raise ValueError("signal.plan is required for the plan source")
        return cls(config.plan)

    def state_at(self, t_s: float) -> PhaseInterval:
        pos = (t_s + self._offset) % self._cycle
        cycle_start = t_s - pos
        acc = 0.0
        for state, duration in self._phases:
            if pos < acc + duration:
                return PhaseInterval(state, cycle_start + acc, cycle_start + acc + duration, self.name)
            acc += duration
        state, duration = self._phases[-1]
        return PhaseInterval(state, cycle_start + self._cycle - duration, cycle_start + self._cycle, self.name)

    def timeline(self, t0_s: float, t1_s: float) -> list[PhaseInterval]:
        """Phases overlapping [t0_s, t1_s], clipped to it."""
        return timeline(self, t0_s, t1_s)

    def close(self) -> None:
        """Nothing to release."""


def timeline(source: SignalSource, t0_s: float, t1_s: float) -> list[PhaseInterval]:
    """Phases of any source overlapping [t0_s, t1_s], clipped to it."""
    out: list[PhaseInterval] = []
    t = t0_s
    while t < t1_s:
        ph = source.state_at(t)
        end = min(ph.end_s, t1_s)
        if end <= t:  # a source that cannot bound its phase: step a little
            end = min(t + 0.1, t1_s)
        out.append(PhaseInterval(ph.state, max(ph.start_s, t0_s), end, ph.source, ph.reason))
        t = end + 1e-9
    return out


def build_signal_source(config: SignalConfig, origin_utc: dt.datetime) -> SignalSource:
    """The configured primary source (``config.source``), built and started.

    Args:
        config: the camera's ``signal`` section.
        origin_utc: UTC wall time of frame 0 (feeds are looked up in UTC).

    Raises:
        ValueError: an unknown source name ("did you mean"), or a source that cannot start.
    """
    cls = SIGNAL_SOURCES.resolve(config.source)
    return cls.from_config(config, origin_utc)

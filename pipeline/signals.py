"""Signal phases: the ``SignalSource`` protocol and the controller phase-plan source."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from pipeline.config import PhasePlan


@dataclass(frozen=True)
class PhaseInterval:
    state: str
    start_s: float
    end_s: float


class SignalSource(Protocol):
    """Where the phase of a stop line's signal comes from."""

    name: str

    def state_at(self, t_s: float) -> PhaseInterval:
        """The phase in force at ``t_s`` seconds since frame 0, with its bounds."""
        ...


class PlanSignalSource:
    """A fixed-time controller plan: the phases repeat with the cycle, shifted by the offset."""

    name = "controller_plan"

    def __init__(self, plan: PhasePlan) -> None:
        self._phases = [(p.state, p.duration_s) for p in plan.phases]
        self._cycle = sum(d for _, d in self._phases)
        self._offset = plan.offset_s % self._cycle

    def state_at(self, t_s: float) -> PhaseInterval:
        pos = (t_s + self._offset) % self._cycle
        cycle_start = t_s - pos
        acc = 0.0
        for state, duration in self._phases:
            if pos < acc + duration:
                return PhaseInterval(state, cycle_start + acc, cycle_start + acc + duration)
            acc += duration
        state, duration = self._phases[-1]
        return PhaseInterval(state, cycle_start + self._cycle - duration, cycle_start + self._cycle)

    def timeline(self, t0_s: float, t1_s: float) -> list[PhaseInterval]:
        """Phases overlapping [t0_s, t1_s], clipped to it."""
        out: list[PhaseInterval] = []
        t = t0_s
        while t < t1_s:
            ph = self.state_at(t)
            out.append(PhaseInterval(ph.state, max(ph.start_s, t0_s), min(ph.end_s, t1_s)))
            t = ph.end_s + 1e-9
        return out

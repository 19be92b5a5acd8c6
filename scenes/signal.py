"""Fixed-time traffic-signal phase plan: the controller feed the scene is rendered from."""

from __future__ import annotations

from dataclasses import dataclass

STATES = ("green", "amber", "red", "red_amber", "off")  # off: dark signal, unregulated crossing
#: States that forbid crossing the stop line. Red + amber still means stop: it only announces
#: green (Vienna Convention signal meanings, followed by the KR Traffic Rules; section to cite).
PROHIBITING = frozenset({"red", "red_amber"})


@dataclass(frozen=True)
class Phase:
    """One phase of the cycle: a signal state held for ``duration_s`` seconds."""

    state: str
    duration_s: float

    def __post_init__(self) -> None:
        if self.state not in STATES:
            raise ValueError(f"phase state must be one of {STATES}, got {self.state!r}")
        if not self.duration_s > 0:
            raise ValueError(f"phase duration_s must be > 0, got {self.duration_s}")


@dataclass(frozen=True)
class PhaseInterval:
    """A phase placed on the scene time axis: ``state`` from ``start_s`` to ``end_s`` (s)."""

    state: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class SignalPlan:
    """A cyclic plan; ``offset_s`` is how far into the cycle the scene's frame 0 falls (s)."""

    phases: tuple[Phase, ...]
    offset_s: float = 0.0

    def __post_init__(self) -> None:
        if not self.phases:
            raise ValueError("a signal plan needs at least one phase")
        if not 0.0 <= self.offset_s < self.cycle_s:
            raise ValueError(f"offset_s must be in [0, cycle {self.cycle_s} s), got {self.offset_s}")

    @property
    def cycle_s(self) -> float:
        """Cycle length, s."""
        return sum(p.duration_s for p in self.phases)

    def state_at(self, t_s: float) -> str:
        """Signal state at scene time ``t_s`` (s after frame 0)."""
        u = (t_s + self.offset_s) % self.cycle_s
        acc = 0.0
        for phase in self.phases:
            acc += phase.duration_s
            if u < acc - 1e-9:
                return phase.state
        return self.phases[-1].state

    def timeline(self, duration_s: float) -> list[PhaseInterval]:
        """Phase intervals covering [0, duration_s], the first and last cut to the scene."""
        out: list[PhaseInterval] = []
        cycle_start = -self.offset_s
        while cycle_start < duration_s:
            start = cycle_start
            for phase in self.phases:
                end = start + phase.duration_s
                lo, hi = max(start, 0.0), min(end, duration_s)
                if hi > lo + 1e-9:
                    out.append(PhaseInterval(phase.state, round(lo, 6), round(hi, 6)))
                start = end
            cycle_start += self.cycle_s
        return out

    def elapsed_in(self, t_s: float, states: frozenset[str]) -> float:
        """Seconds since the current unbroken run of ``states`` began (0 if not in one)."""
        u = (t_s + self.offset_s) % self.cycle_s
        acc = 0.0
        for i, phase in enumerate(self.phases):
            if u < acc + phase.duration_s - 1e-9:
                break
            acc += phase.duration_s
        if self.phases[i].state not in states:
            return 0.0
        elapsed = u - acc
        for k in range(1, len(self.phases)):
            prev = self.phases[(i - k) % len(self.phases)]
            if prev.state not in states:
                break
            elapsed += prev.duration_s
        return elapsed

    def next_change_s(self, t_s: float) -> float:
        """Scene time of the first phase change after ``t_s``, s."""
        u = (t_s + self.offset_s) % self.cycle_s
        acc = 0.0
        for phase in self.phases:
            acc += phase.duration_s
            if u < acc - 1e-9:
                return t_s + (acc - u)
        return t_s + (self.cycle_s - u)


def standard_plan(offset_s: float) -> SignalPlan:
    """Green 10 s, amber 3 s, red 12 s, red+amber 2 s (27 s cycle) at the given offset."""
    return SignalPlan(
        phases=(Phase("green", 10.0), Phase("amber", 3.0), Phase("red", 12.0), Phase("red_amber", 2.0)),
        offset_s=offset_s,
    )

"""A bounded, time-ordered phase history with staleness and clock-skew rules.

A controller feed is trusted at a time ``t`` only while it is demonstrably alive: the last
message (phase change or status heartbeat) at or before ``t`` is at most ``max_silence_s``
old. Otherwise the state is ``unknown``, and ``unknown`` never prohibits, so a silent or
broken feed can never produce a red-light fine. A message whose controller time differs
from our receive time by more than ``max_clock_skew_s`` is rejected (the two clocks disagree,
so its time cannot be placed on the camera's axis) and counted.
"""

from __future__ import annotations

import bisect
import logging
import threading
from collections import deque
from dataclasses import dataclass

from pipeline.signal_sources.events import PhaseEvent

log = logging.getLogger(__name__)

UNKNOWN = "unknown"


@dataclass(frozen=True)
class UtcPhase:
    """The state in force at a UTC time, with its bounds (UTC epoch seconds) and why.

    Attributes:
        reason: for ``unknown``: ``no_history``, ``before_history``, ``feed_silent``; else "".
    """

    state: str
    start_utc: float
    end_utc: float
    reason: str = ""


@dataclass
class FeedStats:
    """Counters a feed keeps for operators (never personal data)."""

    accepted: int = 0
    duplicates: int = 0
    skew_rejected: int = 0
    dropped_oldest: int = 0
    max_abs_skew_s: float = 0.0


class PhaseHistory:
    """Thread-safe history of controller messages, kept in controller-time order.

    Args:
        max_silence_s: the feed counts as alive up to this long after its last message, s.
        max_clock_skew_s: reject messages whose controller time is this far from the
            receive time, s (only for messages that carry a receive time).
        max_events: keep at most this many messages; the oldest go first (bounded memory).
    """

    def __init__(self, max_silence_s: float = 5.0, max_clock_skew_s: float = 2.0, max_events: int = 100_000) -> None:
        if max_silence_s <= 0:
            raise ValueError(f"max_silence_s: expected > 0, got {max_silence_s}")
        if max_clock_skew_s <= 0:
            raise ValueError(f"max_clock_skew_s: expected > 0, got {max_clock_skew_s}")
        if max_events < 2:
            raise ValueError(f"max_events: expected >= 2, got {max_events}")
        self.max_silence_s = max_silence_s
        self.max_clock_skew_s = max_clock_skew_s
        self._times: deque[float] = deque()
        self._events: deque[PhaseEvent] = deque()
        self._max = max_events
        self._seqs: set[int] = set()
        self._lock = threading.Lock()
        self.stats = FeedStats()
        self._lost_before_utc: float | None = None  # history before this was dropped

    def __len__(self) -> int:
        return len(self._events)

    def add(self, event: PhaseEvent) -> bool:
        """Insert one message; returns False when it was a duplicate or rejected for skew."""
        with self._lock:
            if event.seq is not None and event.seq in self._seqs:
                self.stats.duplicates += 1
                return False
            if event.received_utc is not None:
                skew = event.received_utc - event.t_utc
                self.stats.max_abs_skew_s = max(self.stats.max_abs_skew_s, abs(skew))
                if abs(skew) > self.max_clock_skew_s:
                    self.stats.skew_rejected += 1
                    log.warning(
                        "signal feed clock skew: message rejected skew_s=%.3f max_clock_skew_s=%.3f state=%s",
                        skew, self.max_clock_skew_s, event.state,
                    )
                    return False
            # Most messages arrive in order: append; a late UDP datagram is inserted in place.
            if not self._times or event.t_utc >= self._times[-1]:
                self._times.append(event.t_utc)
                self._events.append(event)
            else:
                i = bisect.bisect_right(self._times, event.t_utc)
                self._times.insert(i, event.t_utc)
                self._events.insert(i, event)
            if event.seq is not None:
                self._seqs.add(event.seq)
            self.stats.accepted += 1
            while len(self._events) > self._max:
                old = self._events.popleft()
                self._times.popleft()
                self._seqs.discard(old.seq)  # type: ignore[arg-type]
                self.stats.dropped_oldest += 1
                self._lost_before_utc = self._times[0]
            return True

    def events(self) -> list[PhaseEvent]:
        """A snapshot of the kept messages, oldest first."""
        with self._lock:
            return list(self._events)

    def state_at(self, t_utc: float) -> UtcPhase:
        """The state in force at controller time ``t_utc`` (UTC epoch seconds)."""
        with self._lock:
            if not self._events:
                return UtcPhase(UNKNOWN, t_utc, t_utc, "no_history")
            i = bisect.bisect_right(self._times, t_utc) - 1
            if i < 0 or (self._lost_before_utc is not None and t_utc < self._lost_before_utc):
                end = self._times[0] if i < 0 else t_utc
                return UtcPhase(UNKNOWN, float("-inf"), end, "before_history")
            last = self._events[i]
            alive_until = last.t_utc + self.max_silence_s
            if t_utc > alive_until:
                nxt = self._times[i + 1] if i + 1 < len(self._times) else float("inf")
                return UtcPhase(UNKNOWN, alive_until, nxt, "feed_silent")
            state = last.state
            # The phase began at the earliest message of this unbroken run of ``state``.
            j = i
            while j > 0:
                prev = self._events[j - 1]
                if prev.state != state or self._events[j].t_utc - prev.t_utc > self.max_silence_s:
                    break
                j -= 1
            # A run that starts with a status heartbeat began earlier; this is what we know.
            start = self._events[j].t_utc
            # It ends at the next message with another state, or when the feed went silent.
            end = alive_until
            k = i + 1
            while k < len(self._events):
                nxt_ev = self._events[k]
                if nxt_ev.t_utc - self._events[k - 1].t_utc > self.max_silence_s:
                    end = self._events[k - 1].t_utc + self.max_silence_s
                    break
                if nxt_ev.state != state:
                    end = nxt_ev.t_utc
                    break
                end = nxt_ev.t_utc + self.max_silence_s
                k += 1
            return UtcPhase(state, start, end)

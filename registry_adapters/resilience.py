"""Retry with backoff, a token-bucket rate limit and a circuit breaker (pure; clocks injected).

Nothing here sleeps on its own or reads the wall clock: the HTTP adapter passes
``time.monotonic`` and ``time.sleep``, tests pass a fake clock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from registry_adapters.base import RegistryUnavailable

Clock = Callable[[], float]
Sleep = Callable[[float], None]
BreakerState = Literal["closed", "open", "half_open"]


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a failed registry call.

    Attributes:
        attempts: total tries (1 = no retry).
        base_delay_s: wait before the first retry, seconds; doubles each retry.
        max_delay_s: cap on one wait, seconds.
    """

    attempts: int = 3
    base_delay_s: float = 0.2
    max_delay_s: float = 2.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts: expected >= 1, got {self.attempts}")
        if self.base_delay_s < 0 or self.max_delay_s < self.base_delay_s:
            raise ValueError(
                f"delays: expected 0 <= base_delay_s <= max_delay_s, got {self.base_delay_s} and {self.max_delay_s}"
            )

    def delay_s(self, retry: int, jitter: float = 0.5) -> float:
        """Wait before retry number ``retry`` (1-based), seconds: exponential, capped, scaled by
        ``jitter`` in [0, 1] mapped to [0.5, 1.0] of the full delay (spreads clients apart)."""
        full = min(self.max_delay_s, self.base_delay_s * 2 ** (retry - 1))
        return full * (0.5 + 0.5 * min(1.0, max(0.0, jitter)))


class TokenBucket:
    """Rate limit: ``rate_per_s`` calls a second on average, bursts up to ``burst``.

    Args:
        rate_per_s: refill rate, tokens per second (> 0).
        burst: bucket size (>= 1).
        clock: monotonic seconds.
        sleep: waits the given seconds.
        max_wait_s: longest :meth:`acquire` waits before giving up.
    """

    def __init__(self, rate_per_s: float, burst: int, clock: Clock, sleep: Sleep, max_wait_s: float = 5.0) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError(f"expected rate_per_s > 0 and burst >= 1, got {rate_per_s} and {burst}")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self.max_wait_s = max_wait_s
        self._tokens = float(burst)
        self._last = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate_per_s)
        self._last = now

    def acquire(self) -> float:
        """Take one token, waiting for it when the bucket is empty.

        Returns:
            Seconds waited.

        Raises:
            RegistryUnavailable: the wait would exceed ``max_wait_s`` (we are over our quota).
        """
        with self._lock:
            self._refill()
            if self._tokens >= 1:
                self._tokens -= 1
                return 0.0
            wait = (1 - self._tokens) / self.rate_per_s
            if wait > self.max_wait_s:
                raise RegistryUnavailable(f"registry rate limit: next call in {wait:.1f} s > {self.max_wait_s} s")
            self._tokens -= 1  # reserve it now so concurrent callers queue behind us
        self._sleep(wait)
        return wait


class CircuitBreaker:
    """Stops calling a registry that keeps failing, then probes it again after a pause.

    closed -> (``failure_threshold`` consecutive failures) -> open: calls fail at once with
    :class:`RegistryUnavailable` -> after ``reset_timeout_s`` -> half_open: one probe call is let
    through; its success closes the breaker, its failure opens it again.

    Args:
        failure_threshold: consecutive failures that open the breaker.
        reset_timeout_s: seconds the breaker stays open before a probe.
        clock: monotonic seconds.
    """

    def __init__(self, failure_threshold: int, reset_timeout_s: float, clock: Clock) -> None:
        if failure_threshold < 1 or reset_timeout_s <= 0:
            raise ValueError(
                "expected failure_threshold >= 1 and reset_timeout_s > 0, "
                f"got {failure_threshold} and {reset_timeout_s}"
            )
        self.failure_threshold = failure_threshold
        self.reset_timeout_s = reset_timeout_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False
        self._lock = threading.Lock()

    @property
    def state(self) -> BreakerState:
        with self._lock:
            return self._state()

    def _state(self) -> BreakerState:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self.reset_timeout_s:
            return "half_open"
        return "open"

    def before_call(self) -> None:
        """Raise :class:`RegistryUnavailable` unless a call may go out now."""
        with self._lock:
            state = self._state()
            if state == "open" or (state == "half_open" and self._probing):
                remaining = self.reset_timeout_s - (self._clock() - (self._opened_at or 0.0))
                raise RegistryUnavailable(f"registry circuit open (next probe in {max(0.0, remaining):.1f} s)")
            if state == "half_open":
                self._probing = True

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._probing = False

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._probing or self._failures >= self.failure_threshold:
                self._opened_at = self._clock()
            self._probing = False

"""Backoff, rate limit and circuit breaker on a fake clock (no sleeping, no wall time)."""

from __future__ import annotations

import pytest

from registry_adapters.base import RegistryUnavailable
from registry_adapters.resilience import CircuitBreaker, RetryPolicy, TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.mark.parametrize(
    ("retry", "jitter", "expected"), [(1, 1.0, 0.2), (2, 1.0, 0.4), (3, 1.0, 0.8), (6, 1.0, 2.0), (1, 0.0, 0.1)]
)
def test_backoff_doubles_and_is_capped(retry: int, jitter: float, expected: float) -> None:
    """Delays double per retry, stop at max_delay_s, and jitter scales them to [50 %, 100 %]."""
    assert RetryPolicy(attempts=5, base_delay_s=0.2, max_delay_s=2.0).delay_s(retry, jitter) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"attempts": 0}, "attempts"), ({"base_delay_s": 3.0, "max_delay_s": 1.0}, "delays")],
)
def test_retry_policy_validation(kwargs, message) -> None:
    """Nonsense retry settings are refused."""
    with pytest.raises(ValueError, match=message):
        RetryPolicy(**kwargs)


def test_token_bucket_allows_burst_then_paces() -> None:
    """A burst of 3 goes at once; the 4th waits 1/rate seconds."""
    clock = FakeClock()
    bucket = TokenBucket(rate_per_s=10.0, burst=3, clock=clock, sleep=clock.sleep)
    assert [bucket.acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.acquire() == pytest.approx(0.1)
    clock.now += 1.0
    assert bucket.acquire() == 0.0


def test_token_bucket_refuses_a_long_wait() -> None:
    """Over quota by more than max_wait_s: RegistryUnavailable instead of a long stall."""
    clock = FakeClock()
    bucket = TokenBucket(rate_per_s=0.1, burst=1, clock=clock, sleep=clock.sleep, max_wait_s=1.0)
    bucket.acquire()
    with pytest.raises(RegistryUnavailable, match="rate limit"):
        bucket.acquire()


def test_breaker_opens_after_threshold_and_probes_after_timeout() -> None:
    """closed -> open after 3 failures -> half-open after 30 s -> closed on a good probe."""
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=3, reset_timeout_s=30.0, clock=clock)
    for _ in range(3):
        breaker.before_call()
        breaker.record_failure()
    assert breaker.state == "open"
    with pytest.raises(RegistryUnavailable, match="circuit open"):
        breaker.before_call()
    clock.now += 30.0
    assert breaker.state == "half_open"
    breaker.before_call()  # the probe goes out
    with pytest.raises(RegistryUnavailable):
        breaker.before_call()  # a second caller waits for the probe
    breaker.record_success()
    assert breaker.state == "closed"


def test_failed_probe_reopens() -> None:
    """A failing probe opens the breaker for another full timeout."""
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout_s=10.0, clock=clock)
    breaker.record_failure()
    clock.now += 10.0
    breaker.before_call()
    breaker.record_failure()
    assert breaker.state == "open"
    clock.now += 9.0
    assert breaker.state == "open"


def test_success_resets_the_failure_count() -> None:
    """Failures must be consecutive to open the breaker."""
    breaker = CircuitBreaker(failure_threshold=2, reset_timeout_s=1.0, clock=FakeClock())
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state == "closed"

"""Registry adapter talking to the data holder's REST service (:mod:`registry_adapters.service`).

Every call goes through a circuit breaker and a token-bucket rate limit, with a timeout, and is
retried with exponential backoff on timeouts, connection errors, 5xx/429 answers and malformed
answers. When the registry stays down the lookup raises :class:`RegistryUnavailable` (a
``TransientError``): the case waits as pending and is retried later, never dropped.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Mapping, Sequence

import httpx
from pydantic import ValidationError

from registry_adapters.base import (
    AccessContext,
    AccessRecorder,
    LookupResult,
    RegistryAnswerError,
    RegistryAuthError,
    RegistryUnavailable,
    VehicleRecord,
)
from registry_adapters.fuzzy import lookup_plates
from registry_adapters.resilience import CircuitBreaker, Clock, RetryPolicy, Sleep, TokenBucket
from registry_adapters.service import MAX_PLATES, LookupAnswer
from safecity.errors import PermanentError

logger = logging.getLogger(__name__)

LOOKUP_PATH = "/v1/vehicles/lookup"


class RegistryRequestError(PermanentError):
    """The registry rejected our request as malformed (a bug on our side, not an outage)."""


class HttpRegistryAdapter:
    """Looks vehicles up through the registry service.

    Args:
        base_url: e.g. ``"http://127.0.0.1:8081"``.
        api_key: sent as ``X-API-Key``.
        recorder: where every access is recorded (before the request goes out).
        timeout_s: connect/read/write timeout of one request, seconds.
        retry: attempts and backoff.
        rate_per_s, burst: our request quota towards the registry.
        breaker_failures, breaker_reset_s: circuit breaker settings.
        countries, max_substitutions: as for the SQL adapter.
        clock, sleep, jitter: injected time sources (tests pass fakes).
        transport: an httpx transport to use instead of the network (never needed with a real
            local server; kept for embedding).
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        recorder: AccessRecorder,
        timeout_s: float = 2.0,
        retry: RetryPolicy | None = None,
        rate_per_s: float = 50.0,
        burst: int = 20,
        breaker_failures: int = 5,
        breaker_reset_s: float = 30.0,
        countries: Sequence[str] | None = None,
        max_substitutions: int = 2,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        jitter: random.Random | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("api_key: expected a non-empty key")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s: expected > 0, got {timeout_s}")
        if not isinstance(recorder, AccessRecorder):
            raise ValueError(f"recorder: expected an AccessRecorder, got {type(recorder).__name__}")
        self.recorder = recorder
        self.retry = retry or RetryPolicy()
        self.breaker = CircuitBreaker(breaker_failures, breaker_reset_s, clock)
        self.bucket = TokenBucket(rate_per_s, burst, clock, sleep)
        self.countries = tuple(countries) if countries is not None else None
        self.max_substitutions = max_substitutions
        self._sleep = sleep
        self._jitter = jitter or random.Random()
        self._client = httpx.Client(
            base_url=base_url,
            timeout=httpx.Timeout(timeout_s),
            headers={"X-API-Key": api_key},
            transport=transport,
        )
        self.requests_sent = 0

    def _post_once(self, plates: Sequence[str], access: AccessContext) -> dict[str, VehicleRecord]:
        headers = {"X-Actor": access.actor, "X-Purpose": access.purpose}
        if access.case_id:
            headers["X-Case-Id"] = access.case_id
        self.requests_sent += 1
        response = self._client.post(LOOKUP_PATH, json={"plates": list(plates)}, headers=headers)
        if response.status_code in (401, 403):
            raise RegistryAuthError(f"registry refused the API key (HTTP {response.status_code})")
        if response.status_code == 422 or response.status_code == 400:
            raise RegistryRequestError(f"registry rejected the request (HTTP {response.status_code})")
        if response.status_code != 200:
            raise RegistryUnavailable(f"registry answered HTTP {response.status_code}")
        try:
            answer = LookupAnswer.model_validate_json(response.content)
            records = [r.to_record() for r in answer.records]
        except (ValidationError, ValueError) as exc:
            raise RegistryAnswerError(f"registry answer is not a valid lookup answer: {type(exc).__name__}") from exc
        asked = set(plates)
        if any(r.plate not in asked for r in records):
            raise RegistryAnswerError("registry answer holds plates that were not asked for")
        return {r.plate: r for r in records}

    def _post(self, plates: Sequence[str], access: AccessContext) -> dict[str, VehicleRecord]:
        """One batch with breaker, rate limit, timeout and retries."""
        last: Exception | None = None
        for attempt in range(1, self.retry.attempts + 1):
            self.breaker.before_call()
            self.bucket.acquire()
            try:
                records = self._post_once(plates, access)
            except (RegistryAuthError, RegistryRequestError):
                self.breaker.record_success()  # the registry is up; it is our request that is wrong
                raise
            except (httpx.TimeoutException, httpx.TransportError, RegistryUnavailable, RegistryAnswerError) as exc:
                self.breaker.record_failure()
                last = exc
                logger.warning(
                    "registry call failed attempt=%d/%d error=%s", attempt, self.retry.attempts, type(exc).__name__
                )
                if attempt < self.retry.attempts:
                    self._sleep(self.retry.delay_s(attempt, self._jitter.random()))
                continue
            self.breaker.record_success()
            return records
        if isinstance(last, RegistryAnswerError):
            raise RegistryAnswerError(
                f"registry answers stayed malformed after {self.retry.attempts} attempts: {last}"
            ) from last
        raise RegistryUnavailable(
            f"registry unavailable after {self.retry.attempts} attempts: {type(last).__name__}: {last}"
        ) from last

    def fetch(self, plates: Sequence[str], access: AccessContext) -> Mapping[str, VehicleRecord]:
        """Registered records among canonical ``plates`` (callers record the access)."""
        found: dict[str, VehicleRecord] = {}
        for start in range(0, len(plates), MAX_PLATES):
            found.update(self._post(plates[start : start + MAX_PLATES], access))
        return found

    def lookup(self, plate: str, access: AccessContext, fuzzy: bool = True) -> LookupResult:
        return self.lookup_many([plate], access, fuzzy)[0]

    def lookup_many(self, plates: Sequence[str], access: AccessContext, fuzzy: bool = True) -> list[LookupResult]:
        return lookup_plates(
            plates,
            access,
            self.recorder,
            lambda wanted: self.fetch(wanted, access),
            fuzzy=fuzzy,
            countries=self.countries,
            max_substitutions=self.max_substitutions,
        )

    def close(self) -> None:
        self._client.close()

"""The ``portal`` delivery adapter: posts a notice to the state-services portal API.

One :meth:`PortalAdapter.deliver` call tries up to ``attempts`` times with exponential backoff
on timeouts, connection errors, 408/429/5xx answers and malformed answers; each request carries
``Idempotency-Key: <notice id>``, so a retry after a lost answer cannot deliver twice. What still
fails raises :class:`~notices.errors.DeliveryTransientError` and the notice stays pending for
the next delivery run; a 4xx refusal raises :class:`~notices.errors.DeliveryPermanentError`.
Logs name the notice id and the status, never the plate.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import os
import random
import time
from collections.abc import Callable

import httpx

from notices.delivery import DeliveryReceipt, OutgoingNotice
from notices.errors import DeliveryPermanentError, DeliveryTransientError
from registry_adapters.resilience import RetryPolicy

logger = logging.getLogger(__name__)

NOTICES_PATH = "/v1/notices"
_TRANSIENT_STATUS = {408, 425, 429}


class PortalAdapter:
    """Delivers notices to the portal at ``base_url``.

    Args:
        base_url: e.g. ``"https://portal.example/api"``.
        api_key: sent as ``X-API-Key``.
        timeout_s: connect/read/write timeout of one request, seconds.
        retry: tries and backoff within one delivery.
        sleep, jitter, clock: injected waits, randomness and UTC clock.
        transport: an httpx transport instead of the network (embedding only).
    """

    name = "portal"

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_s: float = 5.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: random.Random | None = None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc),
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"portal base_url {base_url!r}: expected an http(s) URL")
        if not api_key:
            raise ValueError("portal api_key: expected a non-empty key (set it in the configured environment variable)")
        if timeout_s <= 0:
            raise ValueError(f"portal timeout_s: expected > 0, got {timeout_s}")
        self.base_url = base_url.rstrip("/")
        self._key = api_key
        self._timeout = httpx.Timeout(timeout_s)
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._jitter = jitter or random.Random()
        self._clock = clock
        self._transport = transport

    @classmethod
    def from_settings(cls, settings, *, home_dir, **options) -> "PortalAdapter":  # noqa: ANN001
        from notices.config import NoticeSettings

        p = (settings or NoticeSettings()).delivery.portal
        key = options.pop("api_key", None) or os.environ.get(p.api_key_env, "")
        if not key:
            raise ValueError(f"portal adapter: no API key; set the environment variable {p.api_key_env}")
        return cls(
            options.pop("base_url", None) or p.base_url, key, timeout_s=p.timeout_s,
            retry=RetryPolicy(p.attempts, p.base_delay_s, max(p.max_delay_s, p.base_delay_s)), **options,
        )

    def _body(self, n: OutgoingNotice) -> dict:
        return {
            "notice_id": n.notice_id, "number": n.number, "violation_id": n.violation_id, "plate": n.plate, "owner_ref": n.owner_ref,
            "payment_reference": n.payment_reference, "amount": n.amount, "discounted_amount": n.discounted_amount,
            "currency": n.currency, "discount_until": n.discount_until.isoformat(), "issued_at": n.issued_at.isoformat(),
            "pdf_sha256": n.pdf_sha256, "pdf_base64": base64.b64encode(n.pdf).decode("ascii"),
        }

    def _once(self, client: httpx.Client, notice: OutgoingNotice, body: dict) -> DeliveryReceipt:
        try:
            resp = client.post(
                self.base_url + NOTICES_PATH, json=body,
                headers={"Idempotency-Key": notice.notice_id, "X-API-Key": self._key},
            )
        except httpx.TimeoutException as exc:
            raise DeliveryTransientError(f"portal timeout: {type(exc).__name__}") from exc
        except httpx.TransportError as exc:
            raise DeliveryTransientError(f"portal unreachable: {type(exc).__name__}") from exc
        if resp.status_code >= 500 or resp.status_code in _TRANSIENT_STATUS:
            raise DeliveryTransientError(f"portal answered HTTP {resp.status_code}")
        if resp.status_code >= 400:
            raise DeliveryPermanentError(f"portal refused notice {notice.number}: HTTP {resp.status_code} {_detail(resp)}")
        try:
            doc = resp.json()
            receipt_id, nid, sha = doc["receipt_id"], doc["notice_id"], doc["pdf_sha256"]
        except (ValueError, KeyError, TypeError) as exc:
            # we cannot tell whether the portal kept it: retrying is safe under the idempotency key
            raise DeliveryTransientError(f"portal answer HTTP {resp.status_code} is malformed (expected receipt_id, notice_id, pdf_sha256)") from exc
        if not isinstance(receipt_id, str) or not receipt_id or nid != notice.notice_id or sha != notice.pdf_sha256:
            raise DeliveryTransientError("portal receipt does not match the notice sent (id or PDF digest)")
        return DeliveryReceipt(self.name, receipt_id, self._clock())

    def deliver(self, notice: OutgoingNotice) -> DeliveryReceipt:
        body = self._body(notice)
        last: DeliveryTransientError | None = None
        with httpx.Client(timeout=self._timeout, transport=self._transport) as client:
            for attempt in range(1, self._retry.attempts + 1):
                try:
                    return self._once(client, notice, body)
                except DeliveryTransientError as exc:
                    last = exc
                    logger.warning("portal delivery failed notice_id=%s attempt=%d error=%s", notice.notice_id, attempt, exc)
                    if attempt < self._retry.attempts:
                        self._sleep(self._retry.delay_s(attempt, self._jitter.random()))
        raise last if last is not None else DeliveryTransientError("portal: no attempt made")


def _detail(resp: httpx.Response) -> str:
    try:
        detail = resp.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    return str(detail)[:200] if detail else ""

"""Controller phase messages over HTTP: a small receiver (the controller POSTs) or a poll client.

Receiver: ``POST /events`` with a JSON object ``{"t": "...Z", "state": "red", "kind"?,
"seq"?}`` or a list of them; answers 200 ``{"accepted": n, "rejected": m}``, 400 naming the
bad item, 413 above ``MAX_BODY`` bytes. ``GET /health`` answers the feed counters.

Poll client: ``GET <poll_url>?after_seq=<last seq>`` every ``poll_every_s``; the controller
answers a JSON list of events (same fields). A failed poll is logged and retried; while it
fails the feed goes silent and lookups turn ``unknown`` after ``max_silence_s``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from pipeline.config import SignalConfig
from pipeline.signal_sources.controller_udp import split_host_port
from pipeline.signal_sources.events import PhaseEvent, event_from_fields
from pipeline.signal_sources.feed import FeedSignalSource
from pipeline.signal_sources.history import PhaseHistory
from pipeline.signal_sources.log_file import history_from_config, read_events

log = logging.getLogger(__name__)

MAX_BODY = 256 * 1024


def parse_events_json(body: bytes, received_utc: float) -> list[PhaseEvent]:
    """A JSON object or list of objects -> events stamped with ``received_utc``.

    Raises:
        ValueError: not JSON, or an item that is not a valid event (naming its index).
    """
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"body is not JSON: {exc}") from exc
    items = doc if isinstance(doc, list) else [doc]
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise ValueError(f"item {i}: expected an object with t and state")
        try:
            event = event_from_fields(item)
        except ValueError as exc:
            raise ValueError(f"item {i}: {exc}") from exc
        out.append(event if event.received_utc is not None else replace(event, received_utc=received_utc))
    return out


class HttpSignalSource(FeedSignalSource):
    """Receives (``listen``) or polls (``poll_url``) controller events over HTTP in a thread."""

    name = "controller_http"

    def __init__(
        self, history: PhaseHistory, origin_utc: dt.datetime, *, listen: str | None = None, poll_url: str | None = None,
        poll_every_s: float = 1.0, clock_offset_s: float = 0.0, record_path: Path | None = None,
    ) -> None:
        super().__init__(history, origin_utc, clock_offset_s, record_path)
        if (listen is None) == (poll_url is None):
            raise ValueError("controller_http needs exactly one of listen (receiver) or poll_url (client)")
        self._stop = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self.address: tuple[str, int] | None = None
        self.poll_failures = 0
        if listen is not None:
            host, port = split_host_port(listen)
            try:
                self._server = ThreadingHTTPServer((host, port), _handler_for(self))
            except OSError as exc:
                raise ValueError(f"cannot bind HTTP {listen}: {exc}") from exc
            self.address = self._server.server_address[:2]
            self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
            log.info("signal HTTP receiver listening address=%s:%d", *self.address)
        else:
            self._poll_url = str(poll_url)
            self._poll_every = poll_every_s
            self._last_seq: int | None = None
            self._thread = threading.Thread(target=self._poll_loop, daemon=True)
        self._thread.start()

    @classmethod
    def from_config(cls, config: SignalConfig, origin_utc: dt.datetime) -> "HttpSignalSource":
        feed = config.feed
        if feed is None:
            raise ValueError("signal.feed is required for the controller_http source")
        history = history_from_config(feed)
        record = Path(feed.path) if feed.path else None
        if record is not None and record.exists():
            for event in read_events(record):
                history.add(event)
        return cls(
            history, origin_utc, listen=feed.listen if not feed.poll_url else None, poll_url=feed.poll_url,
            poll_every_s=feed.poll_every_s, clock_offset_s=feed.clock_offset_s, record_path=record,
        )

    def poll_once(self, timeout_s: float = 5.0) -> int:
        """One poll of ``poll_url``; returns the number of accepted events.

        Raises:
            ValueError: the answer is not a valid event list.
            OSError: the controller could not be reached (``urllib.error.URLError``).
        """
        url = self._poll_url
        if self._last_seq is not None:
            sep = "&" if urllib.parse.urlparse(url).query else "?"
            url = f"{url}{sep}after_seq={self._last_seq}"
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:  # noqa: S310 (configured URL)
            body = resp.read(MAX_BODY + 1)
        if len(body) > MAX_BODY:
            raise ValueError(f"poll answer larger than {MAX_BODY} bytes")
        events = parse_events_json(body, time.time())
        accepted = sum(self.receive(e) for e in events)
        seqs = [e.seq for e in events if e.seq is not None]
        if seqs:
            self._last_seq = max(seqs + ([self._last_seq] if self._last_seq is not None else []))
        return accepted

    def _poll_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except (OSError, ValueError) as exc:
                self.poll_failures += 1
                log.warning("signal HTTP poll failed url=%s failures=%d reason=%s", self._poll_url, self.poll_failures, str(exc)[:160])
            self._stop.wait(self._poll_every)

    def close(self) -> None:
        """Stop receiving or polling."""
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "HttpSignalSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _handler_for(source: HttpSignalSource) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, code: int, doc: dict) -> None:
            body = json.dumps(doc).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:  # noqa: N802 (http.server naming)
            if self.path.rstrip("/") != "/events":
                self._answer(404, {"error": f"unknown path {self.path[:80]!r}: POST /events"})
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if length < 0 or length > MAX_BODY:
                self._answer(413, {"error": f"Content-Length must be 0..{MAX_BODY}"})
                return
            received = time.time()
            try:
                events = parse_events_json(self.rfile.read(length), received)
            except ValueError as exc:
                self._answer(400, {"error": str(exc)})
                return
            accepted = sum(source.receive(e) for e in events)
            self._answer(200, {"accepted": accepted, "rejected": len(events) - accepted})

        def do_GET(self) -> None:  # noqa: N802
            if self.path.rstrip("/") != "/health":
                self._answer(404, {"error": f"unknown path {self.path[:80]!r}: GET /health"})
                return
            self._answer(200, {"events": len(source.history), **asdict(source.history.stats)})

        def log_message(self, format: str, *args: object) -> None:  # route to logging, not stderr
            log.debug("signal HTTP %s", format % args)

    return Handler

"""A UDP receiver for controller phase messages: one datagram = one line of the line format."""

from __future__ import annotations

import datetime as dt
import logging
import socket
import threading
import time
from dataclasses import replace
from pathlib import Path

from pipeline.config import SignalConfig
from pipeline.signal_sources.events import parse_line
from pipeline.signal_sources.feed import FeedSignalSource
from pipeline.signal_sources.history import PhaseHistory
from pipeline.signal_sources.log_file import history_from_config, read_events

log = logging.getLogger(__name__)

MAX_DATAGRAM = 2048


def split_host_port(text: str) -> tuple[str, int]:
    """``host:port`` -> (host, port), with a clear error."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"listen address {text!r}: expected host:port, e.g. 127.0.0.1:9400")
    return host, int(port)


class UdpSignalSource(FeedSignalSource):
    """Listens on a UDP socket in a background thread; every datagram is stamped on arrival.

    A malformed datagram is counted and logged (without its content beyond 80 chars) and
    dropped; it never stops the receiver. ``address`` is the bound (host, port) (port 0 in
    the config picks a free one).
    """

    name = "controller_udp"

    def __init__(
        self, history: PhaseHistory, origin_utc: dt.datetime, listen: str, clock_offset_s: float = 0.0,
        record_path: Path | None = None,
    ) -> None:
        super().__init__(history, origin_utc, clock_offset_s, record_path)
        host, port = split_host_port(listen)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._sock.bind((host, port))
        except OSError as exc:
            self._sock.close()
            raise ValueError(f"cannot bind UDP {listen}: {exc}") from exc
        self._sock.settimeout(0.2)
        self.address: tuple[str, int] = self._sock.getsockname()
        self.malformed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"signal-udp-{self.address[1]}", daemon=True)
        self._thread.start()
        log.info("signal UDP receiver listening address=%s:%d", *self.address)

    @classmethod
    def from_config(cls, config: SignalConfig, origin_utc: dt.datetime) -> "UdpSignalSource":
        feed = config.feed
        if feed is None or not feed.listen:
            raise ValueError("signal.feed.listen is required for the controller_udp source")
        history = history_from_config(feed)
        record = Path(feed.path) if feed.path else None
        if record is not None and record.exists():  # what was received before a restart
            for event in read_events(record):
                history.add(event)
        return cls(history, origin_utc, feed.listen, feed.clock_offset_s, record)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, _ = self._sock.recvfrom(MAX_DATAGRAM)
            except TimeoutError:
                continue
            except OSError:
                if self._stop.is_set():
                    return
                raise
            received = time.time()
            try:
                event = parse_line(data.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as exc:
                self.malformed += 1
                log.warning("signal UDP datagram dropped reason=%s", str(exc)[:120])
                continue
            if event is None:
                continue
            if event.received_utc is None:
                event = replace(event, received_utc=received)
            self.receive(event)

    def close(self) -> None:
        """Stop the receiver thread and close the socket."""
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()

    def __enter__(self) -> "UdpSignalSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

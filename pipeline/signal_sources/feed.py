"""The common part of controller-feed sources: a phase history placed on the video's time axis."""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from pathlib import Path

from pipeline.signal_sources.events import PhaseEvent, format_line
from pipeline.signal_sources.history import PhaseHistory
from pipeline.signals import PhaseInterval

log = logging.getLogger(__name__)


class FeedSignalSource:
    """A controller feed's history, looked up by seconds since frame 0.

    Args:
        history: the controller messages.
        origin_utc: UTC wall time of frame 0 (the camera's clock).
        clock_offset_s: controller clock minus camera clock, s (measured at installation);
            added to the camera time before the lookup.
        record_path: append every accepted message to this file in the line format, so a
            recorded video can later be processed against the same feed (``log_file``).
    """

    name = "controller_feed"

    def __init__(
        self, history: PhaseHistory, origin_utc: dt.datetime, clock_offset_s: float = 0.0, record_path: Path | None = None
    ) -> None:
        if origin_utc.tzinfo is None:
            raise ValueError("origin_utc must carry a time zone")
        self.history = history
        self._origin = origin_utc.timestamp()
        self._offset = clock_offset_s
        self._record = Path(record_path) if record_path else None
        self._record_lock = threading.Lock()
        self.record_failures = 0

    def receive(self, event: PhaseEvent) -> bool:
        """Add one message (from a receiver thread); record it when accepted."""
        ok = self.history.add(event)
        if ok and self._record is not None:
            line = format_line(event) + "\n"
            with self._record_lock:
                try:
                    self._record.parent.mkdir(parents=True, exist_ok=True)
                    fd = os.open(self._record, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                    try:
                        os.write(fd, line.encode("utf-8"))
                    finally:
                        os.close(fd)
                except OSError as exc:  # keep receiving: the phase is in memory; operators must see this
                    self.record_failures += 1
                    log.error("signal feed recording failed path=%s failures=%d reason=%s", self._record, self.record_failures, exc)
        return ok

    def state_at(self, t_s: float) -> PhaseInterval:
        t_ctrl = self._origin + t_s + self._offset
        ph = self.history.state_at(t_ctrl)
        base = self._origin + self._offset
        return PhaseInterval(ph.state, ph.start_utc - base, ph.end_utc - base, self.name, ph.reason)

    def close(self) -> None:
        """Stop receiving (receivers override); a file feed has nothing to stop."""

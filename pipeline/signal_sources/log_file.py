"""A controller's phase log (or a receiver's recording) read from a file in the line format."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from pipeline.config import SignalConfig, SignalFeedConfig
from pipeline.signal_sources.events import PhaseEvent, parse_line
from pipeline.signal_sources.feed import FeedSignalSource
from pipeline.signal_sources.history import PhaseHistory
from safecity.errors import InputError

log = logging.getLogger(__name__)


def read_events(path: Path) -> list[PhaseEvent]:
    """Every event of a log file, in file order.

    Raises:
        InputError: the file is unreadable, or a line breaks the format (naming file and line).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the signal log: {exc}") from exc
    out: list[PhaseEvent] = []
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            event = parse_line(line)
        except ValueError as exc:
            raise InputError(f"{path}:{number}: {exc}") from exc
        if event is not None:
            out.append(event)
    return out


def history_from_config(feed: SignalFeedConfig) -> PhaseHistory:
    return PhaseHistory(feed.max_silence_s, feed.max_clock_skew_s, feed.max_events)


class LogFileSignalSource(FeedSignalSource):
    """Phases from a log file; lines may come in any order, duplicates (same seq) are dropped."""

    name = "log_file"

    @classmethod
    def from_config(cls, config: SignalConfig, origin_utc: dt.datetime) -> "LogFileSignalSource":
        feed = config.feed
        if feed is None or not feed.path:
            raise ValueError("signal.feed.path is required for the log_file source")
        return cls.from_file(Path(feed.path), origin_utc, history_from_config(feed), feed.clock_offset_s)

    @classmethod
    def from_file(
        cls, path: Path, origin_utc: dt.datetime, history: PhaseHistory | None = None, clock_offset_s: float = 0.0
    ) -> "LogFileSignalSource":
        history = history if history is not None else PhaseHistory()
        events = read_events(path)
        for event in events:
            history.add(event)
        log.info("signal log read path=%s events=%d accepted=%d", path, len(events), history.stats.accepted)
        return cls(history, origin_utc, clock_offset_s)

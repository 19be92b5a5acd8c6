"""Phase-change events from a traffic controller and their one-line text format.

The line format (log files, UDP datagrams, the receivers' own recording) is::

    <UTC time ISO 8601> <state> [key=value ...]

    2026-11-26T16:30:22.120Z red seq=1042 kind=change recv=2026-11-26T16:30:22.180Z

``state`` is one of green, amber, red, red_amber, off; ``kind`` is ``change`` (the default:
the phase started at that time) or ``status`` (a heartbeat repeating the state in force);
``seq`` an optional increasing sequence number (duplicates are dropped); ``recv`` when the
event reached us (written by the receivers, used for the clock-skew check). Blank lines and
lines starting with ``#`` are ignored. HTTP bodies carry the same fields as JSON.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

FEED_STATES = ("green", "amber", "red", "red_amber", "off")


@dataclass(frozen=True)
class PhaseEvent:
    """One message from the controller.

    Attributes:
        t_utc: controller time of the event, UTC seconds since the epoch.
        state: the phase from ``t_utc`` on.
        kind: ``change`` (a phase began) or ``status`` (heartbeat: still in ``state``).
        seq: the controller's sequence number, if it sends one.
        received_utc: our clock when it arrived, UTC epoch seconds (None for plain logs).
    """

    t_utc: float
    state: str
    kind: Literal["change", "status"] = "change"
    seq: int | None = None
    received_utc: float | None = None

    def __post_init__(self) -> None:
        if self.state not in FEED_STATES:
            raise ValueError(f"state {self.state!r}: expected one of {', '.join(FEED_STATES)}")
        if self.kind not in ("change", "status"):
            raise ValueError(f"kind {self.kind!r}: expected change or status")


def parse_utc(text: str) -> float:
    """ISO 8601 time with a zone (``Z`` or ``+hh:mm``) -> UTC epoch seconds."""
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"time {text!r} is not ISO 8601") from exc
    if when.tzinfo is None:
        raise ValueError(f"time {text!r} carries no time zone (write ...Z for UTC)")
    return when.timestamp()


def format_utc(t_utc: float) -> str:
    """UTC epoch seconds -> ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
    return dt.datetime.fromtimestamp(t_utc, dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_line(line: str) -> PhaseEvent | None:
    """One text line -> an event; None for blank and ``#`` comment lines.

    Raises:
        ValueError: the line does not follow the format; the message says what is wrong.
    """
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    parts = text.split()
    if len(parts) < 2:
        raise ValueError(f"expected '<UTC time> <state> [key=value ...]', got {text[:80]!r}")
    fields: dict[str, str] = {}
    for token in parts[2:]:
        key, sep, value = token.partition("=")
        if not sep or not key:
            raise ValueError(f"expected key=value, got {token[:40]!r}")
        fields[key] = value
    return event_from_fields({"t": parts[0], "state": parts[1], **fields})


def event_from_fields(doc: dict[str, Any]) -> PhaseEvent:
    """An event from a mapping ``{t, state, kind?, seq?, recv?}`` (a JSON body or a parsed line)."""
    unknown = set(doc) - {"t", "state", "kind", "seq", "recv"}
    if unknown:
        raise ValueError(f"unknown field(s) {sorted(unknown)}: expected t, state, kind, seq, recv")
    if "t" not in doc or "state" not in doc:
        raise ValueError("an event needs 't' (UTC time) and 'state'")
    seq = doc.get("seq")
    if seq is not None:
        try:
            seq = int(seq)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"seq {seq!r} is not an integer") from exc
    recv = doc.get("recv")
    return PhaseEvent(
        t_utc=parse_utc(str(doc["t"])),
        state=str(doc["state"]),
        kind=str(doc.get("kind", "change")),  # type: ignore[arg-type]
        seq=seq,
        received_utc=parse_utc(str(recv)) if recv is not None else None,
    )


def format_line(event: PhaseEvent) -> str:
    """The event as one line of the documented format (no newline)."""
    parts = [format_utc(event.t_utc), event.state]
    if event.kind != "change":
        parts.append(f"kind={event.kind}")
    if event.seq is not None:
        parts.append(f"seq={event.seq}")
    if event.received_utc is not None:
        parts.append(f"recv={format_utc(event.received_utc)}")
    return " ".join(parts)

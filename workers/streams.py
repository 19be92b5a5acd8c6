"""Live stream input: RTSP/HTTP reading through PyAV, reconnects with backoff, stream health.

``StreamReader.frames()`` yields decoded frames for as long as it is not stopped: when the
connection fails or stalls it waits (exponential backoff with full jitter, so a fleet of
workers does not hammer a camera that just came back all at once) and reconnects.

``StreamHealth`` is pure: it takes each frame's stream timestamp, arrival time and a small
grey thumbnail and answers alert events (frozen picture, timestamp gap, frame-rate drop).
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

log = logging.getLogger(__name__)

THUMB_SIZE = (64, 36)  # px: enough to see a changing scene, cheap to compare


class BackoffPolicy(BaseModel):
    """Reconnect delays: ``min(max_s, initial_s * factor**attempt)``, full jitter."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    initial_s: float = Field(0.5, gt=0, description="first delay, seconds")
    factor: float = Field(2.0, ge=1.0, description="growth per failed attempt")
    max_s: float = Field(30.0, gt=0, description="ceiling of one delay, seconds")
    jitter: float = Field(0.5, ge=0, le=1, description="share of the delay drawn at random (0 = none, 1 = full jitter)")


class Backoff:
    """Delay sequence of one reconnect series; ``reset()`` after a connection delivered frames."""

    def __init__(self, policy: BackoffPolicy, rng: random.Random | None = None) -> None:
        self.policy = policy
        self.attempt = 0
        self._rng = rng or random.Random()

    def next_delay_s(self) -> float:
        p = self.policy
        base = min(p.max_s, p.initial_s * p.factor**self.attempt)
        self.attempt += 1
        # Keep (1 - jitter) of the delay fixed, draw the rest: spreads reconnects of many
        # workers while keeping the growth visible.
        return base * (1.0 - p.jitter) + self._rng.uniform(0.0, base * p.jitter)

    def reset(self) -> None:
        self.attempt = 0


class HealthThresholds(BaseModel):
    """When a stream's picture or timing is bad enough to tell an operator."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    frozen_after_s: float = Field(5.0, gt=0, description="identical pictures for this long = frozen, seconds")
    # Measured on the thumbnail: the generated scenes' sensor noise gives 0.04 (min), 0.08
    # (5th percentile), 0.33 (median) between consecutive frames; a frozen picture through
    # x264 gives 0.02-0.04 while the encoder refines it, then 0.00. The timer needs every
    # frame for frozen_after_s under the bound, so lone quiet frames of a live scene never add up.
    frozen_max_diff: float = Field(0.1, ge=0, description="mean absolute grey difference (0-255) on a 64x36 thumbnail under which two frames count as identical")
    gap_s: float = Field(1.0, gt=0, description="a jump of stream timestamps or of arrival times longer than this is a gap, seconds")
    fps_window_s: float = Field(5.0, gt=0, description="window over which the arrival frame rate is measured, seconds")
    min_fps_ratio: float = Field(0.5, gt=0, le=1, description="alert when the measured rate falls below this share of the nominal rate")


@dataclass(frozen=True)
class HealthEvent:
    """An operator alert about a stream: ``state`` is "raised" or "cleared"."""

    kind: str  # frozen | timestamp_gap | fps_drop | disconnected
    state: str
    message: str
    details: dict = field(default_factory=dict)


def thumbnail(image: np.ndarray) -> np.ndarray:
    """Small grey float32 version of a BGR frame (64x36) for freeze detection."""
    import cv2

    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return cv2.resize(grey, THUMB_SIZE, interpolation=cv2.INTER_AREA).astype(np.float32)


class StreamHealth:
    """Watches one stream's frames; pure (times are passed in).

    Args:
        thresholds: alert thresholds.
        nominal_fps: the stream's stated frame rate (None: no frame-rate alerts).
    """

    def __init__(self, thresholds: HealthThresholds, nominal_fps: float | None) -> None:
        self.t = thresholds
        self.nominal_fps = nominal_fps if nominal_fps and nominal_fps > 0 else None
        self._last_pts: float | None = None
        self._last_arrival: float | None = None
        self._last_thumb: np.ndarray | None = None
        self._same_since: float | None = None
        self._arrivals: deque[float] = deque()
        self._window_start: float | None = None
        self.frozen = False
        self.fps_low = False

    def reset_connection(self) -> None:
        """A new connection starts: stream timestamps restart, arrival history is stale."""
        self._last_pts = None
        self._last_arrival = None
        self._arrivals.clear()
        self._window_start = None
        self._same_since = None  # stream time restarts with the connection

    def measured_fps(self) -> float:
        if len(self._arrivals) < 2:
            return 0.0
        span = self._arrivals[-1] - self._arrivals[0]
        return (len(self._arrivals) - 1) / span if span > 0 else 0.0

    def observe(self, pts_s: float | None, arrival_s: float, thumb: np.ndarray) -> list[HealthEvent]:
        """One frame: stream time (s, may be None), arrival time (monotonic s), thumbnail."""
        events: list[HealthEvent] = []
        t = self.t
        # Timestamp gaps: the stream's own clock jumped, or frames stopped arriving a while.
        if self._last_pts is not None and pts_s is not None:
            d = pts_s - self._last_pts
            if d > t.gap_s or d < 0:
                what = "went backwards" if d < 0 else "jumped"
                events.append(HealthEvent("timestamp_gap", "raised", f"stream timestamp {what} by {d:.2f} s", {"stream_gap_s": round(d, 3)}))
        if self._last_arrival is not None:
            d = arrival_s - self._last_arrival
            if d > t.gap_s:
                events.append(HealthEvent("timestamp_gap", "raised", f"no frame arrived for {d:.2f} s", {"arrival_gap_s": round(d, 3)}))
        if pts_s is not None:
            self._last_pts = pts_s
        self._last_arrival = arrival_s

        # Frozen picture: every frame for frozen_after_s is (almost) identical to the last.
        # Timed on the stream clock when there is one: frames read in a burst (start-up,
        # catching up) arrive together although they span seconds.
        now = pts_s if pts_s is not None else arrival_s
        if self._last_thumb is not None and self._last_thumb.shape == thumb.shape:
            diff = float(np.mean(np.abs(thumb - self._last_thumb)))
            if diff <= t.frozen_max_diff:
                if self._same_since is None:
                    self._same_since = now
                held = now - self._same_since
                if not self.frozen and held >= t.frozen_after_s:
                    self.frozen = True
                    events.append(HealthEvent("frozen", "raised", f"picture unchanged for {held:.1f} s", {"frozen_s": round(held, 2)}))
            else:
                if self.frozen:
                    held = now - (self._same_since if self._same_since is not None else now)
                    events.append(HealthEvent("frozen", "cleared", "picture changes again", {"frozen_s": round(held, 2)}))
                self.frozen = False
                self._same_since = None
        self._last_thumb = thumb

        # Frame rate over the window, judged only once a full window has been seen.
        self._arrivals.append(arrival_s)
        if self._window_start is None:
            self._window_start = arrival_s
        while self._arrivals and arrival_s - self._arrivals[0] > t.fps_window_s:
            self._arrivals.popleft()
        if self.nominal_fps and arrival_s - self._window_start >= t.fps_window_s:
            fps = self.measured_fps()
            low = fps < t.min_fps_ratio * self.nominal_fps
            if low and not self.fps_low:
                events.append(HealthEvent("fps_drop", "raised", f"frame rate {fps:.1f} fps, nominal {self.nominal_fps:.1f}", {"fps": round(fps, 2), "nominal_fps": self.nominal_fps}))
            elif not low and self.fps_low:
                events.append(HealthEvent("fps_drop", "cleared", f"frame rate back to {fps:.1f} fps", {"fps": round(fps, 2), "nominal_fps": self.nominal_fps}))
            self.fps_low = low
        return events


@dataclass(frozen=True)
class LiveFrame:
    """A frame from a live stream.

    Attributes:
        index: frames since the reader started (continues across reconnects).
        pts_s: the stream's presentation time, seconds (None when the stream gives none).
        utc: capture time (UTC): arrival of the connection's first frame plus the stream-clock
            time since it (arrival time when the stream has no timestamps).
        arrival_s: monotonic arrival time, seconds.
        image: BGR uint8 (H, W, 3).
        connection: reconnect count: frames of one connection share it.
    """

    index: int
    pts_s: float | None
    utc: dt.datetime
    arrival_s: float
    image: np.ndarray
    connection: int


class StreamReader:
    """Reads a stream, reconnecting with backoff until ``stop()``.

    Args:
        url: rtsp://, http(s)://, tcp://, udp://, srt:// or a file path (files end the stream).
        backoff: reconnect policy.
        open_timeout_s: connect timeout; read_timeout_s: a read stalled this long counts as a
            disconnect.
        rtsp_transport: "tcp" (default), "udp" or "auto" (FFmpeg tries UDP, then TCP).
        on_event: called with (event name, details): "connected", "disconnected", "retry".
    """

    def __init__(
        self,
        url: str,
        backoff: BackoffPolicy | None = None,
        open_timeout_s: float = 5.0,
        read_timeout_s: float = 5.0,
        on_event: Callable[[str, dict], None] | None = None,
        rng: random.Random | None = None,
        rtsp_transport: str = "tcp",
    ) -> None:
        if rtsp_transport not in ("tcp", "udp", "auto"):
            raise ValueError(f"rtsp_transport {rtsp_transport!r}: expected tcp, udp or auto")
        self.url = url
        self.backoff = Backoff(backoff or BackoffPolicy(), rng)
        self.open_timeout_s = open_timeout_s
        self.read_timeout_s = read_timeout_s
        self.on_event = on_event or (lambda name, details: None)
        self.rtsp_transport = rtsp_transport
        self._stop = threading.Event()
        self.nominal_fps: float | None = None
        self.connections = 0
        self.reconnects = 0

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def _options(self) -> dict[str, str]:
        if self.url.startswith(("rtsp://", "rtsps://")):
            # TCP (interleaved) survives lossy networks without broken frames; "auto" lets
            # FFmpeg try UDP first, for servers that speak only RTP over UDP.
            if self.rtsp_transport == "auto":
                return {}
            opts = {"rtsp_transport": self.rtsp_transport}
            if self.rtsp_transport == "udp":
                opts["buffer_size"] = str(8 << 20)  # socket buffer: a 720p key frame is many datagrams
            return opts
        return {}

    def _one_connection(self, start_index: int) -> Iterator[LiveFrame]:
        import av

        container = av.open(self.url, options=self._options(), timeout=(self.open_timeout_s, self.read_timeout_s))
        try:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            rate = stream.average_rate or stream.guessed_rate
            self.nominal_fps = float(rate) if rate else None
            self.connections += 1
            self.on_event("connected", {"nominal_fps": self.nominal_fps, "width": stream.codec_context.width, "height": stream.codec_context.height})
            index = start_index
            anchor: tuple[dt.datetime, float] | None = None  # (UTC, stream time) of the first frame
            for frame in container.decode(stream):
                if self._stop.is_set():
                    return
                arrival = time.monotonic()
                now = dt.datetime.now(dt.timezone.utc)
                pts = float(frame.time) if frame.time is not None else None
                # Frame times follow the stream's clock from the connection's first frame, so a
                # reader that falls behind (or reads a burst) does not shift them; the arrival
                # clock is used when the stream gives no timestamps or they jump backwards.
                if pts is not None and anchor is not None and pts >= anchor[1]:
                    utc = anchor[0] + dt.timedelta(seconds=pts - anchor[1])
                else:
                    utc = now
                    if pts is not None:
                        anchor = (now, pts)
                yield LiveFrame(index, pts, utc, arrival, frame.to_ndarray(format="bgr24"), self.connections)
                index += 1
        finally:
            container.close()

    def frames(self) -> Iterator[LiveFrame]:
        """Frames until stopped; reconnects after errors and after the stream ends."""
        index = 0
        while not self._stop.is_set():
            got = 0
            error: str | None = None
            try:
                for f in self._one_connection(index):
                    got += 1
                    if got == 1:
                        self.backoff.reset()
                    index = f.index + 1
                    yield f
            except Exception as exc:  # any demuxer/network failure ends this connection only
                error = f"{type(exc).__name__}: {exc}"
            if self._stop.is_set():
                return
            self.on_event("disconnected", {"error": error or "stream ended", "frames": got})
            delay = self.backoff.next_delay_s()
            self.reconnects += 1
            self.on_event("retry", {"delay_s": round(delay, 3), "attempt": self.backoff.attempt})
            log.info("stream reconnect url_scheme=%s attempt=%d delay_s=%.2f error=%s", self.url.split(":", 1)[0], self.backoff.attempt, delay, error or "ended")
            if self._stop.wait(delay):
                return

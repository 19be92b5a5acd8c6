"""The stream reader against real local streams served by ffmpeg over HTTP (MPEG-TS)."""

from __future__ import annotations

import threading
import time

import pytest
from tests.workers.live_helpers import HttpStream, free_port, need_ffmpeg, pattern_stream_args, wait_for

from workers.streams import BackoffPolicy, HealthThresholds, StreamHealth, StreamReader, thumbnail


class Collector:
    """Runs a reader (and a health monitor) on a thread; keeps frames' metadata and events."""

    def __init__(self, url: str, backoff: BackoffPolicy | None = None, thresholds: HealthThresholds | None = None) -> None:
        self.events: list[tuple[float, str, dict]] = []
        self.reader = StreamReader(url, backoff or BackoffPolicy(initial_s=0.2, factor=2, max_s=1.0, jitter=0.2), 3.0, 2.0,
                                   on_event=lambda n, d: self.events.append((time.monotonic(), n, d)))
        self.health = StreamHealth(thresholds or HealthThresholds(), None)
        self.frames: list[tuple[int, float | None, float, int]] = []  # index, pts, arrival, connection
        self.alerts: list = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        for f in self.reader.frames():
            if f.index == 0 or self.health.nominal_fps is None:
                self.health.nominal_fps = self.reader.nominal_fps
            if self.frames and f.connection != self.frames[-1][3]:
                self.health.reset_connection()
            self.alerts += self.health.observe(f.pts_s, f.arrival_s, thumbnail(f.image))
            self.frames.append((f.index, f.pts_s, f.arrival_s, f.connection))

    def __enter__(self) -> "Collector":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.reader.stop()
        self.thread.join(10)


@pytest.fixture(autouse=True)
def _ffmpeg():
    need_ffmpeg()


def test_reads_a_live_http_stream_at_its_rate():
    """A 25 fps stream is read at 25 fps (within 15 %) with the stated rate and no alerts."""
    inp, out = pattern_stream_args()
    server = HttpStream(free_port(), inp, out).start()
    try:
        with Collector(server.url) as c:
            assert wait_for(lambda: len(c.frames) > 10, 15)
            n0, t0 = len(c.frames), time.monotonic()
            time.sleep(4)
            fps = (len(c.frames) - n0) / (time.monotonic() - t0)
    finally:
        server.stop()
    print(f"\nlive http stream: nominal {c.reader.nominal_fps} fps, read {fps:.1f} fps")
    assert c.reader.nominal_fps == pytest.approx(25.0)
    assert fps == pytest.approx(25.0, rel=0.15)
    assert [a for a in c.alerts] == []


def test_frozen_picture_raises_and_clears_an_alert():
    """A stream whose picture stands still for 4 s raises "frozen" after 2 s and clears it when it moves again."""
    inp, out = pattern_stream_args(vf="loop=loop=100:size=1:start=75,setpts=N/25/TB")  # frames 75..175 repeat one picture
    server = HttpStream(free_port(), inp, out).start()
    try:
        with Collector(server.url, thresholds=HealthThresholds(frozen_after_s=2.0)) as c:
            assert wait_for(lambda: len(c.frames) > 230, 30)
    finally:
        server.stop()
    kinds = [(a.kind, a.state) for a in c.alerts]
    assert kinds == [("frozen", "raised"), ("frozen", "cleared")], kinds
    assert 3.5 <= c.alerts[1].details["frozen_s"] <= 4.5


def test_timestamp_jump_raises_a_gap_alert():
    """A 3 s jump of the stream's timestamps raises one timestamp_gap alert with the measured size."""
    inp, out = pattern_stream_args(vf="setpts=PTS+gte(N\\,50)*3/TB")
    server = HttpStream(free_port(), inp, out).start()
    try:
        with Collector(server.url) as c:
            assert wait_for(lambda: len(c.frames) > 80, 20)
    finally:
        server.stop()
    gaps = [a for a in c.alerts if a.kind == "timestamp_gap"]
    assert len(gaps) == 1, c.alerts
    assert gaps[0].details["stream_gap_s"] == pytest.approx(3.04, abs=0.05)


def test_reconnects_after_the_server_restarts():
    """When the stream server dies the reader reports it, retries with growing delays and resumes on the restarted server."""
    port = free_port()
    inp, out = pattern_stream_args()
    server = HttpStream(port, inp, out).start()
    with Collector(f"http://127.0.0.1:{port}/live.ts") as c:
        try:
            assert wait_for(lambda: len(c.frames) > 25, 15)
            killed = time.monotonic()
            server.stop()
            assert wait_for(lambda: sum(n == "retry" for _, n, _ in c.events) >= 3, 20), c.events  # down for a while
            server = HttpStream(port, inp, out).start()
            restarted = time.monotonic()
            assert wait_for(lambda: len([f for f in c.frames if f[3] >= 2]) > 25, 20)
        finally:
            server.stop()
    first_new = next(f for f in c.frames if f[3] >= 2)
    delays = [d["delay_s"] for _, n, d in c.events if n == "retry"]
    names = [n for _, n, _ in c.events]
    print(f"\nreconnect: retry delays {delays} s; frames resumed {first_new[2] - restarted:.2f} s after the server restart "
          f"({first_new[2] - killed:.2f} s after the kill)")
    assert names[0] == "connected" and "disconnected" in names and names.count("connected") >= 2
    assert delays[1] > delays[0] * 1.2 and max(delays) <= 1.0  # grows while the server is down, capped at max_s
    assert first_new[2] - restarted < 1.0 + 3.0  # the next try (<= max_s) plus connect time
    assert c.frames[-1][0] == len(c.frames) - 1  # indices continue across the reconnect


def test_unreachable_stream_keeps_retrying_until_stopped():
    """Nothing listening: no frame, only disconnect/retry events with growing delays; stop() ends the reader promptly."""
    with Collector(f"http://127.0.0.1:{free_port()}/none.ts", BackoffPolicy(initial_s=0.1, factor=2, max_s=0.8, jitter=0)) as c:
        assert wait_for(lambda: sum(n == "retry" for _, n, _ in c.events) >= 5, 20)
        stop_at = time.monotonic()
    assert time.monotonic() - stop_at < 3
    delays = [d["delay_s"] for _, n, d in c.events if n == "retry"]
    assert delays[:5] == [0.1, 0.2, 0.4, 0.8, 0.8]
    assert c.frames == []


def test_reads_an_rtsp_stream_from_a_real_rtsp_server():
    """An RTSP stream (rtsp-server-perl, RTP over UDP) is read at its stated 25 fps (within 20 %)."""
    from tests.workers.live_helpers import RtspServer

    inp, out = pattern_stream_args()
    server = RtspServer(inp, out).start()
    try:
        c = Collector(server.url)
        c.reader.rtsp_transport = "udp"
        with c:
            assert wait_for(lambda: len(c.frames) > 25, 20), c.events
            n0, t0 = len(c.frames), time.monotonic()
            time.sleep(4)
            fps = (len(c.frames) - n0) / (time.monotonic() - t0)
    finally:
        server.stop()
    print(f"\nrtsp stream: nominal {c.reader.nominal_fps} fps, read {fps:.1f} fps")
    assert c.reader.nominal_fps == pytest.approx(25.0)
    assert fps == pytest.approx(25.0, rel=0.2)

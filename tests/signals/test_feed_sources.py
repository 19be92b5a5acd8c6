"""Controller-feed signal sources: history rules, log file, UDP and HTTP with real sockets."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pipeline.config import SignalConfig
from pipeline.rules.red_light import PROHIBITING
from pipeline.signal_sources.controller_http import HttpSignalSource
from pipeline.signal_sources.controller_udp import UdpSignalSource
from pipeline.signal_sources.events import PhaseEvent, format_line, format_utc, parse_line
from pipeline.signal_sources.history import PhaseHistory
from pipeline.signal_sources.log_file import LogFileSignalSource
from pipeline.signals import build_signal_source
from safecity.errors import InputError

ORIGIN = dt.datetime(2026, 11, 26, 8, 0, 0, tzinfo=dt.timezone.utc)
T0 = ORIGIN.timestamp()


def ev(t_s: float, state: str, kind: str = "change", seq: int | None = None, recv: float | None = None) -> PhaseEvent:
    return PhaseEvent(T0 + t_s, state, kind, seq, None if recv is None else T0 + recv)  # type: ignore[arg-type]


def wait_for(cond, timeout_s: float = 3.0) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


# --- line format -------------------------------------------------------------------------


def test_line_round_trip():
    """A formatted event parses back to the same event."""
    e = ev(1.25, "red_amber", "status", 7, 1.3)
    assert parse_line(format_line(e)) == PhaseEvent(round(e.t_utc, 3), "red_amber", "status", 7, round(e.received_utc, 3))


@pytest.mark.parametrize(
    "line, problem",
    [
        ("2026-11-26T08:00:00Z", "expected '<UTC time> <state>"),
        ("2026-11-26T08:00:00Z blue", "state 'blue'"),
        ("2026-11-26T08:00:00 red", "no time zone"),
        ("yesterday red", "not ISO 8601"),
        ("2026-11-26T08:00:00Z red seq", "expected key=value"),
        ("2026-11-26T08:00:00Z red seq=x", "not an integer"),
        ("2026-11-26T08:00:00Z red colour=1", "unknown field"),
        ("2026-11-26T08:00:00Z red kind=maybe", "kind 'maybe'"),
    ],
)
def test_bad_lines_are_named(line, problem):
    """Each malformed line is refused with a message that says what is wrong."""
    with pytest.raises(ValueError, match=problem):
        parse_line(line)


# --- history ---------------------------------------------------------------------------


def test_lookup_bounds_and_silence():
    """States come with their bounds; a feed silent longer than max_silence_s is unknown."""
    h = PhaseHistory(max_silence_s=5.0)
    for e in (ev(0, "green"), ev(4, "green", "status"), ev(8, "amber"), ev(11, "red"), ev(14, "red", "status")):
        h.add(e)
    at = h.state_at(T0 + 6)
    assert (at.state, at.start_utc - T0, at.end_utc - T0) == ("green", 0, 8)
    assert h.state_at(T0 + 12).state == "red"
    assert h.state_at(T0 + 18.9).state == "red"  # last message at 14 + 5 s of trust
    silent = h.state_at(T0 + 19.1)
    assert (silent.state, silent.reason) == ("unknown", "feed_silent")
    assert h.state_at(T0 - 1).reason == "before_history"
    assert PhaseHistory().state_at(T0).reason == "no_history"


def test_gap_inside_history_is_unknown():
    """A hole in the middle of the history (feed down, then back) is unknown, not the old state."""
    h = PhaseHistory(max_silence_s=2.0)
    for e in (ev(0, "red"), ev(1.5, "red", "status"), ev(20, "red", "status")):
        h.add(e)
    assert h.state_at(T0 + 3).state == "red"
    assert h.state_at(T0 + 10).state == "unknown"
    assert h.state_at(T0 + 20.5).state == "red"
    assert h.state_at(T0 + 20.5).start_utc == T0 + 20  # the run before the hole does not count


def test_clock_skew_rejects_message_and_counts_it():
    """A message whose controller time is far from its receive time is not used."""
    h = PhaseHistory(max_silence_s=5.0, max_clock_skew_s=1.0)
    assert h.add(ev(0, "green", recv=0.2))
    assert not h.add(ev(3, "red", recv=7.5))  # 4.5 s late: controller clock behind ours
    assert h.stats.skew_rejected == 1 and h.stats.max_abs_skew_s == pytest.approx(4.5)
    assert h.state_at(T0 + 4).state == "green"
    assert h.state_at(T0 + 6).state == "unknown"


def test_out_of_order_duplicates_and_bound():
    """Late messages land in order, duplicate seq numbers are dropped, memory stays bounded."""
    h = PhaseHistory(max_silence_s=5.0, max_events=3)
    assert h.add(ev(0, "green", seq=1)) and h.add(ev(4, "amber", seq=3))
    assert h.add(ev(2, "green", "status", seq=2))
    assert not h.add(ev(2, "green", "status", seq=2))
    assert [round(e.t_utc - T0) for e in h.events()] == [0, 2, 4]
    assert h.add(ev(7, "red", seq=4))
    assert len(h) == 3 and h.stats.dropped_oldest == 1
    assert h.state_at(T0 + 1).reason == "before_history"  # what was dropped is not guessed
    assert h.state_at(T0 + 8).state == "red"


@pytest.mark.parametrize("kwargs, problem", [({"max_silence_s": 0}, "max_silence_s"), ({"max_events": 1}, "max_events")])
def test_history_options_checked(kwargs, problem):
    """Bad history options are refused, naming the option."""
    with pytest.raises(ValueError, match=problem):
        PhaseHistory(**kwargs)


def test_unknown_never_prohibits():
    """The red-light rules treat only red/red_amber as prohibiting; unknown is not."""
    assert "unknown" not in PROHIBITING


# --- log file ----------------------------------------------------------------------------


def signal_cfg(source: str, **feed) -> SignalConfig:
    return SignalConfig.model_validate({"source": source, "stop_line": "stop-1", "feed": feed})


def test_log_file_source(tmp_path):
    """A log file with comments and unordered lines gives phases on the video axis, with the clock offset."""
    log = tmp_path / "controller.log"
    log.write_text(
        "# controller C-17\n"
        f"{format_utc(T0 + 10)} amber seq=2\n"
        f"{format_utc(T0 + 0)} green seq=1\n\n"
        f"{format_utc(T0 + 13)} red seq=3\n"
        f"{format_utc(T0 + 16)} red kind=status seq=4\n",
        encoding="utf-8",
    )
    src = build_signal_source(signal_cfg("log_file", path=str(log), max_silence_s=11), ORIGIN)
    assert isinstance(src, LogFileSignalSource)
    ph = src.state_at(11.0)
    assert (ph.state, ph.start_s, ph.end_s, ph.source) == ("amber", 10.0, 13.0, "log_file")
    assert src.state_at(26.0).state == "red"  # 16 s + the configured 11 s of trust
    assert src.state_at(28.0).state == "unknown"
    shifted = build_signal_source(signal_cfg("log_file", path=str(log), max_silence_s=11, clock_offset_s=2.0), ORIGIN)
    assert shifted.state_at(11.0).state == "red"  # camera 11 s = controller 13 s


def test_log_file_bad_line_names_file_and_line(tmp_path):
    """A broken line stops the read with the file and line number."""
    log = tmp_path / "c.log"
    log.write_text(f"{format_utc(T0)} green\n{format_utc(T0 + 1)} purple\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"c\.log:2: state 'purple'"):
        LogFileSignalSource.from_file(log, ORIGIN)
    with pytest.raises(InputError, match="cannot read"):
        LogFileSignalSource.from_file(tmp_path / "missing.log", ORIGIN)


@pytest.mark.parametrize(
    "doc, problem",
    [
        ({"source": "log_fle", "stop_line": "s"}, "did you mean 'log_file'"),
        ({"source": "log_file", "stop_line": "s"}, "needs signal.feed.path"),
        ({"source": "plan", "stop_line": "s"}, "needs signal.plan"),
        ({"source": "controller_udp", "stop_line": "s", "feed": {}}, "needs signal.feed.listen"),
        ({"source": "vision", "stop_line": "s"}, "needs signal.head_px"),
        ({"source": "vision", "stop_line": "s", "head_px": [1, 1, 5, 9], "vision": {"allow_fines": True}}, "allow_fines_reason"),
    ],
)
def test_signal_config_errors(doc, problem):
    """Incomplete signal sections are refused with the missing piece named."""
    with pytest.raises(ValueError, match=problem):
        SignalConfig.model_validate(doc)


# --- UDP -------------------------------------------------------------------------------


def test_udp_receiver_real_socket(tmp_path):
    """Datagrams sent to the receiver's socket become phases; bad ones are counted and dropped; all accepted ones are recorded."""
    record = tmp_path / "rec.log"
    cfg = signal_cfg("controller_udp", listen="127.0.0.1:0", path=str(record), max_silence_s=30)
    origin = dt.datetime.now(dt.timezone.utc)
    src = build_signal_source(cfg, origin)
    try:
        assert isinstance(src, UdpSignalSource)
        now = time.time()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            tx.sendto(f"{format_utc(now - 1)} red seq=1".encode(), src.address)
            tx.sendto(b"not a phase", src.address)
            tx.sendto(f"{format_utc(now - 0.5)} red kind=status seq=2".encode(), src.address)
        wait_for(lambda: src.history.stats.accepted == 2 and src.malformed == 1)
        ph = src.state_at(now - origin.timestamp())
        assert (ph.state, ph.source) == ("red", "controller_udp")
    finally:
        src.close()
    lines = record.read_text().splitlines()
    assert len(lines) == 2 and all("recv=" in ln for ln in lines)
    # A restart reads what was recorded before.
    again = build_signal_source(cfg, origin)
    try:
        assert len(again.history) == 2
    finally:
        again.close()


def test_udp_skewed_controller_gives_unknown():
    """A controller whose clock is 10 s off is rejected, so the phase stays unknown."""
    cfg = signal_cfg("controller_udp", listen="127.0.0.1:0", max_clock_skew_s=2)
    origin = dt.datetime.now(dt.timezone.utc)
    with build_signal_source(cfg, origin) as src:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            tx.sendto(f"{format_utc(time.time() - 10)} red".encode(), src.address)
        wait_for(lambda: src.history.stats.skew_rejected == 1)
        assert src.state_at(time.time() - origin.timestamp()).state == "unknown"


# --- HTTP ------------------------------------------------------------------------------


def post(url: str, body: bytes) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_http_receiver_real_server():
    """The controller POSTs events; bad bodies get 400 naming the item; /health shows counters."""
    origin = dt.datetime.now(dt.timezone.utc)
    cfg = signal_cfg("controller_http", listen="127.0.0.1:0", max_silence_s=30)
    with build_signal_source(cfg, origin) as src:
        base = "http://%s:%d" % src.address
        now = time.time()
        code, doc = post(base + "/events", json.dumps([{"t": format_utc(now - 1.0), "state": "green", "seq": 1},
                                                       {"t": format_utc(now - 0.6), "state": "amber", "seq": 2}]).encode())
        assert (code, doc) == (200, {"accepted": 2, "rejected": 0})
        code, doc = post(base + "/events", json.dumps([{"t": format_utc(now), "state": "red"}, {"state": "red"}]).encode())
        assert code == 400 and doc["error"].startswith("item 1:")
        code, doc = post(base + "/events", b"{oops")
        assert code == 400 and "not JSON" in doc["error"]
        code, _ = post(base + "/nope", b"{}")
        assert code == 404
        with urllib.request.urlopen(base + "/health", timeout=5) as resp:
            assert json.loads(resp.read())["accepted"] == 2
        ph = src.state_at(now - 0.3 - origin.timestamp())
        assert (ph.state, ph.source) == ("amber", "controller_http")


def test_http_poll_client_real_server():
    """The poll client asks a real controller endpoint with after_seq and keeps what it gets."""
    now = time.time()
    events = [{"t": format_utc(now - 1.5 + 0.5 * i), "state": s, "seq": i + 1} for i, s in enumerate(["green", "amber", "red"])]
    seen: list[str] = []

    class Controller(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            seen.append(self.path)
            after = int(self.path.partition("after_seq=")[2] or 0)
            body = json.dumps([e for e in events if e["seq"] > after]).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Controller)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = dt.datetime.now(dt.timezone.utc)
    cfg = signal_cfg("controller_http", poll_url="http://127.0.0.1:%d/phases" % server.server_address[1], poll_every_s=0.1, max_silence_s=30)
    try:
        with build_signal_source(cfg, origin) as src:
            wait_for(lambda: len(seen) >= 2)
            assert src.history.stats.accepted == 3
            assert any("after_seq=3" in p for p in seen[1:])
            assert src.state_at(now - 0.2 - origin.timestamp()).state == "red"
    finally:
        server.shutdown()
        server.server_close()


def test_http_poll_unreachable_goes_unknown():
    """A controller that cannot be reached leaves the feed silent: unknown, never red."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    origin = dt.datetime.now(dt.timezone.utc)
    cfg = signal_cfg("controller_http", poll_url=f"http://127.0.0.1:{port}/phases", poll_every_s=0.1)
    with build_signal_source(cfg, origin) as src:
        wait_for(lambda: src.poll_failures >= 1)
        assert src.state_at(time.time() - origin.timestamp()).state == "unknown"


def test_recording_failure_keeps_receiving(tmp_path, caplog):
    """A record file that cannot be written is logged and counted; the message is still used."""
    from pipeline.signal_sources.feed import FeedSignalSource

    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    src = FeedSignalSource(PhaseHistory(max_silence_s=5), ORIGIN, record_path=blocker / "feed.log")
    assert src.receive(ev(0, "red"))
    assert src.record_failures == 1 and "signal feed recording failed" in caplog.text
    assert src.state_at(1.0).state == "red"

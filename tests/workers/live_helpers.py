"""Helpers for the live-camera tests: a private Redis key prefix and local ffmpeg streams."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

REDIS_URL = os.environ.get("SAFECITY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_client():
    """A client for the real local Redis, or skip when none answers."""
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc}")
    return client


def private_prefix() -> str:
    return f"test-live:{uuid.uuid4().hex[:10]}:"


def delete_prefix(client, prefix: str) -> None:
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def is_listening(port: int) -> bool:
    """True when a TCP socket listens on ``port`` (read from /proc, no connection made)."""
    want = f":{port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if parts[1].endswith(want) and parts[3] == "0A":
                return True
    return False


def need_ffmpeg() -> str:
    path = shutil.which("ffmpeg")
    if path is None:
        pytest.skip("ffmpeg not installed (apt-get install -y ffmpeg)")
    return path


class HttpStream:
    """ffmpeg serving one MPEG-TS stream over HTTP (``-listen 1``) at real-time pace.

    Args:
        port: TCP port.
        input_args: ffmpeg input arguments (a file or a lavfi source).
        output_args: encoding arguments before ``-f mpegts``.
    """

    def __init__(self, port: int, input_args: list[str], output_args: list[str] | None = None) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}/live.ts"
        self.cmd = [need_ffmpeg(), "-hide_banner", "-loglevel", "error", "-re", *input_args,
                    *(output_args or ["-c", "copy"]), "-f", "mpegts", "-listen", "1", self.url]
        self.proc: subprocess.Popen | None = None

    def start(self) -> "HttpStream":
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Wait for the listening socket without connecting (-listen 1 serves one client only).
        if not wait_for(lambda: is_listening(self.port) or self.proc.poll() is not None, 15) or self.proc.poll() is not None:
            raise RuntimeError(f"ffmpeg did not listen on {self.url}")
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=5)


def pattern_stream_args(size: str = "320x180", rate: int = 25, vf: str | None = None) -> tuple[list[str], list[str]]:
    """A moving lavfi test pattern (never two identical frames), H.264 encoded."""
    out = ["-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "25", "-pix_fmt", "yuv420p"]
    if vf:
        out = ["-vf", vf, *out]
    return ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}"], out


def wait_for(predicate, timeout_s: float, step_s: float = 0.05):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step_s)
    return predicate()


def write_file(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def register_camera(db_url: str, camera_id: str, url: str, config: Path, **kw) -> None:
    """Register a live camera in ``db_url`` (schema brought up to date first)."""
    from store.db import init_db, make_engine, session_factory
    from workers.live_models import add_camera

    engine = make_engine(db_url)
    try:
        init_db(engine)
        with session_factory(engine).begin() as session:
            add_camera(session, camera_id, url, str(config), **kw)
    finally:
        engine.dispose()


class WorkerThread:
    """A ``LiveWorker`` running in this process on a thread (stopped on exit)."""

    def __init__(self, worker) -> None:
        import threading

        self.worker = worker
        self.thread = threading.Thread(target=worker.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self.worker

    def __exit__(self, *exc) -> None:
        self.worker.stop()
        self.thread.join(90)


class RtspServer:
    """A real RTSP server (Debian ``rtsp-server-perl``) fed by ffmpeg (ANNOUNCE/RECORD).

    Players read ``url``; the server speaks RTP over UDP only.
    """

    def __init__(self, input_args: list[str], output_args: list[str]) -> None:
        self.exe = shutil.which("rtsp-server-perl")
        if self.exe is None:
            pytest.skip("rtsp-server-perl not installed (apt-get install -y rtsp-server-perl)")
        self.client_port, self.source_port = free_port(), free_port()
        self.url = f"rtsp://127.0.0.1:{self.client_port}/live"
        self.push = [need_ffmpeg(), "-hide_banner", "-loglevel", "error", "-re", *input_args, *output_args,
                     "-f", "rtsp", f"rtsp://127.0.0.1:{self.source_port}/live"]
        self.procs: list[subprocess.Popen] = []

    def start(self) -> "RtspServer":
        server = subprocess.Popen([self.exe, "-c", str(self.client_port), "-s", str(self.source_port), "--rtp_start_port", str(free_port())],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(server)
        if not wait_for(lambda: is_listening(self.source_port) and is_listening(self.client_port), 20):
            raise RuntimeError("rtsp-server-perl did not listen")
        self.procs.append(subprocess.Popen(self.push, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(1.0)  # ANNOUNCE/SETUP/RECORD before a player asks
        return self

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.kill()
                p.wait(timeout=5)

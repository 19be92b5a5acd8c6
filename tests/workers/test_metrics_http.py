"""The Prometheus endpoint of a live worker, scraped over HTTP while it reads a real stream."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.workers.live_helpers import (
    HttpStream, WorkerThread, delete_prefix, free_port, need_ffmpeg, pattern_stream_args, private_prefix, redis_client,
    register_camera, wait_for,
)
from workers.leases import lease_holders
from workers.live import LiveSettings, LiveWorker
from workers.metrics import LiveMetrics, serve_metrics


def _scrape(port: int) -> dict[tuple[str, tuple], float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


def test_metrics_endpoint_reports_frames_fps_and_lease(tmp_path):
    """While a worker holds a 25 fps camera, /metrics shows its frames, input fps (~25) and lease; after stop the lease gauge is 0."""
    need_ffmpeg()
    client = redis_client()
    prefix = private_prefix()
    db_url = f"sqlite:///{tmp_path / 'live.sqlite'}"
    inp, out = pattern_stream_args()
    server = HttpStream(free_port(), inp, out).start()
    config = tmp_path / "camera.yaml"
    config.write_text("# watch-only worker: never loaded\n")
    register_camera(db_url, "cam-m", server.url, config)
    settings = LiveSettings(
        redis_url="unused", db_url=db_url, key_prefix=prefix, worker_id="w-metrics", lease_ttl_s=2, scan_interval_s=0.5,
        spool_dir=tmp_path / "spool", out_dir=tmp_path / "out", pipeline=False,
    )
    metrics = LiveMetrics()
    httpd, _ = serve_metrics(metrics, 0, "127.0.0.1")
    port = httpd.server_port
    cam = (("camera_id", "cam-m"),)
    try:
        with WorkerThread(LiveWorker(settings, client, metrics)):
            # past the first 5 s fps window, which holds the start-up burst of buffered frames
            assert wait_for(lambda: _scrape(port).get(("safecity_frames_total", cam), 0) > 200, 40)
            samples = _scrape(port)
            assert samples[("safecity_lease_held", cam)] == 1
            assert samples[("safecity_lease_token", cam)] >= 1
            assert samples[("safecity_input_fps", cam)] == pytest.approx(25, rel=0.2)
            assert samples[("safecity_last_frame_timestamp_seconds", cam)] > 1.7e9
            assert lease_holders(client, prefix)["cam-m"].worker_id == "w-metrics"
        samples = _scrape(port)
        assert samples[("safecity_lease_held", cam)] == 0
        assert "cam-m" not in lease_holders(client, prefix)  # released on stop, not left to expire
    finally:
        httpd.shutdown()
        server.stop()
        delete_prefix(client, prefix)

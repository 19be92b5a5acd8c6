"""Prometheus metrics of a live worker (prometheus-client), on a registry of its own.

Each worker process builds one ``LiveMetrics`` and serves it with ``serve_metrics`` on its
``--metrics-port``; Prometheus scrapes ``http://host:port/metrics``. Labels are camera ids and
alert kinds, never plates or other personal data.
"""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

log = logging.getLogger(__name__)


class LiveMetrics:
    """The metric families of a live worker."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.frames = Counter("safecity_frames", "Frames read from the camera stream", ["camera_id"], registry=r)
        self.frames_processed = Counter("safecity_frames_processed", "Core frames of processed chunks (each stream frame counted once)", ["camera_id"], registry=r)
        self.input_fps = Gauge("safecity_input_fps", "Frames per second arriving from the stream", ["camera_id"], registry=r)
        self.processing_fps = Gauge("safecity_processing_fps", "Frames per second of the last processed chunk", ["camera_id"], registry=r)
        self.lag = Gauge("safecity_lag_seconds", "Wall time minus the capture time of the newest processed frame", ["camera_id"], registry=r)
        self.last_frame = Gauge("safecity_last_frame_timestamp_seconds", "UTC epoch seconds of the newest frame read", ["camera_id"], registry=r)
        self.detections = Counter("safecity_tracks", "Vehicle tracks found", ["camera_id"], registry=r)
        self.violations = Counter("safecity_violations", "Violations stored", ["camera_id", "type"], registry=r)
        self.alerts = Counter("safecity_alerts", "Operator alerts raised", ["camera_id", "kind"], registry=r)
        self.alert_active = Gauge("safecity_alert_active", "1 while an alert of this kind is raised", ["camera_id", "kind"], registry=r)
        self.reconnects = Counter("safecity_stream_reconnects", "Stream reconnect attempts", ["camera_id"], registry=r)
        self.lease_held = Gauge("safecity_lease_held", "1 while this worker holds the camera's lease", ["camera_id"], registry=r)
        self.lease_token = Gauge("safecity_lease_token", "Fencing token of the held lease", ["camera_id"], registry=r)
        self.lease_lost = Counter("safecity_lease_lost", "Leases lost before release (expired or taken)", ["camera_id"], registry=r)
        self.chunk_errors = Counter("safecity_chunk_errors", "Chunks whose processing failed (kept on disk)", ["camera_id"], registry=r)


def serve_metrics(metrics: LiveMetrics, port: int, addr: str = "0.0.0.0"):
    """Serve ``/metrics`` on a background thread; returns (server, thread)."""
    server, thread = start_http_server(port, addr=addr, registry=metrics.registry)
    log.info("metrics endpoint port=%d", server.server_port)
    return server, thread

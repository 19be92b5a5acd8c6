"""One held camera: read the stream, watch its health, record chunks, run the pipeline on them.

Two threads per camera so a slow detector never stalls the network read:

- the reader pulls frames (``workers/streams.py``), feeds ``StreamHealth`` (alerts), publishes
  the camera's status to Redis and writes the frames into overlapping chunk files (H.264, in
  the spool folder): ``chunk_s`` of core plus warm-up before and a tail after it;
- the processor runs the file pipeline (``pipeline.run.process_video``) on each finished chunk
  as a segment (it owns the vehicles born in its core, so a vehicle at a seam is counted once)
  with the camera config's ``start_time_utc`` set to the chunk's first frame, and stores the
  result with ``workers.fencing.store_fenced`` (violations + signed exchange-log entries, one
  transaction that commits only if the lease is still this worker's: the fencing check is
  made inside the transaction, after every write).

Every finished chunk gets a pending sidecar in the spool (``workers/spool.py``), replaced by a
done record when its result is stored. A runner that takes a camera first processes the
camera's pending chunks of earlier lease tokens (a killed or lease-less predecessor's), each
with its own recorded segment window, so they are stored exactly once.

A chunk whose processing fails stays on disk (pending) with an alert; a chunk with violations
stays as their source video; only a chunk processed cleanly without violations is removed
(unless ``keep_chunks``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from workers.alerts import AlertSink
from workers.leases import CameraLeases, Lease
from workers.live_models import LiveCamera, redact_url
from workers.metrics import LiveMetrics
from workers.streams import HealthEvent, StreamHealth, StreamReader, thumbnail

log = logging.getLogger(__name__)

STATUS_EVERY_S = 1.0


@dataclass(frozen=True)
class Chunk:
    """A recorded piece of a stream, ready for the pipeline.

    The file holds ``warm-up + core + tail`` frames; the pipeline processes it as a segment
    (``workers.segments.SegmentWindow``) whose core is ``[core_start, core_end)`` in the file's
    frame numbering: it owns the vehicles born in its core, and the tail lets it follow them out
    of view. Consecutive chunks' cores tile the connection's frames, so each vehicle is counted
    by exactly one chunk, seams included.
    """

    path: Path
    start_utc: dt.datetime  # arrival time of the file's first frame
    frames: int
    fps: float
    token: int
    seq: int  # chunk number within the connection
    core_start: int
    core_end: int
    plan: object  # workers.segments.SegmentPlan (frames)


class _OpenChunk:
    def __init__(self, writer, path: Path, start_utc: dt.datetime, seq: int, core_start: int, core_end: int, end: int) -> None:
        self.writer, self.path, self.start_utc, self.seq = writer, path, start_utc, seq
        self.core_start, self.core_end, self.end = core_start, core_end, end  # file frame numbers
        self.frames = 0


class ChunkRecorder:
    """Writes a stream into overlapping H.264 chunk files (warm-up + core + tail frames).

    Chunk ``k`` of a connection has the core frames ``[k*C, (k+1)*C)`` and its file spans
    ``[k*C - W, (k+1)*C + T)`` (C, W, T: core, warm-up and tail lengths in frames), so up to two
    files are open at a time. A new connection (reconnect) or frame size starts over at k = 0.
    """

    def __init__(self, folder: Path, camera_id: str, token: int, settings) -> None:
        self.folder = folder
        self.camera_id = camera_id
        self.token = token
        self.s = settings  # chunk_s, warmup_s, min_tail_s, max_tail_s, quiet_s
        self.plan = None  # workers.segments.SegmentPlan in frames, per connection (its fps)
        self._open: list[_OpenChunk] = []
        self._n = 0  # frames of this connection
        self._fps = 0.0
        self._size: tuple[int, int] | None = None
        self._connection = -1

    def add(self, frame, fps: float) -> list[Chunk]:
        """Write one frame; returns the chunks this frame completed."""
        size = (frame.image.shape[1], frame.image.shape[0])
        done: list[Chunk] = []
        if frame.connection != self._connection or size != self._size:
            from workers.segments import SegmentPlan

            done += self.close()
            self._n, self._fps, self._size, self._connection = 0, fps, size, frame.connection
            s = self.s
            self.plan = SegmentPlan.from_seconds(fps, s.chunk_s, s.warmup_s, s.min_tail_s, s.max_tail_s, s.quiet_s)
        c, w, t = self.plan.segment_frames, self.plan.warmup_frames, self.plan.max_tail_frames
        n = self._n
        k = (n + w) // c  # the chunk whose file starts here (its warm-up begins W before its core)
        if (n + w) % c == 0 or n == 0:
            if n == 0:
                k = 0
            if not any(o.seq == k for o in self._open):
                self._open.append(self._start(frame, k, n, c, w, t))
        for o in self._open:
            o.writer.write(frame.image)
            o.frames += 1
        self._n += 1
        for o in [o for o in self._open if o.frames >= o.end]:
            self._open.remove(o)
            done.append(self._finish(o))
        return done

    def _start(self, frame, k: int, n: int, c: int, w: int, t: int) -> _OpenChunk:
        from pipeline.encode import H264Writer

        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = frame.utc.strftime("%Y%m%dT%H%M%S.%f")[:-3]
        path = self.folder / f"{self.camera_id}-{stamp}Z-t{self.token}-c{self._connection}-k{k}.mp4"
        first = n  # connection frame number of the file's first frame
        core_start = k * c - first
        return _OpenChunk(H264Writer(path, self._fps, self._size), path, frame.utc, k, core_start, core_start + c, core_start + c + t)

    def _finish(self, o: _OpenChunk) -> Chunk:
        o.writer.close()
        return Chunk(o.path, o.start_utc, o.frames, self._fps, self.token, o.seq, o.core_start, min(o.core_end, o.frames), self.plan)

    @property
    def is_open(self) -> bool:
        return bool(self._open)

    def close(self) -> list[Chunk]:
        """Close every open file (end of connection or of the runner)."""
        done = [self._finish(o) for o in self._open]
        self._open = []
        return done


def chunk_config(config, chunk_start_utc: dt.datetime):
    """The camera config for one chunk: frame 0 is the chunk's first frame.

    A fixed-time signal plan's ``offset_s`` is the cycle position at the config's
    ``start_time_utc``; for a live camera that is a UTC anchor (set at installation), so the
    chunk's plan is shifted by the time from the anchor to the chunk's first frame.
    """
    update: dict = {"start_time_utc": chunk_start_utc}
    signal = config.signal
    if signal is not None and signal.plan is not None:
        plan = signal.plan
        cycle = sum(p.duration_s for p in plan.phases)
        elapsed = (chunk_start_utc - config.start_time_utc).total_seconds()
        plan = plan.model_copy(update={"offset_s": (plan.offset_s + elapsed) % cycle})
        update["signal"] = signal.model_copy(update={"plan": plan})
    return config.model_copy(update=update)


class CameraRunner:
    """Runs one camera while its lease is held; ``stop()`` ends both threads."""

    def __init__(self, camera: LiveCamera, lease: Lease, settings, redis, leases: CameraLeases, metrics: LiveMetrics, sessions) -> None:
        self.camera = camera
        self.lease = lease
        self.s = settings
        self.redis = redis
        self.leases = leases
        self.metrics = metrics
        self.sessions = sessions
        self.sink = AlertSink(settings.worker_id, metrics, sessions.begin, redis, settings.key_prefix)
        self.reader = StreamReader(camera.stream_url, settings.backoff, settings.open_timeout_s, settings.read_timeout_s, self._on_stream_event,
                                   rtsp_transport=settings.rtsp_transport)
        self.health = StreamHealth(settings.health, None)
        self.chunks: queue.Queue[Chunk | None] = queue.Queue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.status = {
            "camera_id": camera.id, "worker_id": settings.worker_id, "token": lease.token, "state": "connecting",
            "frames": 0, "input_fps": 0.0, "processing_fps": None, "lag_s": None, "last_frame_utc": None,
            "reconnects": 0, "chunks_done": 0, "chunks_failed": 0, "backlog": 0, "violations": 0,
            "last_error": None, "active_alerts": [], "updated_at": None, "connection": None, "connected_since_utc": None,
            "truncated_tracks": 0,
        }
        self._backlog_alert = False
        self.recorder: ChunkRecorder | None = None
        self._recording = settings.pipeline  # off when the pipeline cannot start: no chunks nobody will process

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        log.info("camera runner start camera_id=%s worker_id=%s token=%d url=%s", self.camera.id, self.s.worker_id, self.lease.token, redact_url(self.camera.stream_url))
        if self.s.pipeline:
            self._queue_leftovers()
        self._threads = [threading.Thread(target=self._read_loop, name=f"read-{self.camera.id}", daemon=True)]
        if self.s.pipeline:
            self._threads.append(threading.Thread(target=self._process_loop, name=f"proc-{self.camera.id}", daemon=True))
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        self.reader.stop()

    def alive(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def join(self, timeout_s: float | None = None) -> None:
        for t in self._threads:
            t.join(timeout_s)

    # -- reader ----------------------------------------------------------------------------

    def _emit(self, event: HealthEvent) -> None:
        active = set(self.status["active_alerts"])
        if event.kind != "timestamp_gap":
            (active.add if event.state == "raised" else active.discard)(event.kind)
        self.status["active_alerts"] = sorted(active)
        self.sink.emit(self.camera.id, event)

    def _on_stream_event(self, name: str, details: dict) -> None:
        if name == "connected":
            self.health.reset_connection()
            self.health.nominal_fps = details.get("nominal_fps")
            self.status["state"] = "streaming"
            if "disconnected" in self.status["active_alerts"]:
                self._emit(HealthEvent("disconnected", "cleared", "stream connected again", details))
        elif name == "disconnected":
            # The chunk ends with the connection: its frames go to the pipeline now, not
            # whenever the camera comes back.
            for done in self.recorder.close() if self.recorder is not None else []:
                self._enqueue(done)
            self.status["state"] = "reconnecting"
            self.status["last_error"] = details.get("error")
            if "disconnected" not in self.status["active_alerts"]:
                self._emit(HealthEvent("disconnected", "raised", f"stream lost: {details.get('error')}", details))
        elif name == "retry":
            self.status["reconnects"] += 1
            self.metrics.reconnects.labels(self.camera.id).inc()
        self._publish_status()

    def _read_loop(self) -> None:
        self.recorder = recorder = ChunkRecorder(Path(self.s.spool_dir) / self.camera.id, self.camera.id, self.lease.token, self.s)
        last_status = 0.0
        try:
            for f in self.reader.frames():
                if self._stop.is_set():
                    break
                self.status["frames"] += 1
                self.metrics.frames.labels(self.camera.id).inc()
                self.metrics.last_frame.labels(self.camera.id).set(f.utc.timestamp())
                self.status["last_frame_utc"] = f.utc.isoformat(timespec="milliseconds")
                if f.connection != self.status.get("connection"):
                    # The connection's time anchor: its frames' times count from this one.
                    self.status["connection"] = f.connection
                    self.status["connected_since_utc"] = f.utc.isoformat(timespec="microseconds")
                for event in self.health.observe(f.pts_s, f.arrival_s, thumbnail(f.image)):
                    self._emit(event)
                if self._recording:
                    for done in recorder.add(f, self.health.nominal_fps or 25.0):
                        self._enqueue(done)
                elif recorder.is_open:
                    # The pipeline could not start: finish the files already begun (kept in the
                    # spool as recorded video) and record no more.
                    kept = recorder.close()
                    log.warning("recording stopped, pipeline unavailable camera_id=%s kept=%s", self.camera.id, [c.path.name for c in kept])
                if f.arrival_s - last_status >= STATUS_EVERY_S:
                    last_status = f.arrival_s
                    fps = self.health.measured_fps()
                    self.status["input_fps"] = round(fps, 2)
                    self.metrics.input_fps.labels(self.camera.id).set(fps)
                    self._publish_status()
        except Exception:
            log.exception("camera reader failed camera_id=%s", self.camera.id)
        finally:
            for done in recorder.close():
                self._enqueue(done)
            self.chunks.put(None)
            self.status["state"] = "stopped"
            self._publish_status()

    def _queue_leftovers(self) -> None:
        """Queue the camera's chunks that an earlier holder recorded but never stored, oldest first."""
        from workers.spool import leftover_chunks

        try:
            leftovers = leftover_chunks(Path(self.s.spool_dir) / self.camera.id, self.lease.token)
        except OSError:
            log.exception("spool not readable, leftover chunks not queued camera_id=%s", self.camera.id)
            return
        for chunk in leftovers:
            self.chunks.put(chunk)
        if leftovers:
            self.status["leftover_chunks"] = len(leftovers)
            log.info("leftover chunks queued camera_id=%s token=%d chunks=%s", self.camera.id, self.lease.token,
                     [c.path.name for c in leftovers])

    def _enqueue(self, chunk: Chunk) -> None:
        from workers.spool import mark_pending

        try:
            mark_pending(chunk)  # before it is queued: a crash from here on leaves it for the next holder
        except OSError:
            log.exception("chunk sidecar not written camera_id=%s chunk=%s", self.camera.id, chunk.path.name)
        self.chunks.put(chunk)
        backlog = self.chunks.qsize()
        self.status["backlog"] = backlog
        if backlog >= self.s.max_backlog and not self._backlog_alert:
            self._backlog_alert = True
            self._emit(HealthEvent("backlog", "raised", f"{backlog} chunks wait for processing: the pipeline is slower than the stream", {"backlog": backlog}))
        elif backlog < self.s.max_backlog and self._backlog_alert:
            self._backlog_alert = False
            self._emit(HealthEvent("backlog", "cleared", "processing caught up", {"backlog": backlog}))

    def _publish_status(self) -> None:
        self.status["updated_at"] = time.time()
        try:
            key = f"{self.s.key_prefix}camera:{self.camera.id}:status"
            self.redis.set(key, json.dumps(self.status, sort_keys=True, default=str), px=int(self.s.lease_ttl_s * 3000))
        except Exception:
            log.exception("status not published camera_id=%s", self.camera.id)

    # -- processor -------------------------------------------------------------------------

    def _process_loop(self) -> None:
        from exchange.home import init_home
        from pipeline.config import load_camera_config
        from pipeline.run import ProcessOptions
        from workers.jobs import device_detector

        try:
            config_path = Path(self.camera.config_path)
            config = load_camera_config(config_path)
            config_sha = hashlib.sha256(config_path.read_bytes()).hexdigest()
            detector, model_name = device_detector(
                self.s.detector, str(self.s.model) if self.s.model else None, self.s.device, worker=self.s.worker_id
            )
            plate_reader = None
            if self.s.plates:
                from plates.reader import PlateReader

                plate_reader = PlateReader.create()
            home = init_home()
        except Exception as exc:  # bad config or model: the camera needs a person
            log.exception("camera pipeline cannot start camera_id=%s", self.camera.id)
            self.status["last_error"] = f"{type(exc).__name__}: {exc}"
            self._recording = False  # keep watching the stream; record nothing nobody would process
            self._emit(HealthEvent("pipeline_error", "raised", f"pipeline cannot start: {exc}", {}))
            return
        options = ProcessOptions(batch_size=self.s.batch_size, detect_every=self.s.detect_every)
        log.info("camera pipeline ready camera_id=%s model=%s", self.camera.id, model_name)
        while True:
            chunk = self.chunks.get()
            if chunk is None:
                return
            self.status["backlog"] = self.chunks.qsize()
            try:
                config, config_sha = self._current_config(config_path, config, config_sha)
            except Exception as exc:  # the edited file is invalid: keep the chunk, tell the operator
                log.exception("camera config reload failed camera_id=%s", self.camera.id)
                self.status["chunks_failed"] += 1
                self.status["last_error"] = f"{type(exc).__name__}: {exc}"
                self.metrics.chunk_errors.labels(self.camera.id).inc()
                self._emit(HealthEvent("processing_error", "raised", f"chunk {chunk.path.name} kept: {exc}", {"chunk": chunk.path.name}))
                continue
            self._process_chunk(chunk, config, config_sha, detector, model_name, plate_reader, home, options)

    def _current_config(self, path: Path, config, config_sha: str):
        """The camera config as the file is now: an edit (recalibration, new signal anchor)
        applies from the next chunk on; each run records the digest of the config it used."""
        from pipeline.config import load_camera_config

        data = path.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        if sha == config_sha:
            return config, config_sha
        new = load_camera_config(path)
        if new.camera_id != self.camera.id:
            raise ValueError(f"{path}: camera_id changed to {new.camera_id!r}; the registry says {self.camera.id!r}")
        log.info("camera config changed camera_id=%s sha256=%s", self.camera.id, sha[:12])
        return new, sha

    def _process_chunk(self, chunk: Chunk, config, config_sha, detector, model_name, plate_reader, home, options) -> None:
        from pipeline.manifest import EvidenceSigner
        from pipeline.run import process_video
        from safecity.composition import build_evidence_store

        from workers.fencing import LeaseLostError, store_fenced
        from workers.spool import forget, mark_done

        from workers.segments import SegmentWindow

        cam = self.camera.id
        if chunk.core_end <= chunk.core_start:
            # The connection ended inside this file's warm-up: all its frames are in the
            # previous chunk's tail too, which owns them.
            log.info("chunk without core frames removed camera_id=%s chunk=%s frames=%d", cam, chunk.path.name, chunk.frames)
            forget(chunk)
            return
        try:
            cfg = chunk_config(config, chunk.start_utc)
            segment = SegmentWindow(chunk.seq, chunk.core_start, chunk.core_end, chunk.plan, frame_count=chunk.frames)
            # SAFECITY_EVIDENCE_URL=s3://... puts the evidence there; else <out_dir>/evidence.
            store = build_evidence_store(Path(self.s.out_dir) / "evidence")
            result = process_video(chunk.path, cfg, config_sha, detector, model_name, store, options,
                                   plate_reader=plate_reader, segment=segment, signer=EvidenceSigner.from_home(home))
            # Fencing inside the store transaction: a worker whose lease has passed to another
            # commits nothing; the chunk stays pending for the new holder.
            try:
                added, existing = store_fenced(self.s.db_url, result, home, dt.datetime.now(dt.timezone.utc), self.leases, self.lease)
            except LeaseLostError:
                log.warning("chunk not stored, lease lost camera_id=%s token=%d chunk=%s", cam, self.lease.token, chunk.path.name)
                return
        except Exception as exc:  # task boundary: keep the chunk, tell the operator
            log.exception("chunk processing failed camera_id=%s chunk=%s", cam, chunk.path.name)
            self.status["chunks_failed"] += 1
            self.status["last_error"] = f"{type(exc).__name__}: {exc}"
            self.metrics.chunk_errors.labels(cam).inc()
            self._emit(HealthEvent("processing_error", "raised", f"chunk {chunk.path.name} failed: {exc}", {"chunk": chunk.path.name}))
            return
        end_utc = chunk.start_utc + dt.timedelta(seconds=chunk.frames / chunk.fps)
        lag = (dt.datetime.now(dt.timezone.utc) - end_utc).total_seconds()
        self.metrics.frames_processed.labels(cam).inc(chunk.core_end - chunk.core_start)  # warm-up and tail belong to neighbours
        self.metrics.processing_fps.labels(cam).set(result.fps)
        self.metrics.lag.labels(cam).set(lag)
        self.metrics.detections.labels(cam).inc(len(result.tracks))
        for v in result.violations:
            self.metrics.violations.labels(cam, v.type).inc()
        if segment.truncated:
            # Vehicles still in view when the tail reached max_tail_s: their rules saw only
            # part of them (a longer max_tail_s follows them further, at the cost of lag).
            log.warning("chunk tail cut tracks short camera_id=%s chunk=%s truncated_tracks=%d max_tail_s=%s",
                        cam, chunk.path.name, segment.truncated, self.s.max_tail_s)
        self.status.update(chunks_done=self.status["chunks_done"] + 1, processing_fps=round(result.fps, 2), lag_s=round(lag, 2),
                           violations=self.status["violations"] + added,
                           truncated_tracks=self.status["truncated_tracks"] + segment.truncated)
        self._publish_status()
        log.info("chunk processed camera_id=%s chunk=%s frames=%d fps=%.1f tracks=%d added=%d existing=%d lag_s=%.1f",
                 cam, chunk.path.name, result.frames, result.fps, len(result.tracks), added, existing, lag)
        if not result.violations and not self.s.keep_chunks:
            forget(chunk)  # processed cleanly, nothing to keep it for
        else:
            mark_done(chunk, "stored", added=added, existing=existing, token=self.lease.token)

"""Live chunk recording: overlapping files whose cores tile the stream (real H.264 files)."""

from __future__ import annotations

import datetime as dt

import cv2
import numpy as np
import pytest

from workers.live_runner import ChunkRecorder
from workers.streams import LiveFrame


class _Settings:
    chunk_s, warmup_s, min_tail_s, max_tail_s, quiet_s = 1.0, 0.3, 0.2, 0.5, 0.2  # at 10 fps: C=10, W=3, T=5


def _frame(n: int, connection: int = 1, size=(64, 48)) -> LiveFrame:
    img = np.full((size[1], size[0], 3), (n * 7) % 256, np.uint8)
    t0 = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.timezone.utc)
    return LiveFrame(n, n / 10, t0 + dt.timedelta(seconds=n / 10), n / 10, img, connection)


def _count(path) -> int:
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


def test_chunk_cores_tile_the_stream_and_files_overlap(tmp_path):
    """Cores [0,10), [10,20), ... tile 35 frames; each file holds its warm-up (3) and tail (5) too; the last closes with the stream."""
    rec = ChunkRecorder(tmp_path, "cam", 7, _Settings())
    chunks = []
    for n in range(35):
        chunks += rec.add(_frame(n), 10.0)
    chunks += rec.close()
    chunks.sort(key=lambda c: c.seq)
    # file start in stream frames: k*C - W (0 for the first chunk)
    starts = [0 if c.seq == 0 else c.seq * 10 - 3 for c in chunks]
    cores = [(s + c.core_start, s + c.core_end) for s, c in zip(starts, chunks)]
    assert [c.seq for c in chunks] == [0, 1, 2, 3]
    assert cores == [(0, 10), (10, 20), (20, 30), (30, 35)]
    assert [c.frames for c in chunks] == [15, 18, 18, 8]  # core + tail, warm-up + core + tail, ..., cut by the end
    assert [_count(c.path) for c in chunks] == [c.frames for c in chunks]
    assert all(c.token == 7 and c.fps == 10.0 for c in chunks)
    assert chunks[1].start_utc == _frame(7).utc


def test_a_reconnect_starts_new_chunks(tmp_path):
    """Frames of a new connection never join a file of the old one; an early end leaves a chunk with an empty core."""
    rec = ChunkRecorder(tmp_path, "cam", 1, _Settings())
    chunks = []
    for n in range(8):  # chunk 0 open; chunk 1 (starts at frame 7) holds one warm-up frame
        chunks += rec.add(_frame(n), 10.0)
    chunks += rec.add(_frame(8, connection=2), 10.0)
    assert sorted((c.seq, c.frames, c.core_start, c.core_end) for c in chunks) == [(0, 8, 0, 8), (1, 1, 3, 1)]
    (rest,) = rec.close()
    assert (rest.seq, rest.frames, rest.core_start, rest.core_end) == (0, 1, 0, 1)


@pytest.mark.parametrize(("field", "value", "message"), [("warmup_s", 40.0, "warmup_s"), ("max_tail_s", 1.0, "max_tail_s")])
def test_live_settings_refuse_inconsistent_chunks(tmp_path, field, value, message):
    """A warm-up as long as the chunk, or a max tail under the min tail, is refused."""
    from workers.live import LiveSettings

    kw = dict(redis_url="redis://x", db_url="sqlite://", worker_id="w", spool_dir=tmp_path, out_dir=tmp_path, min_tail_s=2.0)
    with pytest.raises(ValueError, match=message):
        LiveSettings(**kw, **{field: value})


def test_chunk_config_shifts_the_signal_plan_to_the_chunk():
    """A chunk starting 27.3 s after the config's UTC anchor sees the plan's phases exactly 27.3 s on."""
    from pipeline.config import load_camera_config
    from pipeline.signals import PlanSignalSource
    from workers.live_runner import chunk_config

    config = load_camera_config("sample_videos/day-default-s1/camera.yaml")
    start = config.start_time_utc + dt.timedelta(seconds=27.3)
    chunk = chunk_config(config, start)
    assert chunk.start_time_utc == start and config.signal.plan.offset_s == 2.0  # the original is untouched
    whole, part = PlanSignalSource(config.signal.plan), PlanSignalSource(chunk.signal.plan)
    for t in np.arange(0, 120, 0.25):
        assert part.state_at(t).state == whole.state_at(t + 27.3).state, t

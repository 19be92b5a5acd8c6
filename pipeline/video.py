"""Video sources: frames with their index and time, decoded in a background thread."""

from __future__ import annotations

import datetime as dt
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from safecity.errors import InputError


@dataclass(frozen=True)
class Frame:
    """A decoded frame.

    Attributes:
        index: 0-based frame index.
        t_s: seconds since frame 0.
        image: BGR uint8 (H, W, 3).
    """

    index: int
    t_s: float
    image: np.ndarray


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    fps: float
    frame_count: int
    width: int
    height: int
    start_time_utc: dt.datetime

    def utc(self, t_s: float) -> dt.datetime:
        """UTC wall time of a moment ``t_s`` seconds after frame 0."""
        return self.start_time_utc + dt.timedelta(seconds=t_s)


def probe_video(path: Path, start_time_utc: dt.datetime) -> VideoInfo:
    """Open a video file and read its properties.

    Raises:
        InputError: the file is missing, unreadable or has no decodable frame.
    """
    if not path.exists():
        raise InputError(f"{path}: video file not found")
    if not path.is_file():
        raise InputError(f"{path}: not a regular file")
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise InputError(f"{path}: cannot open as a video (unknown or corrupt container)")
        ok, first = cap.read()
        if not ok or first is None:
            raise InputError(f"{path}: no decodable frame (empty, truncated or unsupported codec)")
        fps = cap.get(cv2.CAP_PROP_FPS)
        if not fps or not np.isfinite(fps) or fps <= 0 or fps > 1000:
            raise InputError(f"{path}: the container states no usable frame rate ({fps!r})")
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        h, w = first.shape[:2]
    finally:
        cap.release()
    return VideoInfo(path, float(fps), count, w, h, start_time_utc)


def open_at(path: Path, start: int) -> cv2.VideoCapture:
    """A capture whose next ``read()`` returns frame ``start`` (0-based).

    Seeks when the backend reports landing exactly on ``start`` (FFmpeg seeks to the previous
    key frame and decodes forward); otherwise decodes and drops the frames before it.

    Raises:
        InputError: the video ends before frame ``start``.
    """
    cap = cv2.VideoCapture(str(path))
    if start <= 0:
        return cap
    if cap.set(cv2.CAP_PROP_POS_FRAMES, start) and int(cap.get(cv2.CAP_PROP_POS_FRAMES)) == start:
        return cap
    cap.release()
    cap = cv2.VideoCapture(str(path))
    for idx in range(start):
        if not cap.grab():
            cap.release()
            raise InputError(f"{path}: the video ends at frame {idx}, before frame {start} (truncated?)")
    return cap


def read_frames(info: VideoInfo, prefetch: int = 16, start: int = 0) -> Iterator[Frame]:
    """Decode frames in a background thread, yielding them in order from frame ``start``.

    Decoding overlaps with whatever the consumer does (detection releases the GIL).
    """
    q: queue.Queue[Frame | BaseException | None] = queue.Queue(maxsize=prefetch)
    stop = threading.Event()

    def worker() -> None:
        cap = None
        try:
            cap = open_at(info.path, start)
            idx = start
            while not stop.is_set():
                ok, img = cap.read()
                if not ok:
                    break
                q.put(Frame(idx, idx / info.fps, img))
                idx += 1
        except BaseException as exc:  # handed to the consumer, which re-raises it
            q.put(exc)
        finally:
            if cap is not None:
                cap.release()
            q.put(None)

    thread = threading.Thread(target=worker, name=f"decode-{info.path.name}", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is None:
                break
            if isinstance(item, InputError):
                raise item
            if isinstance(item, BaseException):
                raise InputError(f"{info.path}: decoding failed: {item}") from item
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.05)


def evidence_pass(
    info: VideoInfo, wanted: set[int], clips: dict[str, tuple[int, int]], clip_dir: Path
) -> tuple[dict[int, np.ndarray], dict[str, Path]]:
    """Decode the video once more: keep the ``wanted`` frames and cut the ``clips``.

    Clips are encoded while decoding, so memory holds only the wanted stills, never a clip.

    Args:
        wanted: frame indices to return as images.
        clips: clip key -> (first frame, last frame), inclusive.
        clip_dir: folder for the encoded clips (``<key>.mp4``).

    Returns:
        The wanted frames by index, and each clip's file.
    """
    from pipeline.encode import H264Writer

    frames: dict[int, np.ndarray] = {}
    writers: dict[str, H264Writer] = {}
    done: dict[str, Path] = {}
    last = max([*wanted, *(end for _, end in clips.values())], default=-1)
    # Start at the first frame needed: a segment near the end of a long video need not decode it all.
    first = max(0, min([*wanted, *(start for start, _ in clips.values())], default=0))
    cap = open_at(info.path, first) if last >= 0 else cv2.VideoCapture(str(info.path))
    try:
        idx = first if last >= 0 else 0
        while idx <= last:
            ok, img = cap.read()
            if not ok:
                break
            if idx in wanted:
                frames[idx] = img
            for key, (start, end) in clips.items():
                if start <= idx <= end:
                    if key not in writers:
                        writers[key] = H264Writer(clip_dir / f"{key}.mp4", info.fps, (info.width, info.height))
                    writers[key].write(img)
            idx += 1
    finally:
        cap.release()
        for key, writer in writers.items():
            writer.close()
            done[key] = writer.path
    return frames, done

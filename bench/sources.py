"""Videos for the benchmark, each with a camera config the pipeline accepts.

The default source is a generated scene (``scenes.generate``), which comes with its camera.yaml.
A user's video without a config gets a generic calibration (the benchmark measures cost, not
accuracy). 1080p and 720p variants are made by resizing a source and scaling its config's pixel
coordinates, so the pipeline sees the same traffic at each resolution.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import yaml

from safecity.errors import InputError

logger = logging.getLogger(__name__)

#: Shared clips tried, in order, when scenes cannot be generated (a fixed road camera first).
SHARED_VIDEOS = ("intersection_y3.mov", "delhi_traffic-mini.mp4", "bgslibrary_video.avi")


@dataclass(frozen=True)
class Source:
    """A video and the camera config written for it.

    Attributes:
        video: video file.
        camera: camera.yaml matching the video's frame size.
        width, height: frame size px.
        fps: frames per second of the container.
        frames: frame count of the container.
        origin: how it was made, for the report (``generated scene``, ``--video``, ``resized``).
    """

    video: Path
    camera: Path
    width: int
    height: int
    fps: float
    frames: int
    origin: str


def probe(video: Path) -> tuple[int, int, float, int]:
    """Width, height, fps and frame count of a video.

    Raises:
        InputError: unreadable video.
    """
    capture = cv2.VideoCapture(str(video))
    try:
        ok, frame = capture.read()
        if not capture.isOpened() or not ok:
            raise InputError(f"{video}: cannot open or decode as a video")
        fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
        return (
            frame.shape[1],
            frame.shape[0],
            float(fps),
            int(capture.get(cv2.CAP_PROP_FRAME_COUNT)),
        )
    finally:
        capture.release()


def generic_camera(width: int, height: int) -> dict:
    """A camera config for any frame size: a road trapezoid over the lower half of the frame.

    Four points, so the homography fits exactly; no lines or signal, so only the speed rule runs.
    """
    points = [
        ((0.10 * width, 0.95 * height), (-7.0, 5.0)),
        ((0.90 * width, 0.95 * height), (7.0, 5.0)),
        ((0.35 * width, 0.50 * height), (-7.0, 40.0)),
        ((0.65 * width, 0.50 * height), (7.0, 40.0)),
    ]
    return {
        "camera_id": "bench-generic",
        "name": "benchmark: generic calibration (cost only, not accuracy)",
        "start_time_utc": "2026-01-01T00:00:00Z",
        "image_size_px": [width, height],
        "speed_limit_kmh": 60.0,
        "calibration": {
            "version": "bench-generic",
            "points": [
                {"image_px": [round(x, 1), round(y, 1)], "road_m": list(road)}
                for (x, y), road in points
            ],
        },
    }


def from_video(video: Path, camera: Path | None, work_dir: Path) -> Source:
    """A user's video, with its camera.yaml or a generic one written to ``work_dir``."""
    width, height, fps, frames = probe(video)
    if camera is None:
        camera = work_dir / f"{video.stem}-generic-camera.yaml"
        camera.write_text(yaml.safe_dump(generic_camera(width, height), sort_keys=False))
        origin = "--video (generic calibration)"
    else:
        origin = "--video with --camera"
    return Source(video, camera, width, height, fps, frames, origin)


def generated_scene(work_dir: Path, seconds: float, seed: int = 0) -> Source | None:
    """A generated ``default`` scene of ``seconds``, or None when ``scenes.generate`` is absent."""
    try:
        from scenes.generate import generate_scene
    except ImportError as exc:
        logger.warning("scenes.generate not importable (%s); using a shared clip", exc)
        return None
    files = generate_scene(work_dir / "scene", scenario="default", seed=seed, duration_s=seconds)
    width, height, fps, frames = probe(files.video)
    return Source(
        files.video, files.camera, width, height, fps, frames, "generated scene 'default'"
    )


def shared_clip(shared_videos: Path, work_dir: Path) -> Source:
    """The first available clip of ``shared/data/videos`` with a generic calibration.

    Raises:
        InputError: none of :data:`SHARED_VIDEOS` is there.
    """
    for name in SHARED_VIDEOS:
        if (shared_videos / name).is_file():
            return from_video(shared_videos / name, None, work_dir)
    raise InputError(
        f"no benchmark video: pass --video, or provide {shared_videos}/{SHARED_VIDEOS[0]}"
    )


def _scale_points(node: object, sx: float, sy: float) -> object:
    """Pixel coordinates of a camera config scaled (every ``*_px`` field)."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "image_size_px":
                out[key] = value
            elif key == "head_px" and value is not None:
                x, y, w, h = value
                out[key] = [x * sx, y * sy, w * sx, h * sy]
            elif key.endswith("_px") and isinstance(value, list):
                if value and isinstance(value[0], (int, float)):
                    out[key] = [value[0] * sx, value[1] * sy]
                else:
                    out[key] = [[p[0] * sx, p[1] * sy] for p in value]
            else:
                out[key] = _scale_points(value, sx, sy)
        return out
    if isinstance(node, list):
        return [_scale_points(v, sx, sy) for v in node]
    return node


def resized(
    source: Source, width: int, height: int, work_dir: Path, max_frames: int | None = None
) -> Source:
    """``source`` re-encoded at ``width`` x ``height`` (mp4v) with its config scaled to match.

    Raises:
        InputError: the source cannot be read or the copy cannot be written.
    """
    out_video = work_dir / f"{source.video.stem}-{width}x{height}.mp4"
    writer = cv2.VideoWriter(
        str(out_video), cv2.VideoWriter_fourcc(*"mp4v"), source.fps, (width, height)
    )
    if not writer.isOpened():
        raise InputError(f"{out_video}: cannot open a video writer (mp4v)")
    capture = cv2.VideoCapture(str(source.video))
    written = 0
    try:
        while max_frames is None or written < max_frames:
            ok, frame = capture.read()
            if not ok:
                break
            interpolation = cv2.INTER_AREA if width < source.width else cv2.INTER_LINEAR
            writer.write(cv2.resize(frame, (width, height), interpolation=interpolation))
            written += 1
    finally:
        capture.release()
        writer.release()
    if written == 0:
        raise InputError(f"{source.video}: no frame could be decoded")
    config = yaml.safe_load(source.camera.read_text(encoding="utf-8"))
    scaled = _scale_points(config, width / source.width, height / source.height)
    scaled["image_size_px"] = [width, height]
    out_camera = work_dir / f"{source.camera.stem}-{width}x{height}.yaml"
    out_camera.write_text(yaml.safe_dump(scaled, sort_keys=False))
    return Source(
        out_video, out_camera, width, height, source.fps, written, f"{source.origin}, resized"
    )

"""Benchmark sources: generic calibration, resized copies with scaled configs."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from bench.sources import _scale_points, from_video, generic_camera, probe, resized
from pipeline.config import load_camera_config
from safecity.errors import InputError


def write_video(
    path: Path, frames: int = 12, size: tuple[int, int] = (320, 240), fps: float = 25.0
) -> Path:
    """A small mp4v clip: a bright block moving over a grey road."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for i in range(frames):
        frame = np.full((size[1], size[0], 3), 110, np.uint8)
        cv2.rectangle(frame, (10 + 6 * i, 100), (50 + 6 * i, 130), (40, 40, 220), -1)
        writer.write(frame)
    writer.release()
    return path


@pytest.mark.parametrize("size", [(320, 240), (1920, 1080), (352, 288)])
def test_generic_camera_is_a_valid_config(tmp_path: Path, size: tuple[int, int]) -> None:
    """The generic calibration passes the camera-config validation and geometry checks."""
    path = tmp_path / "camera.yaml"
    path.write_text(yaml.safe_dump(generic_camera(*size)))
    config = load_camera_config(path)
    assert tuple(config.image_size_px) == size


def test_scale_points_scales_every_px_field() -> None:
    """Points, polylines and the signal head box scale by (sx, sy); metres do not."""
    config = {
        "image_size_px": [100, 50],
        "calibration": {"points": [{"image_px": [10, 20], "road_m": [1.0, 2.0]}]},
        "lines": [{"points_px": [[0, 0], [10, 5]]}],
        "signal": {"head_px": [1, 2, 3, 4]},
    }
    out = _scale_points(config, 2.0, 3.0)
    assert out["calibration"]["points"][0] == {"image_px": [20.0, 60.0], "road_m": [1.0, 2.0]}
    assert out["lines"][0]["points_px"] == [[0.0, 0.0], [20.0, 15.0]]
    assert out["signal"]["head_px"] == [2.0, 6.0, 6.0, 12.0]


def test_resized_copy_and_config_load(tmp_path: Path) -> None:
    """A 1080p copy has the new size and every frame; its scaled config loads."""
    source = from_video(write_video(tmp_path / "clip.mp4"), None, tmp_path)
    big = resized(source, 1920, 1080, tmp_path)
    assert probe(big.video)[:2] == (1920, 1080) and big.frames == 12
    config = load_camera_config(big.camera)
    assert tuple(config.image_size_px) == (1920, 1080)
    assert config.calibration.points[0].image_px == pytest.approx((192.0, 1026.0))


def test_unreadable_video_is_an_input_error(tmp_path: Path) -> None:
    """A file that is not a video is an InputError naming it."""
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"nope")
    with pytest.raises(InputError, match="bad.mp4: cannot open or decode"):
        probe(bad)

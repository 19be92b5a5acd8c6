"""The run loop's detection stride, on a real (model-free) detector and a real video file."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from detectors.registry import create_detector
from pipeline.run import ProcessOptions, process_video
from tests.factories import camera_config


def _moving_box_video(path: Path, frames: int = 90) -> Path:
    """A grey road with a bright block sliding down the image, 1280x720 at 25 fps."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (1280, 720))
    for k in range(frames):
        img = np.full((720, 1280, 3), 90, np.uint8)
        y = 200 + 4 * k
        cv2.rectangle(img, (560, y), (700, y + 90), (230, 230, 230), -1)
        writer.write(img)
    writer.release()
    return path


@pytest.mark.parametrize("every", [1, 2, 3])
def test_detect_every_nth_frame(tmp_path, every):
    """With detect_every=n, every track observation comes from a frame index divisible by n."""
    video = _moving_box_video(tmp_path / "v.mp4")
    result = process_video(
        video, camera_config(), "0" * 64, create_detector("motion", warmup_frames=5), "motion", tmp_path / "ev",
        ProcessOptions(detect_every=every, min_track_points=3),
    )
    assert result.frames == 90
    frames = [p.frame for a in result.analyses for p in a.track.points]
    assert frames, "the moving block was not tracked"
    assert all(f % every == 0 for f in frames)


def test_detect_every_must_be_positive(tmp_path):
    """A zero stride is refused."""
    video = _moving_box_video(tmp_path / "v.mp4", frames=3)
    with pytest.raises(ValueError, match="detect_every"):
        process_video(video, camera_config(), "0" * 64, create_detector("motion"), "motion", tmp_path / "ev", ProcessOptions(detect_every=0))

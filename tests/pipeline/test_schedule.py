"""Detection stride with tracker prediction, and the schedule that decides which frames are detected."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from detectors.base import Detections
from detectors.gating import MotionGate
from detectors.registry import create_detector
from pipeline.run import ProcessOptions, process_video
from pipeline.scene import build_scene_geometry
from pipeline.schedule import DetectionSchedule
from pipeline.tracking import RoadTracker
from tests.factories import camera_config

NAMES = ("car", "bus", "truck", "motorcycle")


def _box_at(k: int, speed_px: float) -> Detections:
    """One car box 100x80 px moving right ``speed_px`` a frame."""
    x = 20.0 + speed_px * k
    return Detections(np.array([[x, 300.0, x + 100.0, 380.0]], np.float32), np.array([0.9], np.float32), np.array([0], np.int32), NAMES)


def _run(stride: int, speed_px: float, frames: int, predict: bool) -> tuple[RoadTracker, list[int]]:
    """Track the moving box detecting as the schedule says; without ``predict`` the tracker only
    sees detected frames (the old ``detect_every`` decimation, tracker at fps / stride)."""
    geometry = build_scene_geometry(camera_config())
    tracker = RoadTracker(geometry, (1280, 720), 25.0 if predict else 25.0 / stride)
    schedule = DetectionSchedule(stride)
    detected = []
    for k in range(frames):
        if predict:
            if schedule.due(k, np.zeros((8, 8, 3), np.uint8), tracker):
                tracker.update(k, k / 25.0, _box_at(k, speed_px))
                schedule.detected(k, np.zeros((8, 8, 3), np.uint8))
                detected.append(k)
            else:
                tracker.predict()
        elif k % stride == 0:
            tracker.update(k, k / 25.0, _box_at(k, speed_px))
            detected.append(k)
    return tracker, detected


def test_fast_vehicle_keeps_one_track_at_stride_3() -> None:
    """A box moving more than its own width between detected frames (40 px a frame, 100 px wide,
    stride 3) keeps one track id with Kalman prediction over the skipped frames; observations come
    only from detected frames, and after confirmation only every third frame is detected. Tracking
    only the detected frames (decimation) never confirms it."""
    tracker, detected = _run(3, 40.0, 30, predict=True)
    tracks = tracker.tracks(min_points=1)
    assert len(tracks) == 1
    frames = [p.frame for p in tracks[0].points]
    assert set(frames) <= set(detected)
    assert frames[-1] >= 27
    gaps = np.diff(detected)
    assert (gaps[:2] == 1).all() and (gaps[3:] == 3).all()
    decimated, _ = _run(3, 40.0, 30, predict=False)
    assert len(decimated.tracks(min_points=1)) != 1


def test_needs_detection_while_a_track_is_new() -> None:
    """A new box makes the tracker ask for the next frame until it is confirmed."""
    tracker = RoadTracker(build_scene_geometry(camera_config()), (1280, 720), 25.0)
    asked = []
    for k in range(5):
        tracker.update(k, k / 25.0, _box_at(k, 5.0))
        asked.append(tracker.needs_detection())
    assert asked[0] and asked[1]
    assert not asked[-1]


class _Tracker:
    """A tracker that needs detection exactly on the given steps (the protocol the schedule uses)."""

    def __init__(self, needy: set[int]) -> None:
        self.needy, self.step = needy, 0

    def needs_detection(self) -> bool:
        return self.step in self.needy


def _decisions(schedule: DetectionSchedule, images: list[np.ndarray], tracker: _Tracker) -> list[int]:
    out = []
    for k, img in enumerate(images):
        tracker.step = k
        if schedule.due(k, img, tracker):
            schedule.detected(k, img)
            out.append(k)
    return out


def test_schedule_stride_forced_frames_and_gate_limit() -> None:
    """Stride 3 detects every third frame, plus every frame the tracker needs; the motion gate
    skips due frames of a static scene but never more than max_static_frames in a row."""
    still = [np.full((36, 64, 3), 90, np.uint8)] * 12
    moving = [np.full((36, 64, 3), 90, np.uint8) for _ in range(12)]
    for k, img in enumerate(moving):
        img[10:20, 4 * k : 4 * k + 10] = 250
    plain = DetectionSchedule(3)
    assert _decisions(plain, moving, _Tracker(set())) == [0, 3, 6, 9]
    forced = DetectionSchedule(3)
    assert _decisions(forced, moving, _Tracker({4})) == [0, 3, 4, 7, 10]
    assert forced.counts.forced == 1
    gated = DetectionSchedule(1, MotionGate(), max_static_frames=5)
    assert _decisions(gated, still, _Tracker(set())) == [0, 5, 10]
    assert gated.counts.static == 9
    gated_moving = DetectionSchedule(1, MotionGate(), max_static_frames=5)
    assert _decisions(gated_moving, moving, _Tracker(set())) == list(range(12))


@pytest.mark.parametrize(("field", "value"), [("detect_stride", 0), ("max_static_frames", 0), ("roi_pad_frac", -0.1)])
def test_process_options_refuse_bad_schedule(field: str, value) -> None:
    """Bad schedule options fail before any I/O, naming the option."""
    with pytest.raises(ValueError, match=field):
        ProcessOptions(**{field: value})


def _moving_box_video(path: Path, frames: int = 90, still_from: int | None = None) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (1280, 720))
    for k in range(frames):
        img = np.full((720, 1280, 3), 90, np.uint8)
        y = 200 + 4 * (min(k, still_from) if still_from is not None else k)
        cv2.rectangle(img, (560, y), (700, y + 90), (230, 230, 230), -1)
        writer.write(img)
    writer.release()
    return path


def test_process_video_with_stride_and_gate(tmp_path: Path) -> None:
    """process_video with stride 3 and gating (model-free detector) tracks the moving block from
    a fraction of its frames, and stops looking once it stands still (until max_static_frames)."""
    video = _moving_box_video(tmp_path / "v.mp4", frames=90, still_from=60)
    result = process_video(
        video, camera_config(), "0" * 64, create_detector("motion", warmup_frames=5), "motion", tmp_path / "ev",
        ProcessOptions(detect_stride=3, motion_gate=True, max_static_frames=25, min_track_points=3),
    )
    assert result.frames == 90
    frames = sorted({p.frame for a in result.analyses for p in a.track.points})
    assert frames, "the moving block was not tracked"
    moving = [f for f in frames if 20 <= f < 60]
    assert 5 <= len(moving) < 30
    # Still from frame 60: the gate skips everything until max_static_frames (25) have passed.
    assert [f for f in frames if 62 <= f < 84] == []

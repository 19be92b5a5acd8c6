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
from pipeline.tracking import LOST, RoadTracker, TrackerSettings
from tests.factories import camera_config

NAMES = ("car", "bus", "truck", "motorcycle")
SAMPLE = Path(__file__).resolve().parents[2] / "sample_videos" / "day-default-s1"


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


def test_a_lost_track_followed_by_flow_needs_no_frame_until_the_flow_loses_it() -> None:
    """With optical flow following lost tracks (``follow_lost``), a lost car in view does not make
    the next frame needed while the flow moves it; once a flow step fails to, it does again."""
    tracker = RoadTracker(build_scene_geometry(camera_config()), (1280, 720), 25.0, TrackerSettings(follow_lost=True))
    for k in range(6):
        tracker.update(k, k / 25.0, _box_at(k, 5.0))
    (tid,) = tracker.flow_boxes()
    tracker.update(6, 6 / 25.0, Detections.empty(NAMES))
    assert (LOST, tid) in tracker.flow_boxes()
    assert not tracker.needs_detection()  # the flow is trusted to follow it
    moved = _box_at(7, 5.0).xyxy[0]
    tracker.flow_update(7, 7 / 25.0, {(LOST, tid): moved})
    assert not tracker.needs_detection()
    tracker.flow_update(8, 8 / 25.0, {})  # the flow could not follow it
    assert tracker.needs_detection()
    tracker.update(9, 9 / 25.0, Detections.empty(NAMES))  # a new start: the flow is tried again
    assert not tracker.needs_detection()


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


def _sample_with_freeze(tmp_path: Path, hold_at: int, hold: int, frames: int) -> Path:
    """The first ``frames`` frames of the committed day scene with frame ``hold_at`` held for
    ``hold`` more frames (mp4v): traffic that stops dead, with compression noise."""
    cap = cv2.VideoCapture(str(SAMPLE / "scene.mp4"))
    src = []
    while len(src) < frames:
        ok, img = cap.read()
        if not ok:
            break
        src.append(img)
    cap.release()
    path = tmp_path / "held.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (1280, 720))
    for i in list(range(hold_at + 1)) + [hold_at] * hold + list(range(hold_at + 1, len(src))):
        writer.write(src[i])
    writer.release()
    return path


def test_process_video_with_stride_gate_and_region(tmp_path: Path) -> None:
    """process_video with stride 3, gate and region crop and the committed model on the day sample: after
    start-up only about every third frame is detected, and while the picture is held nothing is
    detected until max_static_frames (25) have passed; without flow every observation is from a
    detected frame."""
    from detectors.models import COCO_VEHICLE_MODEL
    from pipeline.config import load_camera_config

    video = _sample_with_freeze(tmp_path, hold_at=40, hold=30, frames=60)
    detector = create_detector("onnx", model_path=COCO_VEHICLE_MODEL, agnostic_nms=True, intra_op_threads=1)
    options = ProcessOptions(detect_stride=3, motion_gate=True, roi_crop=True, min_track_points=3, dense_zone=False, flow=False)
    result = process_video(video, load_camera_config(SAMPLE / "camera.yaml"), "0" * 64, detector, "onnx", tmp_path / "ev", options)
    assert result.frames == 90
    counts = result.schedule_counts
    assert counts["detected"] + counts["predicted"] + counts["static"] == 90
    assert counts["detected"] < 60 and counts["static"] > 0
    frames = sorted({p.frame for a in result.analyses for p in a.track.points})
    assert frames, "no vehicle tracked"
    assert [f for f in frames if 43 <= f < 66] == []  # held from frame 41 to 70


def test_dense_zone_detects_every_frame_of_a_moving_vehicle_in_the_measurement_zone(tmp_path: Path) -> None:
    """With dense_zone a stride applies only away from the measurement zone: while a confirmed
    vehicle is in the zone, every frame is detected (without it this test fails: frames 13, 14 of
    track 1 skipped)."""
    from detectors.models import COCO_VEHICLE_MODEL
    from pipeline.config import load_camera_config

    video = _sample_with_freeze(tmp_path, hold_at=40, hold=30, frames=60)
    config = load_camera_config(SAMPLE / "camera.yaml")
    detector = create_detector("onnx", model_path=COCO_VEHICLE_MODEL, agnostic_nms=True, intra_op_threads=1)
    options = ProcessOptions(detect_stride=3, motion_gate=True, roi_crop=True, min_track_points=3, dense_zone=True, flow=False)
    result = process_video(video, config, "0" * 64, detector, "onnx", tmp_path / "ev", options)
    limit = config.rules.speeding.max_m_per_px
    # frames the detector ran on (a frame with a detected vehicle gives some track an observation)
    detected = {p.frame for a in result.analyses for p in a.track.points}
    checked = 0
    for a in result.analyses:
        zone = [p.frame for p in a.track.points if p.m_per_px <= limit and p.frame <= 40]
        # from its fourth zone observation (confirmed) to its last one before the hold: every frame
        for frame in range(zone[3], zone[-1] + 1) if len(zone) > 3 else ():
            assert frame in detected, f"track {a.track.track_id}: frame {frame} not detected, zone frames {zone}"
            checked += 1
    assert checked > 20, "no vehicle crossed the measurement zone before the hold"


def test_model_free_detector_gets_every_frame(tmp_path: Path) -> None:
    """The background-subtraction detector learns from consecutive frames: whatever the options,
    the pipeline gives it every frame."""
    writer = cv2.VideoWriter(str(tmp_path / "v.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (1280, 720))
    for k in range(30):
        img = np.full((720, 1280, 3), 90, np.uint8)
        cv2.rectangle(img, (560, 200 + 4 * k), (700, 290 + 4 * k), (230, 230, 230), -1)
        writer.write(img)
    writer.release()
    result = process_video(
        tmp_path / "v.mp4", camera_config(), "0" * 64, create_detector("motion", warmup_frames=5), "motion", tmp_path / "ev",
        ProcessOptions(detect_stride=3, motion_gate=True),
    )
    assert result.schedule_counts["detected"] == 30


class _BatchingDetector:
    """A detector that declares it batches on a GPU (none can run on this machine's CPUs)."""

    class_names = NAMES
    batches_on_device = True

    def detect(self, frames):
        return [Detections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32), NAMES) for _ in frames]


def test_default_schedule_for_cpu_and_every_frame_for_a_gpu_detector() -> None:
    """The default options schedule a CPU detector (stride 3, gate, flow); a detector that batches
    on a GPU gets every frame, in batches, whatever the options say."""
    from pipeline.run import _schedule_for

    defaults = ProcessOptions()
    assert (defaults.detect_stride, defaults.motion_gate, defaults.roi_crop, defaults.flow) == (3, True, True, True)
    from detectors.models import DEFAULT_VEHICLE_MODEL

    cpu = create_detector("onnx", model_path=DEFAULT_VEHICLE_MODEL, intra_op_threads=1)
    assert cpu.batches_on_device is False
    assert not _schedule_for(cpu, defaults, (0, 0, 1280, 720)).every_frame
    assert _schedule_for(_BatchingDetector(), defaults, (0, 0, 1280, 720)).every_frame

"""Local detection: a frame forced by new or lost tracks is detected only around them."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from detectors.base import Detections
from detectors.registry import create_detector
from pipeline.persons import VehiclePersonTracker
from pipeline.run import ProcessOptions, process_video
from pipeline.scene import build_scene_geometry
from pipeline.schedule import LocalDetection, LocalSettings
from pipeline.tracking import FLOW_SCORE, RoadTracker
from tests.factories import camera_config, first_frames

NAMES = ("car", "bus", "truck", "motorcycle")
SAMPLE = Path(__file__).resolve().parents[2] / "sample_videos" / "day-default-s1"
VIEW = (0, 100, 1280, 720)


def _dets(*boxes: tuple[float, float, float, float]) -> Detections:
    return Detections(np.array(boxes, np.float32).reshape(-1, 4), np.full(len(boxes), 0.9, np.float32),
                      np.zeros(len(boxes), np.int32), NAMES)


def _local(**settings) -> LocalDetection:
    from detectors.models import COCO_VEHICLE_MODEL

    detector = create_detector("onnx", model_path=COCO_VEHICLE_MODEL, agnostic_nms=True, intra_op_threads=1)
    return LocalDetection(detector, VIEW, (1280, 720), LocalSettings(**settings))


def test_region_pads_the_needing_boxes_takes_in_cut_tracks_and_gives_way_when_large() -> None:
    local = _local(pad_frac=0.5, min_pad_frac=24.0 / 1280, max_view_share=0.4)
    needing = np.array([[500.0, 300.0, 600.0, 380.0]])
    # grown by half the box per side: 50 px across, 40 px down (over 24)
    assert local.region(needing, needing) == (450, 260, 650, 420)
    # a track the rectangle would cut is taken in whole; one clear of it is not
    others = np.vstack([needing, [[630.0, 330.0, 760.0, 400.0]], [[900.0, 500.0, 1000.0, 560.0]]])
    assert local.region(needing, others) == (450, 260, 760, 420)
    # clipped to the view (its top is at y = 100)
    assert local.region(np.array([[10.0, 110.0, 60.0, 150.0]]), np.zeros((0, 4)))[:2] == (0, 100)
    # two far-apart needs span most of the view: detect it whole
    assert local.region(np.array([[10.0, 110.0, 60.0, 150.0], [1200.0, 650.0, 1270.0, 710.0]]), np.zeros((0, 4))) is None
    assert local.region(np.zeros((0, 4)), np.zeros((0, 4))) is None


def test_detect_drops_boxes_cut_by_the_region_edge_but_not_by_the_view_edge() -> None:
    """On a sample frame: what the whole view finds inside the region is found there too, and
    a box reaching the region's inner edge is dropped."""
    local = _local()
    cap = cv2.VideoCapture(str(SAMPLE / "scene.mp4"))
    for _ in range(40):
        ok, img = cap.read()
    assert ok
    full = local.detector.detect([img])[0]
    assert len(full) >= 2
    box = full.xyxy[int(np.argmax((full.xyxy[:, 2] - full.xyxy[:, 0]) * (full.xyxy[:, 3] - full.xyxy[:, 1])))]
    region = (int(box[0]) - 40, int(box[1]) - 40, int(box[2]) + 40, int(box[3]) + 40)
    found = local.detect(img, region)
    iou = [float(_iou(box, b)) for b in found.xyxy]
    assert iou and max(iou) > 0.8
    # a region through the middle of that vehicle: its cut box is not reported
    cut = (int(box[0]) - 40, int(box[1]) - 40, int((box[0] + box[2]) / 2), int(box[3]) + 40)
    assert all(b[2] < cut[2] - 4 for b in local.detect(img, cut).xyxy)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_local_update_confirms_a_new_track_and_leaves_the_others_to_flow() -> None:
    """A settled car outside the region is flowed (an observation, not detected), not lost; a new
    car inside is associated with the local detections and confirmed by them alone."""
    tracker = RoadTracker(build_scene_geometry(camera_config()), (1280, 720), 25.0)
    for k in range(6):
        tracker.update(k, k / 25, _dets((100.0 + 10 * k, 300.0, 200.0 + 10 * k, 380.0)))
    (settled,) = tracker.flow_boxes()
    tracker.update(6, 6 / 25, _dets((160.0, 300.0, 260.0, 380.0), (800.0, 400.0, 900.0, 470.0)))
    assert tracker.needs_detection()
    needing = tracker.needing_boxes()
    assert needing.shape == (1, 4) and needing[0, 0] == pytest.approx(800.0, abs=1.0)
    region = (700, 330, 1000, 540)
    for k in range(7, 10):
        moved = {settled: np.array([100.0 + 10 * k, 300.0, 200.0 + 10 * k, 380.0])}
        tracker.local_update(k, k / 25, _dets((800.0 + 4 * k, 400.0, 900.0 + 4 * k, 470.0)), region, moved)
    assert not tracker.needs_detection()  # confirmed by the three local detections
    tracks = {t.track_id: t for t in tracker.tracks(min_points=1)}
    assert set(tracks) == {settled, max(tracks)} and len(tracks) == 2
    flowed = [p for p in tracks[settled].points if p.frame >= 7]
    assert [p.frame for p in flowed] == [7, 8, 9]
    assert all(not p.detected and p.confidence == FLOW_SCORE for p in flowed)
    assert flowed[-1].box_px == (190.0, 300.0, 290.0, 380.0)
    new = tracks[max(tracks)]
    assert all(p.detected for p in new.points) and new.points[-1].frame == 9
    # a settled car outside the region with no flow box is predicted, not marked lost
    tracker.local_update(10, 10 / 25, _dets((840.0, 400.0, 940.0, 470.0)), region, {})
    assert settled in {t.external_track_id for t in tracker._tracker.tracked_tracks}


def test_person_tracker_takes_part_in_local_updates() -> None:
    geometry = build_scene_geometry(camera_config())
    tracker = VehiclePersonTracker(RoadTracker(geometry, (1280, 720), 25.0), RoadTracker(geometry, (1280, 720), 25.0))
    names = ("car", "person")
    person = Detections(np.array([[600.0, 300.0, 620.0, 350.0]], np.float32), np.array([0.9], np.float32),
                        np.array([1], np.int32), names)
    tracker.update(0, 0.0, Detections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32), names))
    tracker.update(1, 0.04, person)
    assert tracker.needing_boxes().shape == (1, 4)
    for k in range(2, 5):
        tracker.local_update(k, k / 25, person, (550, 250, 700, 420), {})
    assert not tracker.needs_detection()
    assert [t.class_name for t in tracker.tracks(min_points=1)] == ["person"]


def test_process_video_with_local_detection_finds_the_same_vehicles(tmp_path: Path) -> None:
    """On 75 frames of the day sample at stride 3 with flow: forced frames are detected locally,
    the whole view still every third frame, and the same vehicles cross the measurement zone."""
    from detectors.models import COCO_VEHICLE_MODEL
    from pipeline.config import load_camera_config

    config = load_camera_config(SAMPLE / "camera.yaml")
    detector = create_detector("onnx", model_path=COCO_VEHICLE_MODEL, agnostic_nms=True, intra_op_threads=1)
    first_frames(SAMPLE / "scene.mp4", tmp_path / "v.avi", 75)
    limit = config.rules.speeding.max_m_per_px
    crossing, counts = {}, {}
    for local in (False, True):
        options = ProcessOptions(detect_stride=3, min_track_points=3, local_detect=local)
        result = process_video(tmp_path / "v.avi", config, "0" * 64, detector, "onnx", tmp_path / f"ev{local}", options)
        counts[local] = result.schedule_counts
        crossing[local] = sorted(
            round(float(np.median([p.box_px[0] for p in a.track.points if p.m_per_px <= limit and p.usable])), -2)
            for a in result.analyses
            if sum(p.m_per_px <= limit and p.usable for p in a.track.points) >= 4
        )
    assert counts[True]["local"] > 0 and counts[False]["local"] == 0
    assert counts[True]["detected"] - counts[True]["local"] < counts[False]["detected"]
    assert len(crossing[True]) == len(crossing[False]) >= 2, crossing


def test_a_track_removed_by_bytetrack_does_not_linger_through_local_updates() -> None:
    """ByteTrack marks a lost track removed at one update and drops it at the next; a local update
    that keeps it apart must drop it too, or a newcomer could re-find the ghost much later."""
    from supervision.tracker.byte_tracker.single_object_track import TrackState

    tracker = RoadTracker(build_scene_geometry(camera_config()), (1280, 720), 25.0)
    for k in range(6):
        tracker.update(k, k / 25, _dets((300.0, 300.0, 400.0, 380.0)))
    k = 6
    while not any(t.state == TrackState.Removed for t in tracker._tracker.lost_tracks):
        tracker.update(k, k / 25, _dets())
        k += 1
        assert k < 60
    tracker.local_update(k, k / 25, _dets((900.0, 300.0, 1000.0, 380.0)), (850, 250, 1050, 430), {})
    assert tracker._tracker.lost_tracks == []

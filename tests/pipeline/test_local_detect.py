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
from detectors.region import Region, RegionDetector
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
    """Local detection in VIEW of a 1280x720 frame: its input is 704x384 at scale 0.5 (pad 32, 37)."""
    from detectors.models import COCO_VEHICLE_MODEL

    detector = create_detector("onnx", model_path=COCO_VEHICLE_MODEL, agnostic_nms=True, intra_op_threads=1)
    return LocalDetection(RegionDetector(detector, Region(*VIEW), (1280, 720)), VIEW, (1280, 720), LocalSettings(**settings))


def test_window_pads_the_needing_boxes_on_the_grid_takes_in_cut_tracks_and_gives_way_when_large() -> None:
    local = _local(pad_frac=0.5, min_pad_frac=24.0 / 1280, max_view_share=0.4, context_px=0)
    assert (local.box.scale, local.box.pad_left, local.box.pad_top, local.box.canvas_w, local.box.canvas_h) == (0.5, 32, 37, 704, 384)
    needing = np.array([[500.0, 300.0, 600.0, 380.0]])
    # grown by half the box per side (50 px across, 40 down, over 24): 450..650 x 260..420 frame px
    # -> input px 257..357 x 117..197 -> on the 32 px grid 256..384 x 96..224 -> frame px back
    win = local.window(needing, needing)
    assert win.canvas == (256, 96, 384, 224)
    assert win.frame == (448.0, 218.0, 704.0, 474.0)
    # a track the window would cut is taken in whole; one clear of it is not
    others = np.vstack([needing, [[630.0, 330.0, 760.0, 400.0]], [[900.0, 500.0, 1000.0, 560.0]]])
    assert local.window(needing, others).canvas == (256, 96, 416, 224)
    # context: two more 32 px cells of the input on every side
    assert _local(pad_frac=0.5, min_pad_frac=24.0 / 1280, context_px=64).window(needing, needing).canvas == (192, 32, 448, 288)
    # the window may take in the grey border, but its frame px stay inside the view (top y = 100)
    top = local.window(np.array([[10.0, 110.0, 60.0, 150.0]]), np.zeros((0, 4)))
    assert top.canvas[:2] == (0, 0) and top.frame[:2] == (0.0, 100.0)
    # two far-apart needs span most of the view: detect it whole
    assert local.window(np.array([[10.0, 110.0, 60.0, 150.0], [1200.0, 650.0, 1270.0, 710.0]]), np.zeros((0, 4))) is None
    assert local.window(np.zeros((0, 4)), np.zeros((0, 4))) is None


def test_detect_in_a_window_finds_what_the_whole_view_found_there() -> None:
    """On a sample frame, each whole-view box alone as the need: its window (same input pixels on
    the same grid, with context) finds it again with the same box, and a box reaching the window's
    inner edge is dropped."""
    local = _local()
    view = RegionDetector(local.detector, Region(*VIEW), (1280, 720))
    ious, ratios = [], []
    cap = cv2.VideoCapture(str(SAMPLE / "scene.mp4"))
    for k in range(1, 101):
        ok, img = cap.read()
        assert ok
        if k % 20:
            continue
        full = view.detect([img])[0]
        for box, conf in zip(full.xyxy, full.confidence):
            win = local.window(box[None], np.zeros((0, 4)))
            if win is None:  # a near vehicle's window is too large a share of the view: detected whole
                continue
            found = local.detect(img, win)
            best = max(range(len(found)), key=lambda i: _iou(box, found.xyxy[i]), default=None)
            ious.append(0.0 if best is None else _iou(box, found.xyxy[best]))
            ratios.append(0.0 if best is None else float(found.confidence[best] / conf))
    assert len(ious) >= 8 and np.mean(np.array(ious) > 0.8) >= 0.9 and np.median(ious) > 0.95, ious
    assert np.median(ratios) > 0.9, ratios
    # windows ending on a grid line through a vehicle: where the network still sees its cut part,
    # the cut box (within edge_px of the window's inner edge) is not reported
    unfiltered = LocalDetection(view, VIEW, (1280, 720), LocalSettings(edge_px=0.0))
    cut_seen = 0
    for box in full.xyxy:
        u1, v1, u2, v2 = local.box.to_input(box[None])[0]
        for edge in range(int(u1 // 32 * 32 + 32), int(u2), 32):
            cut = local.window_at((max(0, edge - 256), max(0, int(v1 // 32 * 32) - 64), edge, min(384, int(v2 // 32 * 32) + 96)))
            seen = unfiltered.detect(img, cut).xyxy
            cut_seen += int(np.any(seen[:, 2] >= cut.frame[2] - 4))
            assert all(b[2] < cut.frame[2] - 4 for b in local.detect(img, cut).xyxy)
    assert cut_seen >= 1
    with pytest.raises(ValueError, match="32 px grid"):
        local.window_at((0, 0, 100, 64))


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


def test_a_track_the_region_cannot_hold_gets_no_second_track_from_its_detection() -> None:
    """A car 10 px a frame whose last box is inside the region but whose box a frame ahead is not
    stays outside the association; its detection must not start a new track on it (on the
    far-side suite one did, and the duplicate, labelled truck, became a false bus-lane case).
    track_boxes() gives the box a frame ahead, so a window built from it holds the car whole."""
    tracker = RoadTracker(build_scene_geometry(camera_config()), (1280, 720), 25.0)
    for k in range(6):
        tracker.update(k, k / 25, _dets((100.0 + 10 * k, 300.0, 200.0 + 10 * k, 380.0)))
    (settled,) = tracker.flow_boxes()
    ahead = tracker.track_boxes()
    assert ahead.shape == (1, 4) and ahead[0, 0] <= 150.5 and ahead[0, 2] > 256.0  # Kalman velocity ~8 px a frame
    region = (0, 250, 255, 450)  # holds the last box (150..250), not the next (160..260)
    for k in range(6, 10):
        box = (100.0 + 10 * k, 300.0, 200.0 + 10 * k, 380.0)
        tracker.local_update(k, k / 25, _dets(box), region, {settled: np.array(box)})
    tracks = tracker.tracks(min_points=1)
    assert [t.track_id for t in tracks] == [settled]
    assert tracks[0].points[-1].frame == 9

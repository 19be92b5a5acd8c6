"""Motion gating on generated scenes: static frames are skipped, a frame with a moving vehicle never."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from detectors.gating import GateSettings, MotionGate
from detectors.region import Region, region_of_interest
from pipeline.config import load_camera_config

SAMPLES = Path(__file__).resolve().parents[2] / "sample_videos"
FREEZE_AT, FREEZE_FRAMES = 59, 40


def _truth_boxes(scene: Path) -> dict[int, dict[int, np.ndarray]]:
    """frame -> vehicle id -> box px, for every vehicle with a visible box."""
    truth = json.loads((scene / "truth.json").read_text())
    out: dict[int, dict[int, np.ndarray]] = {}
    for v in truth["vehicles"]:
        for f in v["frames"]:
            if f["visible_fraction"] > 0:
                out.setdefault(f["frame"], {})[v["id"]] = np.asarray(f["box_px"])
    return out


def _displacement(boxes: dict, a: int, b: int) -> float:
    """Largest box-coordinate change px of any vehicle from frame a to frame b (inf: one came or went)."""
    A, B = boxes.get(a, {}), boxes.get(b, {})
    worst = 0.0
    for vid in set(A) | set(B):
        if vid not in A or vid not in B:
            return float("inf")
        worst = max(worst, float(np.abs(A[vid] - B[vid]).max()))
    return worst


def _with_freeze(scene: Path, tmp_path: Path) -> tuple[list[np.ndarray], list[int]]:
    """The scene re-encoded (mp4v) with frame FREEZE_AT held for FREEZE_FRAMES more frames: a
    stretch where nothing moves but compression noise changes; each output frame's source index."""
    cap = cv2.VideoCapture(str(scene / "scene.mp4"))
    frames = []
    while len(frames) < 160:
        ok, img = cap.read()
        if not ok:
            break
        frames.append(img)
    cap.release()
    seq = list(range(FREEZE_AT + 1)) + [FREEZE_AT] * FREEZE_FRAMES + list(range(FREEZE_AT + 1, len(frames)))
    path = tmp_path / "frozen.avi"
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (w, h))
    for i in seq:
        writer.write(frames[i])
    writer.release()
    cap = cv2.VideoCapture(str(path))
    decoded = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        decoded.append(img)
    cap.release()
    assert len(decoded) == len(seq)
    return decoded, seq


@pytest.mark.parametrize("grey", ["colour", "flow"])
@pytest.mark.parametrize("scene", ["day-default-s1", "night-s2"])
def test_gate_skips_static_frames_and_never_a_moving_vehicle(scene: str, grey: str, tmp_path: Path) -> None:
    """Gating as the pipeline runs it (reference = last detected frame) on a generated scene with a
    held stretch: every held frame is skipped, and no skipped frame has a vehicle that moved even
    1 px (truth boxes) since the frame the detector last saw. The gate shrinks the colour region
    itself, or (as the pipeline runs it with optical flow) the flow's grey working view."""
    from pipeline.flow import BoxFlow

    folder = SAMPLES / scene
    cfg = load_camera_config(folder / "camera.yaml")
    w, h = cfg.image_size_px
    polygons = [x.polygon_px for x in (*cfg.lanes, *cfg.zones)] + [ln.points_px for ln in cfg.lines]
    region = region_of_interest(polygons, w, h, 0.08 * h)
    gate = MotionGate(region)
    if grey == "flow":
        gate.grey_view = BoxFlow((region.x1, region.y1, region.x2, region.y2)).grey
    boxes = _truth_boxes(folder)
    frames, seq = _with_freeze(folder, tmp_path)
    reference: int | None = None
    skipped: list[tuple[int, float]] = []
    for k, image in enumerate(frames):
        if reference is None or gate.moved(image):
            gate.reference(image)
            reference = seq[k]
        else:
            skipped.append((k, _displacement(boxes, reference, seq[k])))
    held = [k for k, _ in skipped if FREEZE_AT < k <= FREEZE_AT + FREEZE_FRAMES]
    assert len(held) == FREEZE_FRAMES
    moving = [(k, d) for k, d in skipped if d >= 1.0]
    assert moving == []
    assert gate.frames_static == len(skipped)


def _creeping_block(tmp_path: Path, px_per_frame: float, frames: int) -> list[np.ndarray]:
    """Textured grey road with a car-sized dark block creeping right, mp4v-encoded and decoded."""
    rng = np.random.default_rng(0)
    road = cv2.GaussianBlur(rng.integers(70, 130, (360, 640, 3), dtype=np.uint8), (5, 5), 0)
    path = tmp_path / "creep.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (640, 360))
    for k in range(frames):
        img = road.copy()
        x = 200 + k * px_per_frame
        # Sub-pixel position drawn with cv2's fixed-point coordinates (shift=4: 1/16 px).
        cv2.rectangle(img, (int(x * 16), 150 * 16), (int((x + 60) * 16), 190 * 16), (30, 30, 40), -1, cv2.LINE_AA, 4)
        writer.write(img)
    writer.release()
    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        out.append(img)
    return out


def test_slow_motion_adds_up_against_the_last_detected_frame(tmp_path: Path) -> None:
    """A block creeping 0.25 px a frame shows as motion within 8 frames (2 px) of the reference,
    because frames are compared with the last detected frame, not the previous one."""
    frames = _creeping_block(tmp_path, 0.25, 40)
    gate = MotionGate()
    gate.reference(frames[0])
    last = 0
    gaps = []
    for k in range(1, len(frames)):
        if gate.moved(frames[k]):
            gaps.append(k - last)
            gate.reference(frames[k])
            last = k
    assert gaps, "the creeping block was never seen to move"
    assert max(gaps) <= 8
    assert max(k - last, *gaps) <= 8


def test_gate_first_frame_is_motion_and_checks_input() -> None:
    """With no reference every frame is motion; a frame smaller than the region, or of another
    size than the reference, is refused with the reason."""
    gate = MotionGate(Region(0, 0, 100, 100))
    img = np.zeros((120, 160, 3), np.uint8)
    assert gate.moved(img)
    gate.reference(img)
    assert not gate.moved(img)
    with pytest.raises(ValueError, match="smaller than the gate's region"):
        gate.moved(np.zeros((50, 50, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8 BGR"):
        gate.moved(np.zeros((120, 160), np.uint8))
    other = MotionGate()
    other.reference(img)
    with pytest.raises(ValueError, match="differs from the reference"):
        other.changed_px(np.zeros((100, 100, 3), np.uint8))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("work_width_px", 8, "work_width_px"),
        ("threshold", 0, "threshold"),
        ("min_changed_px", 0, "min_changed_px"),
        ("blur_px", 4, "blur_px"),
    ],
)
def test_gate_settings_are_checked(field: str, value: int, message: str) -> None:
    """Bad gate thresholds fail at construction, naming the field."""
    with pytest.raises(ValueError, match=message):
        GateSettings(**{field: value})

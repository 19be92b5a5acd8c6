"""End to end: a short rendered scene is deterministic, readable and its camera.yaml validates."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import yaml

from scenes.generate import SceneFiles, generate_scene

DURATION_S = 0.4  # 10 frames: enough to check the writer and determinism, cheap on 2 shared cores


@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> SceneFiles:
    return generate_scene(tmp_path_factory.mktemp("scene-a"), "red-light", seed=5, duration_s=DURATION_S)


def _first_frame(path) -> np.ndarray:
    cap = cv2.VideoCapture(str(path))
    ok, frame = cap.read()
    cap.release()
    assert ok
    return frame


def test_video_is_readable(scene):
    """scene.mp4 opens with cv2.VideoCapture: 1280x720, 25 fps, the expected frame count."""
    cap = cv2.VideoCapture(str(scene.video))
    try:
        assert cap.isOpened()
        assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 10
        assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(25.0)
        ok, frame = cap.read()
        assert ok and frame.shape == (720, 1280, 3)
    finally:
        cap.release()
    truth = json.loads(scene.truth.read_text())
    assert truth["frame_count"] == 10 and truth["video"] == scene.video.name


def test_same_seed_same_scene(scene, tmp_path):
    """Rendering again with the same seed gives byte-identical truth and an identical first frame."""
    again = generate_scene(tmp_path, "red-light", seed=5, duration_s=DURATION_S)
    assert again.truth.read_bytes() == scene.truth.read_bytes()
    assert again.camera.read_bytes() == scene.camera.read_bytes()
    assert np.array_equal(_first_frame(again.video), _first_frame(scene.video))


def test_camera_yaml_schema(scene):
    """camera.yaml has the agreed keys, in-frame geometry rounded to 0.1 px and >= 8 calibration points."""
    cfg = yaml.safe_load(scene.camera.read_text())
    assert set(cfg) == {"camera_id", "name", "location", "start_time_utc", "image_size_px", "speed_limit_kmh",
                        "calibration", "lanes", "lines", "zones", "signal"}
    assert cfg["camera_id"] == "demo-red-light-s5"
    assert len(cfg["calibration"]["points"]) >= 8
    pts = [p["image_px"] for p in cfg["calibration"]["points"]]
    pts += [p for lane in cfg["lanes"] for p in lane["polygon_px"]]
    pts += [p for line in cfg["lines"] for p in line["points_px"]]
    pts += [p for zone in cfg["zones"] for p in zone["polygon_px"]]
    for x, y in pts:
        assert 0 <= x <= 1280 and 0 <= y <= 720
        assert round(x, 1) == x and round(y, 1) == y
    assert {ln["kind"] for ln in cfg["lines"]} == {"stop_line", "solid", "dashed"}
    assert {z["kind"] for z in cfg["zones"]} == {"no_stopping", "crosswalk", "intersection"}
    assert cfg["signal"]["stop_line"] in {ln["id"] for ln in cfg["lines"] if ln["kind"] == "stop_line"}


def test_camera_yaml_loads_in_the_pipeline(scene):
    """The pipeline's own loader (pydantic, extra keys forbidden, geometry checks) accepts the file."""
    config_mod = pytest.importorskip("pipeline.config")
    cfg = config_mod.load_camera_config(scene.camera)
    assert cfg.image_size_px == (1280, 720) and len(cfg.lanes) == 5
    scene_mod = pytest.importorskip("pipeline.scene")
    geom = scene_mod.build_scene_geometry(cfg)
    assert geom.reprojection_rms_m < 0.05
    stop = geom.lines_m["stop-1"]
    assert np.allclose(stop[:, 1], 35.0, atol=0.05)


def test_unknown_scenario_is_refused(tmp_path):
    """generate_scene raises ValueError listing the valid names and writes nothing."""
    with pytest.raises(ValueError, match="valid names"):
        generate_scene(tmp_path / "x", "no-such-scene")
    assert not (tmp_path / "x").exists()


def test_far_side_view_is_another_calibrated_site(tmp_path):
    """The held-out ``far-side`` view: its own camera id and calibration version, a calibration
    the pipeline accepts (the stop line lands at Y = 35 m again), the vehicles seen from other
    pixels than the default view's, and the view named in truth.json; the motion is the same."""
    kerb = generate_scene(tmp_path / "kerb", "default", seed=3, duration_s=2.0)
    far = generate_scene(tmp_path / "far", "default", seed=3, duration_s=2.0, camera="far-side")
    config_mod = pytest.importorskip("pipeline.config")
    scene_mod = pytest.importorskip("pipeline.scene")
    cfg = config_mod.load_camera_config(far.camera)
    assert cfg.camera_id == "demo-default-s3-far-side"
    assert cfg.calibration.version == "synthetic-default-3-far-side"
    assert config_mod.load_camera_config(kerb.camera).camera_id == "demo-default-s3"
    geom = scene_mod.build_scene_geometry(cfg)
    assert geom.reprojection_rms_m < 0.05
    assert np.allclose(geom.lines_m["stop-1"][:, 1], 35.0, atol=0.05)
    t_kerb, t_far = json.loads(kerb.truth.read_text()), json.loads(far.truth.read_text())
    assert "camera_view" not in t_kerb and t_far["camera_view"] == "far-side"
    seen = [v for v in t_far["vehicles"] if v["frames"]]
    assert seen, "no vehicle in view from the far side"
    by_id = {v["id"]: v for v in t_kerb["vehicles"]}
    moved = 0
    for v in seen:
        other = {f["frame"]: f for f in by_id[v["id"]]["frames"]}
        for f in v["frames"]:
            if f["frame"] in other:
                assert f["road_m"] == other[f["frame"]]["road_m"]  # same motion, another view
                moved += f["box_px"] != other[f["frame"]]["box_px"]
    assert moved > 0


def test_unknown_camera_view_is_refused(tmp_path):
    """An unknown view names the valid ones and writes nothing."""
    with pytest.raises(ValueError, match="valid views: kerb, far-side, gantry, mast"):
        generate_scene(tmp_path / "x", "default", camera="drone")
    assert not (tmp_path / "x").exists()


def test_a_view_without_sky_renders(tmp_path):
    """The mast camera is pitched so far down that its horizon lies above the image: the scene
    renders with no sky rows (it failed in the sky's resize) and its vehicles are boxed."""
    from scenes.camera import mast_camera

    assert mast_camera().horizon_y_px() < 0
    files = generate_scene(tmp_path / "mast", "default", seed=51, duration_s=2.0, camera="mast")
    truth = json.loads(files.truth.read_text())
    assert truth["camera_view"] == "mast"
    assert any(v["frames"] for v in truth["vehicles"])

"""Public entry point: render a synthetic enforcement scene with its camera config and truth.

    >>> from scenes.generate import generate_scene
    >>> files = generate_scene(Path("out/demo"), scenario="default", seed=0)  # doctest: +SKIP

Writes ``scene.mp4`` (1280x720, 25 fps, H.264), ``camera.yaml`` and ``truth.json`` into the
output folder. Everything is deterministic given (scenario, seed, duration).
Run ``python -m scenes.generate --help`` for a command line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from scenes.camera import CAMERA_VIEWS, DEFAULT_VIEW, PinholeCamera, camera_view
from scenes.camera_yaml import camera_config, write_camera_yaml
from scenes.cast import STREAM_APPEARANCE, STREAM_BACKGROUND, STREAM_FRAME, CastMember, sample_cast, sample_walkers
from scenes.kinematics import Trajectories, simulate
from scenes.layout import RoadLayout, default_layout
from scenes.mesh import Mesh, lighting_for
from scenes.painter import Pose, VehicleView, project_vehicle
from scenes.people import Walker, draw_person, figure_box
from scenes.plates import PlateRaster
from scenes.postfx import SensorNoise
from scenes.render import FrameRenderer, VehicleRender
from scenes.rules import RuleContext, Violation, find_violations
from scenes.scenarios import SCENARIOS, Scenario, get_scenario, list_scenarios
from scenes.turns import MIN_HEADING_CHANGE_DEG, TURN_AREAS_M
from scenes.truth import TruthHeader, frame_record, frame_truth, lane_of, truth_document, write_json
from scenes.world import build_backdrop, lamp_light_at, street_lamps
from pipeline.encode import H264Writer

__all__ = ["SCENARIOS", "SceneFiles", "ScenePlan", "generate_scene", "list_scenarios", "plan_scene", "build_truth"]

logger = logging.getLogger(__name__)

FPS = 25.0
SPEED_LIMIT_KMH = 60
SPEED_TOLERANCE_KMH = 10
#: Bishkek local time (UTC+6) shown in the on-screen clock.
_LOCAL = dt.timezone(dt.timedelta(hours=6))


@dataclass(frozen=True)
class SceneFiles:
    """Paths of one generated scene."""

    video: Path
    camera: Path
    truth: Path


@dataclass(frozen=True)
class ScenePlan:
    """Everything about a scene except its pixels: cast, trajectories, meshes, camera."""

    scenario: Scenario
    seed: int
    duration_s: float
    fps: float
    frame_count: int
    camera: PinholeCamera
    layout: RoadLayout
    cast: tuple[CastMember, ...]
    traj: Trajectories
    meshes: tuple[Mesh, ...]
    walkers: tuple[Walker, ...] = ()
    camera_view: str = "kerb"


def plan_scene(scenario: str = "default", seed: int = 0, duration_s: float | None = None,
               camera: str = "kerb") -> ScenePlan:
    """Draw the cast and simulate it (cheap; no rendering).

    ``camera`` names the site geometry (:data:`scenes.camera.CAMERA_VIEWS`); the cast and its
    motion do not depend on it, only what is seen.

    Raises:
        ValueError: unknown scenario or camera view (the message lists the valid names), bad
            duration or seed.
    """
    sc = get_scenario(scenario)
    view = camera_view(camera)
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    duration = sc.duration_s if duration_s is None else float(duration_s)
    if not 1.0 / FPS <= duration <= 600.0:
        raise ValueError(f"duration_s must be between {1 / FPS} and 600 s, got {duration}")
    layout = default_layout(sc.bus_lane)
    cast = sample_cast(sc, int(seed), layout)
    traj = simulate([c.actor for c in cast], layout, sc.signal, duration, FPS)
    lighting = lighting_for(sc.lighting)
    from scenes.vehicles import build_vehicle_mesh  # heavy-ish; keep plan imports light

    rng = np.random.default_rng([int(seed), STREAM_APPEARANCE, 7])
    meshes = tuple(build_vehicle_mesh(c.body, lighting, c.actor.direction, rng) for c in cast)
    n_frames = int(round(duration * FPS))
    return ScenePlan(sc, int(seed), duration, FPS, n_frames, view, layout, tuple(cast), traj, meshes,
                     tuple(sample_walkers(sc, int(seed))), camera)


def _views(plan: ScenePlan, frame: int) -> list[tuple[int, Mesh, Pose, VehicleView]]:
    step = frame * plan.traj.steps_per_frame
    out = []
    for i, member in enumerate(plan.cast):
        if not plan.traj.alive[i, step]:
            continue
        t = plan.traj
        pose = Pose(float(t.x_m[i, step]), float(t.y_m[i, step]), float(t.hx[i, step]), float(t.hy[i, step]))
        view = project_vehicle(plan.meshes[i], pose, member.body.length_m, member.body.width_m, plan.camera)
        if view is not None:
            out.append((i, plan.meshes[i], pose, view))
    return out


class _TruthCollector:
    """Accumulates per-frame truth records while frames are produced."""

    def __init__(self, plan: ScenePlan) -> None:
        self.plan = plan
        self.frames: list[list[dict]] = [[] for _ in plan.cast]
        self.in_view = np.zeros((len(plan.cast), plan.frame_count), dtype=bool)
        self.walker_frames: list[list[dict]] = [[] for _ in plan.walkers]
        self.walker_in_view = np.zeros((len(plan.walkers), plan.frame_count), dtype=bool)

    def add(self, frame: int, views: list[tuple[int, Mesh, Pose, VehicleView]]) -> None:
        p, step = self.plan, frame * self.plan.traj.steps_per_frame
        for i, ft in frame_truth(views, p.camera).items():
            a = p.cast[i].actor
            t = p.traj
            cx = float(t.x_m[i, step] - 0.5 * a.length_m * t.hx[i, step])
            speed = float(np.hypot(t.vx_mps[i, step], t.vy_mps[i, step]))
            self.frames[i].append(frame_record(frame, p.fps, ft, float(t.x_m[i, step]), float(t.y_m[i, step]), speed,
                                               lane_of(p.layout, cx)))
            self.in_view[i, frame] = True
        w_px, h_px = p.camera.width_px, p.camera.height_px
        for j, walker in enumerate(p.walkers):
            xs, ys = walker.position(np.array([frame / p.fps]))
            box = figure_box(p.camera, float(xs[0]), float(ys[0]), walker.height_m)
            if box is None or box[0] < 0 or box[1] < 0 or box[2] > w_px or box[3] > h_px:
                continue  # a pedestrian gets a truth box only when wholly in the image
            self.walker_frames[j].append({"frame": frame, "t_s": round(frame / p.fps, 4), "box_px": [round(v, 1) for v in box],
                                          "road_m": [round(float(xs[0]), 3), round(float(ys[0]), 3)]})
            self.walker_in_view[j, frame] = True

    def document(self) -> tuple[dict, list[Violation]]:
        p = self.plan
        sc = p.scenario
        forbidden = {kind: (np.array(TURN_AREAS_M[kind][0][1]), np.array(TURN_AREAS_M[kind][1][1]), MIN_HEADING_CHANGE_DEG[kind])
                     for kind in sc.forbidden}
        ctx = RuleContext(p.layout, sc.signal, self.in_view, p.fps, p.duration_s, SPEED_LIMIT_KMH, SPEED_TOLERANCE_KMH,
                          dt.datetime.fromisoformat(sc.start_time_utc.replace("Z", "+00:00")), sc.bus_windows, forbidden,
                          p.walkers, self.walker_in_view)
        violations = find_violations([c.actor for c in p.cast], p.traj, ctx, [c.body.vclass for c in p.cast])
        vehicles = []
        for i, c in enumerate(p.cast):
            vehicles.append({
                "id": c.actor.id, "class": c.body.vclass, "plate": c.plate, "plate_country": "KG",
                "color": c.body.color_name, "length_m": c.body.length_m, "width_m": c.body.width_m,
                "height_m": c.body.height_m, "direction": c.actor.direction, "role": c.actor.label,
                "frames": self.frames[i],
            })
        header = TruthHeader(p.scenario.name, p.seed, p.scenario.lighting, p.fps, p.frame_count,
                             (p.camera.width_px, p.camera.height_px), p.scenario.start_time_utc, SPEED_LIMIT_KMH,
                             SPEED_TOLERANCE_KMH)
        doc = truth_document(header, p.scenario.signal, p.duration_s, vehicles, violations)
        if p.camera_view != DEFAULT_VIEW:
            doc["camera_view"] = p.camera_view
        doc["pedestrians"] = [{"id": w.id, "role": spec.label, "height_m": round(w.height_m, 3), "frames": self.walker_frames[j]}
                              for j, (w, spec) in enumerate(zip(p.walkers, p.scenario.walkers))]
        return doc, violations


def build_truth(plan: ScenePlan) -> dict:
    """The truth.json document of a planned scene, without rendering any pixels."""
    collector = _TruthCollector(plan)
    for k in range(plan.frame_count):
        collector.add(k, _views(plan, k))
    return collector.document()[0]


def generate_scene(out_dir: Path, scenario: str = "default", seed: int = 0, duration_s: float | None = None,
                   camera: str = "kerb") -> SceneFiles:
    """Render ``scenario`` with ``seed`` into ``out_dir`` (created if missing).

    Args:
        out_dir: output folder; scene.mp4, camera.yaml and truth.json are (over)written there.
        scenario: a name from :data:`SCENARIOS`.
        seed: varies plates, colours, exact times and speeds (not the set of events).
        duration_s: override the scenario's length, s.
        camera: site geometry, a name of :data:`scenes.camera.CAMERA_VIEWS` (default ``kerb``).

    Returns:
        The three output paths.

    Raises:
        ValueError: unknown scenario or camera view (listing valid names), bad seed or duration.
        OSError: the video could not be written or read back with the expected frame count.
    """
    t_start = time.perf_counter()
    plan = plan_scene(scenario, seed, duration_s, camera)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sc, cam = plan.scenario, plan.camera
    lighting = lighting_for(sc.lighting)
    backdrop = build_backdrop(cam, plan.layout, sc.lighting, np.random.default_rng([plan.seed, STREAM_BACKGROUND]))
    plate_rng = np.random.default_rng([plan.seed, STREAM_APPEARANCE, 11])
    plates = [PlateRaster.build(c.plate, c.body.vclass, plate_rng) for c in plan.cast]
    noise = SensorNoise(cam.height_px, cam.width_px, sc.lighting, plan.seed, STREAM_FRAME)
    renderer = FrameRenderer(cam, backdrop, lighting, noise, "CAM 01 CHUI-AVE", plan.seed, street_lamps(plan.layout))
    video = out_dir / "scene.mp4"
    writer = H264Writer(video, plan.fps, (cam.width_px, cam.height_px))
    collector = _TruthCollector(plan)
    start = dt.datetime.fromisoformat(sc.start_time_utc.replace("Z", "+00:00"))
    t_render = 0.0
    try:
        for k in range(plan.frame_count):
            views = _views(plan, k)
            collector.add(k, views)
            step = k * plan.traj.steps_per_frame
            items = [
                VehicleRender(i, mesh, plates[i], pose, view,
                              (float(plan.traj.vx_mps[i, step]), float(plan.traj.vy_mps[i, step])),
                              plan.cast[i].body.length_m, plan.cast[i].body.width_m, plan.cast[i].body.height_m,
                              plan.cast[i].actor.direction == "toward")
                for i, mesh, pose, view in views
            ]
            t = k / plan.fps
            clock = (start + dt.timedelta(seconds=t)).astimezone(_LOCAL).strftime("%Y-%m-%d %H:%M:%S")
            t0 = time.perf_counter()
            people = [(float(np.linalg.norm(cam.centre - np.array([*(float(v[0]) for v in w.position(np.array([t]))), 0.0]))),
                       lambda img, w=w, t=t: draw_person(img, cam, w, t, _person_light(sc.lighting, w, t, plan)))
                      for w in plan.walkers]
            frame = renderer.render(k, sc.signal.state_at(t), items, clock, people)
            t_render += time.perf_counter() - t0
            writer.write(frame)
    finally:
        writer.close()
    _check_video(video, plan.frame_count)
    doc, violations = collector.document()
    truth_path = out_dir / "truth.json"
    write_json(truth_path, doc)
    cam_path = out_dir / "camera.yaml"
    write_camera_yaml(cam_path, camera_config(cam, plan.layout, backdrop.signal, sc.signal, scenario=sc.name, seed=plan.seed,
                                              start_time_utc=sc.start_time_utc, speed_limit_kmh=SPEED_LIMIT_KMH,
                                              view=plan.camera_view, **site_rules(sc)))
    logger.info(
        "scene generated scenario=%s seed=%d frames=%d vehicles=%d violations=%d render_ms_per_frame=%.1f total_s=%.1f "
        "video_mb=%.2f out=%s", sc.name, plan.seed, plan.frame_count, len(plan.cast), len(violations),
        1000 * t_render / max(plan.frame_count, 1), time.perf_counter() - t_start, video.stat().st_size / 1e6, out_dir)
    return SceneFiles(video, cam_path, truth_path)


def _person_light(lighting: str, w: Walker, t: float, plan: ScenePlan) -> float:
    """Brightness of a pedestrian's colours: full by day, street lamps and ambient at dusk and night."""
    if lighting == "day":
        return 1.0
    xs, ys = w.position(np.array([t]))
    lamp = min(lamp_light_at(street_lamps(plan.layout), float(xs[0]), float(ys[0])), 1.0)
    return (0.75 if lighting == "dusk" else 0.45) + 0.5 * lamp


def site_rules(sc: Scenario) -> dict:
    """The scenario's site-specific camera.yaml parts: turn areas and the rules section."""
    rules: dict = {}
    areas = []
    if sc.bus_lane is not None:
        rules["bus_lane"] = {"windows": [{"start": a, "end": b} for a, b in sc.bus_windows]}
    if sc.forbidden:
        manoeuvres = []
        for kind in sc.forbidden:
            (in_id, in_poly), (out_id, out_poly) = TURN_AREAS_M[kind]
            areas += [(in_id, in_poly), (out_id, out_poly)]
            manoeuvres.append({"id": f"no-{kind.replace('_', '-')}", "kind": kind, "entry_zone": in_id, "exit_zone": out_id,
                               "min_heading_change_deg": MIN_HEADING_CHANGE_DEG[kind]})
        rules["forbidden_turn"] = {"manoeuvres": manoeuvres}
    return {"rules": rules, "turn_areas": areas}


def _check_video(path: Path, expected_frames: int) -> None:
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise OSError(f"{path}: written video cannot be opened by cv2.VideoCapture")
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        cap.release()
    if n != expected_frames:
        raise OSError(f"{path}: video has {n} frames, expected {expected_frames}")


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m scenes.generate --scenario night --seed 3 --out out/night``."""
    parser = argparse.ArgumentParser(description="Render a synthetic Safe City enforcement scene.")
    parser.add_argument("--scenario", default="default", help=f"one of: {', '.join(list_scenarios())}")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--duration-s", type=float, default=None)
    parser.add_argument("--camera", default="kerb", help=f"site geometry: one of {', '.join(CAMERA_VIEWS)} (default {DEFAULT_VIEW})")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        generate_scene(args.out, args.scenario, args.seed, args.duration_s, args.camera)
    except ValueError as exc:
        logger.error("%s", exc)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

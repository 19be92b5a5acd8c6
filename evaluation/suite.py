"""Scenario suite: generate scenes, process them, and pool the scores.

Each (scenario, seed) is rendered fresh, processed with the real detector and scored against
its truth; counts are summed per violation type and speed errors pooled, so the figures are
over the whole suite rather than an average of per-scene ratios.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from detectors.base import Detector
from evaluation.scoring import EvalReport, TypeScore, evaluate_files
from exchange.home import Home
from pipeline.config import load_camera_config
from pipeline.run import ProcessOptions, process_video, result_document, tracks_document, write_json_atomic
from safecity.errors import InputError

log = logging.getLogger(__name__)


class ScenePick(NamedTuple):
    """One scene of a run: scenario, seed and the site geometry it is seen from."""

    scenario: str
    seed: int
    camera: str = "kerb"

    @property
    def label(self) -> str:
        """Folder name and log label: ``default-s7``, or ``default-s7-far-side`` for another view."""
        from scenes.camera import view_suffix

        return f"{self.scenario}-s{self.seed}{view_suffix(self.camera)}"


class SuiteEntry(BaseModel):
    """One scenario of a suite, the seeds it is rendered with and the camera view (default ``kerb``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    scenario: str = Field(min_length=1)
    seeds: list[int] = Field(min_length=1)
    camera: str = "kerb"

    @field_validator("scenario")
    @classmethod
    def _known(cls, value: str) -> str:
        from scenes.scenarios import get_scenario

        get_scenario(value)  # raises with the valid names and a "did you mean"
        return value

    @field_validator("camera")
    @classmethod
    def _view(cls, value: str) -> str:
        from scenes.camera import camera_view

        camera_view(value)  # raises with the valid names
        return value

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, value: list[int]) -> list[int]:
        if any(s < 0 for s in value) or len(set(value)) != len(value):
            raise ValueError(f"seeds must be distinct non-negative integers, got {value}")
        return value


class SuiteDefinition(BaseModel):
    """A committed suite (``scenes/suites/*.yaml``): which scenes the figures are measured on."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1)
    description: str = ""
    scenes: list[SuiteEntry] = Field(min_length=1)

    def pairs(self) -> list[ScenePick]:
        """(scenario, seed, camera) in file order."""
        return [ScenePick(e.scenario, seed, e.camera) for e in self.scenes for seed in e.seeds]


def load_suite(path: str | Path) -> SuiteDefinition:
    """Read and validate a suite definition.

    Raises:
        InputError: naming the file, each bad field and the problem.
    """
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read suite definition: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: suite definition is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise InputError(f"{path}: invalid suite definition: top level must be a mapping with name and scenes")
    try:
        return SuiteDefinition.model_validate(raw)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        ]
        raise InputError(f"{path}: invalid suite definition:\n  " + "\n  ".join(problems)) from exc


@dataclass
class SuiteResult:
    """Pooled scores over every scene of a suite, plus each scene's own report."""

    scenes: list[tuple[ScenePick, EvalReport]] = field(default_factory=list)
    frames: int = 0
    seconds: float = 0.0

    def pooled(self) -> EvalReport:
        types: dict[str, TypeScore] = {}
        errors: list[float] = []
        true_speeds: list[float] = []
        tracked = vehicles = false_tracks = 0
        unmatched: list[dict] = []
        for pick, rep in self.scenes:
            for t in rep.types:
                acc = types.setdefault(t.type, TypeScore(t.type, 0, 0, 0))
                acc.truth += t.truth
                acc.reported += t.reported
                acc.true_positives += t.true_positives
            errors += rep.speed_errors_kmh
            true_speeds += rep.speed_true_kmh
            tracked += rep.vehicles_tracked
            vehicles += rep.vehicles_total
            false_tracks += rep.false_tracks
            unmatched += [dict(u, scenario=pick.scenario, seed=pick.seed, camera=pick.camera) for u in rep.unmatched]
        recalls = [r.detection_recall for _, r in self.scenes if r.detection_recall is not None]
        return EvalReport(
            sorted(types.values(), key=lambda t: t.type), errors,
            float(np.mean(recalls)) if recalls else None, tracked, vehicles, false_tracks, unmatched, true_speeds,
        )


def run_suite(
    scenarios: list[str], seeds: list[int], work_dir: Path, detector: Detector, model_name: str,
    duration_s: float | None = None,
    options: ProcessOptions | None = None,
    home: Home | None = None,
    camera: str = "kerb",
) -> SuiteResult:
    """Generate, process and score every (scenario, seed) pair under ``work_dir``, seen from ``camera``."""
    pairs = [ScenePick(scenario, seed, camera) for scenario in scenarios for seed in seeds]
    return run_scenes(pairs, work_dir, detector, model_name, duration_s, options, home)


def run_scenes(
    pairs: list[ScenePick] | list[tuple[str, int]], work_dir: Path, detector: Detector, model_name: str,
    duration_s: float | None = None,
    options: ProcessOptions | None = None,
    home: Home | None = None,
) -> SuiteResult:
    """Generate, process and score each (scenario, seed[, camera]) of ``pairs`` under ``work_dir``.

    Args:
        home: the home folder whose ``info_provider`` key signs each evidence package's
            manifest, as ``safecity process`` does (default: ``SAFECITY_HOME``, created on
            first use), so the suite's evidence is what production stores.
    """
    from exchange.home import init_home
    from pipeline.manifest import EvidenceSigner
    from scenes.generate import generate_scene

    signer = EvidenceSigner.from_home(home if home is not None else init_home())
    result = SuiteResult()
    for pick in (ScenePick(*p) for p in pairs):
        scene_dir = work_dir / pick.label
        files = generate_scene(scene_dir / "scene", scenario=pick.scenario, seed=pick.seed, duration_s=duration_s,
                               camera=pick.camera)
        config = load_camera_config(files.camera)
        digest = hashlib.sha256(Path(files.camera).read_bytes()).hexdigest()
        run = process_video(files.video, config, digest, detector, model_name, scene_dir / "run" / "evidence", options,
                            signer=signer)
        write_json_atomic(scene_dir / "run" / "tracks.json", tracks_document(run))
        write_json_atomic(scene_dir / "run" / "violations.json", result_document(run))
        report = evaluate_files(files.truth, scene_dir / "run" / "violations.json")
        result.scenes.append((pick, report))
        result.frames += run.frames
        result.seconds += run.seconds
        log.info("suite scene=%s frames=%d", pick.label, run.frames)
    return result

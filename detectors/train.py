"""Fine-tune the vehicle detector: ultralytics ``yolov5nu`` initialised from the COCO YOLOv5n.

Reproducible from one config file::

    YOLO_OFFLINE=1 .venv-train/bin/python -m detectors.train --config detectors/train-vehicles.yaml

Steps: build the data set from many views (:mod:`detectors.train_data`; a whole camera view held
out as validation); build ``yolov5nu.yaml`` with our classes and copy layers 0-23 (backbone and
neck, 342 tensors whose shapes all match) from ``yolov5n_coco.pt``, the anchor-free head (layer
24) starting fresh; train in stages, the first with the early backbone frozen so the new head
learns before the COCO features can drift; score the result and the COCO ONNX model on the
held-out view with :mod:`detectors.scoring`. Writes ``<out_dir>/metrics.json`` and the weights
``<out_dir>/stage-K/weights/best.pt`` (plus ``best.onnx`` when ``export_onnx``).
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

logger = logging.getLogger(__name__)

_M = TypeVar("_M", bound=BaseModel)
_R = TypeVar("_R", bound="RunConfig")

#: Layers of yolov5nu.yaml whose tensors are copied from the YOLOv5 v6 checkpoint (all but Detect).
COPIED_LAYERS = range(0, 24)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VideoData(_Strict):
    use: bool = True
    every_n_frames: int = Field(default=15, ge=1, description="take every n-th frame of each clip")
    max_frames_per_clip: int = Field(default=40, ge=1)
    teacher_conf: float = Field(
        default=0.4, gt=0, lt=1, description="teacher boxes kept at or above this score"
    )
    exclude: list[str] = Field(
        default_factory=list, description="clip file names left out (e.g. held out)"
    )


class SceneData(_Strict):
    use: bool = True
    scenarios: list[str] = ["default", "night", "dusk"]
    seeds: list[int] = [0, 1]
    duration_s: float = Field(default=8.0, gt=0)
    every_n_frames: int = Field(default=10, ge=1)
    max_occluded_fraction: float = Field(default=0.6, ge=0, le=1)
    cameras: list[str] = Field(
        default=["kerb"], min_length=1,
        description="camera views every scene is rendered from (scenes.camera.CAMERA_VIEWS); hold one out to evaluate",
    )

    @field_validator("cameras")
    @classmethod
    def _views(cls, value: list[str]) -> list[str]:
        from scenes.camera import camera_view

        for name in value:
            camera_view(name)  # raises with the valid names
        return value


class SharedData(_Strict):
    """The ``data`` section of every training config: at least where ../shared/data is."""

    shared_data: Path = Field(description="the shared/data folder, relative to the config file")


class DataConfig(SharedData):
    ngsim_train: list[str] = ["Sequence1"]
    ngsim_holdout: list[str] = Field(
        default=["Sequence4"], description="camera views never trained on"
    )
    coco128_train: list[str] = ["train2017"]
    coco128_holdout: list[str] = ["val2017"]
    videos: VideoData = VideoData()
    scenes: SceneData = SceneData()
    max_train_images: int | None = Field(
        default=None, ge=1, description="cap (smoke tests), taken evenly"
    )


class Stage(_Strict):
    epochs: int = Field(ge=1)
    freeze: int = Field(
        default=0, ge=0, le=24, description="first N layers frozen (10 = the backbone)"
    )
    lr0: float = Field(default=0.002, gt=0, lt=1)


class RunConfig(_Strict):
    """What every training run has (vehicles here, plates in :mod:`detectors.train_plates`):
    where it writes, what it starts from, how :func:`train_stages` trains, and its data."""

    out_dir: Path
    checkpoint: Path
    seed: int = 0
    imgsz: int = Field(default=640, ge=32, multiple_of=32)
    batch: int = Field(default=8, ge=1)
    device: str = "cpu"
    threads: int = Field(default=1, ge=1, description="torch CPU threads")
    workers: int = Field(default=0, ge=0)
    stages: list[Stage] = Field(min_length=1)
    data: SharedData


class TrainConfig(RunConfig):
    checkpoint: Path = Field(description="YOLOv5 v6.x COCO checkpoint (yolov5n_coco.pt)")
    model_yaml: str = "yolov5nu.yaml"
    classes: list[str] = ["car", "motorcycle", "bus", "truck"]
    export_onnx: bool = True
    data: DataConfig


def read_yaml_config(path: Path, model: type[_M]) -> _M:
    """Read ``path`` and validate it as ``model`` (paths inside are left as written).

    Raises:
        ValueError: unreadable or invalid, naming the file and each bad field.
    """
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return model.model_validate(raw)
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot read the training config: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ValueError(f"{path}: invalid training config: {problems}") from exc


def load_run_config(path: Path, model: type[_R]) -> _R:
    """Read and validate a training config as ``model``; its paths (``out_dir``, ``checkpoint``,
    ``data.shared_data``) are taken relative to the config file.

    Raises:
        ValueError: unreadable or invalid, naming the file and each bad field.
    """
    config = read_yaml_config(path, model)
    base = path.resolve().parent
    data = config.data.model_copy(
        update={"shared_data": (base / config.data.shared_data).resolve()}
    )
    return config.model_copy(
        update={
            "out_dir": (base / config.out_dir).resolve(),
            "checkpoint": (base / config.checkpoint).resolve(),
            "data": data,
        }
    )


def load_config(path: Path) -> TrainConfig:
    """Read and validate a vehicle training config (:func:`load_run_config`).

    Raises:
        ValueError: unreadable or invalid, naming the file and each bad field.
    """
    return load_run_config(path, TrainConfig)


def start_run(config: RunConfig) -> None:
    """Ready this process for a reproducible run: ultralytics offline, torch's CPU threads, the
    seeds of ``random``, numpy and torch, and the output folder."""
    from detectors.ultralytics_yolo import prepare_offline_env

    prepare_offline_env()
    import numpy as np
    import torch

    torch.set_num_threads(config.threads)
    # ultralytics' select_device() resets torch's threads to its NUM_THREADS (CPU count - 1, so one
    # thread on a 2-core machine) when it trains on the CPU; make it keep the configured number.
    import ultralytics.utils.torch_utils as ultralytics_torch

    ultralytics_torch.NUM_THREADS = config.threads
    random.seed(config.seed)
    np.random.seed(config.seed)
    torch.manual_seed(config.seed)
    config.out_dir.mkdir(parents=True, exist_ok=True)


def parse_run_args(
    argv: list[str] | None, description: str, what: str, held_out: str, load: Callable[[Path], _R]
) -> tuple[argparse.Namespace, _R | None]:
    """The trainers' command line (``--config``, ``--skip-eval``), logging set up, and the config
    loaded with ``load``; the config is None (the error logged) when it is invalid or its
    checkpoint is not a file, so ``main`` returns 2 before any training starts.

    Args:
        what: what the config configures, for ``--config``'s help ("plate training").
        held_out: what ``--skip-eval`` skips ("the held-out views").
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--config", type=Path, required=True, help=f"{what} config YAML")
    parser.add_argument("--skip-eval", action="store_true", help=f"do not score {held_out}")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    try:
        config = load(args.config)
    except ValueError as exc:
        logger.error("%s", exc)
        return args, None
    if not config.checkpoint.is_file():
        logger.error("checkpoint not found: %s", config.checkpoint)
        return args, None
    return args, config


def build_dataset(config: TrainConfig) -> Path:
    """Write ``<out_dir>/dataset`` (train = all sources, val = held-out views); returns data.yaml."""
    from detectors.models import COCO_VEHICLE_MODEL
    from detectors.onnx_yolo import OnnxYoloDetector
    from detectors.train_data import (
        coco128_samples,
        ngsim_samples,
        scene_samples,
        video_samples,
        write_yolo_dataset,
    )

    data = config.data
    vehicles = data.shared_data / "vehicles"
    train = ngsim_samples(vehicles / "ngsim_us101", data.ngsim_train)
    train += coco128_samples(vehicles / "coco128_vehicles", data.coco128_train)
    if data.videos.use:
        teacher = OnnxYoloDetector(
            COCO_VEHICLE_MODEL,
            classes=config.classes,
            conf_threshold=data.videos.teacher_conf,
            agnostic_nms=True,
        )
        clips = sorted(
            p
            for p in (data.shared_data / "videos").iterdir()
            if p.suffix.lower() in {".mp4", ".avi", ".mov"} and p.name not in data.videos.exclude
        )
        train += video_samples(
            clips, teacher, data.videos.every_n_frames, data.videos.max_frames_per_clip
        )
    if data.scenes.use:
        s = data.scenes
        train += scene_samples(
            config.out_dir / "scenes",
            s.scenarios,
            s.seeds,
            s.duration_s,
            s.every_n_frames,
            s.max_occluded_fraction,
            s.cameras,
        )
    if data.max_train_images is not None and len(train) > data.max_train_images:
        step = len(train) / data.max_train_images
        train = [train[int(i * step)] for i in range(data.max_train_images)]
    val = ngsim_samples(vehicles / "ngsim_us101", data.ngsim_holdout)
    root = config.out_dir / "dataset"
    data_yaml, n_train, n_val = write_yolo_dataset(root, train, val, config.classes)
    logger.info(
        "dataset train=%d val=%d (held-out views %s) root=%s",
        n_train,
        n_val,
        data.ngsim_holdout,
        root,
    )
    return data_yaml


def initial_model(config: TrainConfig) -> Path:
    """``yolov5nu.yaml`` with our classes, layers 0-23 copied from the COCO checkpoint, saved as an
    ultralytics checkpoint (so its trainer keeps these weights instead of rebuilding from yaml).

    Raises:
        ValueError: a copied tensor's shape differs (the checkpoint is not YOLOv5n v6).
    """
    import torch
    from ultralytics.nn.tasks import DetectionModel

    from detectors.export_yolov5 import load_yolov5_checkpoint

    coco = load_yolov5_checkpoint(config.checkpoint)["state_dict"]
    model = DetectionModel(config.model_yaml, nc=len(config.classes), verbose=False)
    model.names = dict(enumerate(config.classes))
    target = model.state_dict()
    copied = 0
    for key, tensor in coco.items():
        layer = int(key.split(".")[1])
        if layer not in COPIED_LAYERS:
            continue
        if key not in target or target[key].shape != tensor.shape:
            raise ValueError(
                f"{config.checkpoint}: tensor {key} {tuple(tensor.shape)} does not fit {config.model_yaml}"
            )
        target[key] = tensor.clone()
        copied += 1
    model.load_state_dict(target)
    logger.info(
        "initialised %s from %s tensors=%d (layers 0-23)",
        config.model_yaml,
        config.checkpoint.name,
        copied,
    )
    path = config.out_dir / "init.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model, "train_args": {}, "epoch": -1, "date": None, "version": None}, path)
    return path


def train_stages(config: RunConfig, data_yaml: Path, init: Path, **train_args: Any) -> Path:
    """Train each stage from the previous stage's last weights; the final best.pt.

    ``train_args`` go to ultralytics' ``train`` as they are (e.g. augmentation settings).
    """
    from ultralytics import YOLO

    weights = init
    for k, stage in enumerate(config.stages, start=1):
        logger.info(
            "stage=%d epochs=%d freeze=%d lr0=%g from=%s",
            k,
            stage.epochs,
            stage.freeze,
            stage.lr0,
            weights,
        )
        YOLO(str(weights), task="detect").train(
            data=str(data_yaml),
            epochs=stage.epochs,
            freeze=stage.freeze or None,
            lr0=stage.lr0,
            imgsz=config.imgsz,
            batch=config.batch,
            device=config.device,
            workers=config.workers,
            seed=config.seed,
            deterministic=True,
            project=str(config.out_dir),
            name=f"stage-{k}",
            exist_ok=True,
            plots=False,
            amp=False,
            pretrained=True,
            verbose=False,
            **train_args,
        )
        run = config.out_dir / f"stage-{k}" / "weights"
        weights = run / "last.pt"
    return weights.parent / "best.pt"


def score_holdout(config: TrainConfig, weights: Path) -> dict[str, Any]:
    """Any-vehicle and per-class scores on the held-out views, trained model vs the COCO model."""
    from detectors.labels import read_coco_json, read_yolo_txt, COCO_IDS
    from detectors.models import COCO_VEHICLE_MODEL
    from detectors.onnx_yolo import OnnxYoloDetector
    from detectors.scoring import score_labelled_set
    from detectors.ultralytics_yolo import UltralyticsDetector

    vehicles = config.data.shared_data / "vehicles"
    sets = {
        f"ngsim_us101/{seq}": read_coco_json(
            vehicles / "ngsim_us101" / seq / "annotations" / "GT.json",
            vehicles / "ngsim_us101" / seq / "images",
        )
        for seq in config.data.ngsim_holdout
    }
    for split in config.data.coco128_holdout:
        root = vehicles / "coco128_vehicles"
        sets[f"coco128_vehicles/{split}"] = read_yolo_txt(
            root / "images" / split, root / "labels" / split, COCO_IDS
        )
    detectors = {
        "fine-tuned": UltralyticsDetector(
            weights,
            classes=config.classes,
            conf_threshold=0.001,
            device=config.device,
            input_size=config.imgsz,
        ),
        "coco-yolov5n": OnnxYoloDetector(
            COCO_VEHICLE_MODEL, classes=config.classes, conf_threshold=0.001
        ),
    }
    return {
        name: {label: score_labelled_set(det, items).to_dict() for label, det in detectors.items()}
        for name, items in sets.items()
    }


def main(argv: list[str] | None = None) -> int:
    args, config = parse_run_args(
        argv, __doc__.split("\n\n")[0], "training", "the held-out views", load_config
    )
    if config is None:
        return 2
    start_run(config)
    data_yaml = build_dataset(config)
    init = initial_model(config)
    best = train_stages(config, data_yaml, init)
    metrics: dict[str, Any] = {"config": str(args.config), "weights": str(best)}
    if config.export_onnx:
        from ultralytics import YOLO

        metrics["onnx"] = str(
            YOLO(str(best)).export(format="onnx", imgsz=config.imgsz, dynamic=True, simplify=False)
        )
    if not args.skip_eval:
        metrics["holdout"] = score_holdout(config, best)
    (config.out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    logger.info("done weights=%s metrics=%s", best, config.out_dir / "metrics.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())

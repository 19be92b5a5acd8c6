"""Fine-tune the licence-plate detector from ``plate_detector_yolov8n.pt`` on real and generated plates.

Reproducible from one config file::

    YOLO_OFFLINE=1 .venv-train/bin/python -m detectors.train_plates \\
        --config detectors/train-plates-cpu.yaml

Steps: build the data set (:mod:`plates.train_data`): openalpr US photos split by a hash of the
file name (the held-out part is never trained on), each training photo whole plus crops the size
of a vehicle around its plate, other cars' plates added from the original model where it is
sure; generated KG vehicle fronts from training seeds. Train ultralytics YOLOv8n from the
checkpoint (:func:`detectors.train.train_stages`), export the last weights with
:func:`plates.export_plate_detector.export` (the decoded-YOLO contract of
``models/plates-yolov8n.onnx``), then score the original and the fine-tuned ONNX model the same
way (:mod:`plates.detector_eval`, onnxruntime) on the held-out openalpr photos (whole, at each
``eval.photo_input_px``), on vehicle-size crops of them (at ``eval.crop_input_px``) and on
generated KG fronts from held-out seeds. Writes ``<out_dir>/metrics.json`` (with the held-out
file names) and ``<out_dir>/plates-yolov8n-ft.onnx``.

The ultralytics validation split is the held-out openalpr photos, only watched: the exported
weights are the last epoch's, not the epoch that scored best on it.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from detectors.train import RunConfig, SharedData, _Strict, load_run_config, parse_run_args, start_run, train_stages

logger = logging.getLogger(__name__)

Range = tuple[float, float]


def _ordered(r: Range, name: str) -> Range:
    if not 0 < r[0] <= r[1]:
        raise ValueError(f"{name}: expected 0 < min <= max, got {list(r)}")
    return r


class OpenalprData(_Strict):
    holdout_fraction: float = Field(
        default=0.33, gt=0, lt=1, description="share of photos held out, chosen by SHA-256 of the file name"
    )
    whole_photos: bool = Field(default=True, description="train on each training photo whole")
    crops_per_photo: int = Field(default=2, ge=0, description="vehicle-size crops around the plate per photo")
    crop_width_plates: Range = Field(
        default=(4.0, 7.0), description="crop width in plate widths (min, max); a car is ~6 US plates wide"
    )
    teacher_min_score: float | None = Field(
        default=0.5,
        gt=0,
        lt=1,
        description="the original model's boxes at or above this score that overlap no label are added "
        "as plates (openalpr labels one plate a photo); null adds none",
    )
    crop_seed: int = Field(default=0, description="seed of the training crops")
    holdout_crops_per_photo: int = Field(default=2, ge=1)
    holdout_crop_seed: int = Field(default=1, description="seed of the held-out crops")

    @model_validator(mode="after")
    def _check(self) -> OpenalprData:
        _ordered(self.crop_width_plates, "crop_width_plates")
        return self


class KgData(_Strict):
    train_samples: int = Field(default=300, ge=0)
    train_seed: int = 1
    train_width_px: Range = Field(default=(40.0, 240.0), description="car plate width px (min, max)")
    holdout_samples: int = Field(default=100, ge=1, description="per held-out width band")
    holdout_seed: int = 1000
    holdout_width_px: list[Range] = Field(
        default=[(100.0, 220.0), (40.0, 100.0)], min_length=1, description="held-out car plate width bands, px"
    )
    motorcycle_every: int = Field(default=5, ge=0, description="every n-th sample a motorcycle plate; 0 none")

    @model_validator(mode="after")
    def _check(self) -> KgData:
        if self.train_seed == self.holdout_seed:
            raise ValueError(f"train_seed and holdout_seed must differ (both {self.train_seed}): held-out plates would be trained on")
        _ordered(self.train_width_px, "train_width_px")
        for band in self.holdout_width_px:
            _ordered(band, "holdout_width_px")
        return self


class PlateDataConfig(SharedData):
    openalpr: OpenalprData = OpenalprData()
    kg: KgData = KgData()


class EvalConfig(_Strict):
    min_score: float = Field(default=0.25, gt=0, lt=1, description="operating score of the found rates")
    found_iou: float = Field(default=0.3, gt=0, lt=1, description="IoU over which a plate counts as found")
    photo_input_px: list[int] = Field(default=[640], min_length=1, description="input side px on whole photos")
    crop_input_px: list[int] = Field(default=[320], min_length=1, description="input side px on crops")

    @model_validator(mode="after")
    def _check(self) -> EvalConfig:
        for px in (*self.photo_input_px, *self.crop_input_px):
            if px <= 0 or px % 32:
                raise ValueError(f"input sizes: expected positive multiples of 32 px, got {px}")
        return self


class TrainArgs(_Strict):
    """ultralytics ``train`` settings passed as they are (augmentation and warm-up)."""

    fliplr: float = Field(default=0.0, ge=0, le=1, description="mirrored plates do not exist")
    mosaic: float = Field(default=1.0, ge=0, le=1)
    close_mosaic: int = Field(default=0, ge=0, description="last epochs without mosaic")
    scale: float = Field(default=0.5, ge=0, lt=1)
    degrees: float = Field(default=0.0, ge=0, le=45)
    warmup_epochs: float = Field(default=1.0, ge=0, description="ultralytics' default 3 is most of a short run")


class TrainPlatesConfig(RunConfig):
    checkpoint: Path = Field(description="the ultralytics plate checkpoint (plate_detector_yolov8n.pt)")
    train_args: TrainArgs = TrainArgs()
    validate_each_epoch: bool = Field(
        default=False, description="score the val split after every epoch (ultralytics does the last one anyway)"
    )
    data: PlateDataConfig
    eval: EvalConfig = EvalConfig()


def load_config(path: Path) -> TrainPlatesConfig:
    """Read and validate a plate training config (:func:`detectors.train.load_run_config`).

    Raises:
        ValueError: unreadable or invalid, naming the file and each bad field.
    """
    return load_run_config(path, TrainPlatesConfig)


def build_dataset(config: TrainPlatesConfig, teacher: object | None = None) -> tuple[Path, dict[str, Any]]:
    """Write ``<out_dir>/dataset`` (train: openalpr training part + KG training seeds; val: the
    held-out openalpr photos); returns data.yaml and a summary with the held-out file names.

    Raises:
        FileNotFoundError: the openalpr folder is missing or empty.
    """
    from detectors.train_data import write_yolo_dataset
    from plates.train_data import PLATE_CLASS, kg_samples, photo_samples, read_openalpr, split_openalpr

    data = config.data
    photos = read_openalpr(data.shared_data)
    train_photos, held = split_openalpr(photos, data.openalpr.holdout_fraction)
    o = data.openalpr
    train = photo_samples(train_photos, o.crops_per_photo, o.crop_width_plates, o.crop_seed, teacher, o.whole_photos)
    n_alpr = len(train)
    train += kg_samples(data.kg.train_samples, data.kg.train_seed, data.kg.train_width_px, data.kg.motorcycle_every)
    val = photo_samples(held, 0, o.crop_width_plates, o.holdout_crop_seed)
    root = config.out_dir / "dataset"
    data_yaml, _, _ = write_yolo_dataset(root, train, val, [PLATE_CLASS])
    summary = {
        "train_images": len(train),
        "train_openalpr_photos": len(train_photos),
        "train_openalpr_images": n_alpr,
        "train_kg_images": len(train) - n_alpr,
        "train_plate_boxes": sum(len(s.boxes) for s in train),
        "holdout_openalpr": sorted(p.path.name for p in held),
    }
    logger.info(
        "dataset train=%d (openalpr %d from %d photos, kg %d) holdout_photos=%d root=%s",
        len(train), n_alpr, len(train_photos), len(train) - n_alpr, len(held), root,
    )
    return data_yaml, summary


def score_holdout(config: TrainPlatesConfig, models: dict[str, Path]) -> dict[str, dict[str, Any]]:
    """Each model's :class:`plates.detector_eval.PlateDetectorScore` on every held-out set, by set."""
    from plates.detector import OnnxPlateDetector
    from plates.detector_eval import score_plate_detector
    from plates.train_data import kg_samples, photo_samples, read_openalpr, split_openalpr

    data, ev = config.data, config.eval
    _, held = split_openalpr(read_openalpr(data.shared_data), data.openalpr.holdout_fraction)
    photos = photo_samples(held, 0, data.openalpr.crop_width_plates, 0)
    crops = photo_samples(
        held, data.openalpr.holdout_crops_per_photo, data.openalpr.crop_width_plates,
        data.openalpr.holdout_crop_seed, whole_photo=False,
    )
    sets: list[tuple[str, list, list[int]]] = [
        ("openalpr_holdout_photos", photos, ev.photo_input_px),
        ("openalpr_holdout_vehicle_crops", crops, ev.crop_input_px),
    ]
    for lo, hi in data.kg.holdout_width_px:
        kg = kg_samples(data.kg.holdout_samples, data.kg.holdout_seed, (lo, hi), data.kg.motorcycle_every, "kg-holdout")
        sets.append((f"kg_holdout_{lo:.0f}-{hi:.0f}px", kg, ev.crop_input_px))
    out: dict[str, dict[str, Any]] = {}
    for name, samples, sizes in sets:
        for px in sizes:
            key = f"{name}@{px}"
            out[key] = {}
            for label, path in models.items():
                detector = OnnxPlateDetector(path, input_size=px, conf_threshold=0.001, intra_op_threads=config.threads)
                score = score_plate_detector(detector, samples, min_score=ev.min_score, found_iou=ev.found_iou)
                out[key][label] = score.to_dict()
                logger.info("scored set=%s model=%s %s", key, label, score.to_dict())
    return out


def main(argv: list[str] | None = None) -> int:
    args, config = parse_run_args(
        argv, __doc__.split("\n\n")[0], "plate training", "the held-out sets", load_config
    )
    if config is None:
        return 2
    start_run(config)  # before the imports below: ultralytics must load offline
    from plates.detector import DEFAULT_PLATE_MODEL, OnnxPlateDetector
    from plates.export_plate_detector import export

    o = config.data.openalpr
    teacher = (
        OnnxPlateDetector(DEFAULT_PLATE_MODEL, input_size=640, conf_threshold=o.teacher_min_score)
        if o.teacher_min_score is not None
        else None
    )
    data_yaml, summary = build_dataset(config, teacher)
    started = time.perf_counter()
    best = train_stages(
        config, data_yaml, config.checkpoint, val=config.validate_each_epoch, **config.train_args.model_dump()
    )
    train_s = time.perf_counter() - started
    final = config.out_dir / "plates-yolov8n-ft.pt"
    shutil.copyfile(best.parent / "last.pt", final)  # the last epoch: the held-out set chose nothing
    onnx = export(final, config.out_dir / "plates-yolov8n-ft.onnx")
    metrics: dict[str, Any] = {
        "config": str(args.config),
        "weights": str(final),
        "onnx": str(onnx),
        "train_wall_s": round(train_s, 1),
        "data": summary,
    }
    if not args.skip_eval:
        metrics["holdout"] = score_holdout(config, {"original": DEFAULT_PLATE_MODEL, "fine-tuned": onnx})
    (config.out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    logger.info("done onnx=%s train_wall_s=%.0f metrics=%s", onnx, train_s, config.out_dir / "metrics.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())

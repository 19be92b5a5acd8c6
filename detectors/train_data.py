"""The fine-tuning data set, written as an ultralytics YOLO folder from many camera views.

Sources (see ``detectors/train-vehicles.yaml``):

- ``shared/data/vehicles``: NGSIM US-101 (COCO json, every vehicle ``car``) and coco128 vehicle
  photos (YOLO txt with COCO ids), minus the held-out parts;
- frames of every clip in ``shared/data/videos``, pseudo-labelled by the COCO model as teacher
  (the committed ONNX, at a high confidence, class-agnostic NMS), so training keeps seeing the
  views and classes the COCO model already handles (what stops the forgetting seen when one
  view is fine-tuned alone);
- generated scenes' exact truth boxes, vehicles and pedestrians (``person``), when
  ``scenes.generate`` is importable.

Held-out sets (a camera view never seen in training) are written as the validation split.
Everything is deterministic for a given config.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import yaml

from detectors.labels import COCO_IDS, LabelledImage, canonical_name, read_coco_json, read_yolo_txt

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sample:
    """One training image: BGR pixels or a file, and boxes (x1, y1, x2, y2 px, class name)."""

    name: str
    boxes: list[tuple[float, float, float, float, str]]
    path: Path | None = None
    image: np.ndarray | None = None


def from_labelled(prefix: str, items: Iterable[LabelledImage]) -> list[Sample]:
    """Samples of a labelled set, class names from its vocabulary."""
    out = []
    for item in items:
        truth = item.truth
        boxes = [
            (*(float(v) for v in truth.xyxy[i]), truth.class_names[int(truth.class_id[i])])
            for i in range(len(truth.class_id))
        ]
        out.append(
            Sample(
                f"{prefix}-{item.path.parent.parent.name}-{item.path.stem}", boxes, path=item.path
            )
        )
    return out


def ngsim_samples(root: Path, sequences: Sequence[str]) -> list[Sample]:
    """US-101 frames of the named sequences (each a different fixed camera)."""
    out = []
    for seq in sequences:
        folder = root / seq
        items = read_coco_json(folder / "annotations" / "GT.json", folder / "images")
        out += from_labelled(f"ngsim-{seq}", items)
    return out


def coco128_samples(root: Path, splits: Sequence[str]) -> list[Sample]:
    """coco128 vehicle photos of the named splits (``train2017``, ``val2017``)."""
    out = []
    for split in splits:
        items = read_yolo_txt(root / "images" / split, root / "labels" / split, COCO_IDS)
        out += from_labelled(f"coco128-{split}", items)
    return out


def video_samples(
    videos: Sequence[Path],
    teacher: object,
    every_n_frames: int,
    max_frames_per_clip: int,
) -> list[Sample]:
    """Every ``every_n_frames``-th frame of each clip with the teacher's boxes as labels.

    Args:
        teacher: a detector (``detect(frames) -> Detections``) at its own confidence threshold.
    """
    out = []
    for video in videos:
        capture = cv2.VideoCapture(str(video))
        index = taken = 0
        try:
            while taken < max_frames_per_clip:
                ok, frame = capture.read()
                if not ok:
                    break
                if index % every_n_frames == 0:
                    (found,) = teacher.detect([frame])  # type: ignore[attr-defined]
                    boxes = [
                        (*(float(v) for v in found.xyxy[i]), found.class_name(i))
                        for i in range(len(found))
                    ]
                    out.append(Sample(f"video-{video.stem}-{index:05d}", boxes, image=frame))
                    taken += 1
                index += 1
        finally:
            capture.release()
        logger.info("pseudo-labelled video=%s frames=%d", video.name, taken)
    return out


def scene_samples(
    work_dir: Path,
    scenarios: Sequence[str],
    seeds: Sequence[int],
    duration_s: float,
    every_n_frames: int,
    max_occluded_fraction: float,
    cameras: Sequence[str] = ("kerb",),
) -> list[Sample]:
    """Frames of generated scenes with their exact truth boxes, each (scenario, seed) rendered
    from every view in ``cameras`` (``scenes.camera.CAMERA_VIEWS``).

    Raises:
        RuntimeError: the scene generator cannot be imported in this environment (the config
            asks for scenes; training without them would not be the configured run).
    """
    try:
        from scenes.camera import view_suffix
        from scenes.generate import generate_scene
    except ImportError as exc:
        raise RuntimeError(
            f"data.scenes.use is true but the scene generator cannot be imported ({exc}); install the "
            "project into the training environment (.venv-train/bin/pip install -e .) or set data.scenes.use: false"
        ) from exc
    out = []
    for camera, scenario, seed in ((c, sc, sd) for c in cameras for sc in scenarios for sd in seeds):
        label = f"{scenario}-{seed}{view_suffix(camera)}"
        files = generate_scene(
            work_dir / label, scenario=scenario, seed=seed, duration_s=duration_s, camera=camera
        )
        truth = json.loads(files.truth.read_text(encoding="utf-8"))
        by_frame: dict[int, list[tuple[float, float, float, float, str]]] = {}
        for vehicle in truth["vehicles"]:
            name = canonical_name(vehicle["class"])
            for f in vehicle["frames"]:
                if f["occluded_fraction"] <= max_occluded_fraction:
                    by_frame.setdefault(f["frame"], []).append((*f["box_px"], name))
        for walker in truth.get("pedestrians", []):
            for f in walker["frames"]:  # boxed only while wholly in the image
                by_frame.setdefault(f["frame"], []).append((*f["box_px"], "person"))
        capture = cv2.VideoCapture(str(files.video))
        index = 0
        try:
            while True:
                ok, frame = capture.read()
                if not ok:
                    break
                if index % every_n_frames == 0:
                    out.append(Sample(f"scene-{label}-{index:05d}", by_frame.get(index, []), image=frame))
                index += 1
        finally:
            capture.release()
    return out


def write_yolo_split(
    samples: Sequence[Sample], root: Path, split: str, classes: Sequence[str]
) -> int:
    """Write images and YOLO txt labels (only ``classes``, clipped to the image); returns count."""
    images, labels = root / "images" / split, root / "labels" / split
    images.mkdir(parents=True, exist_ok=True)
    labels.mkdir(parents=True, exist_ok=True)
    for sample in samples:
        if sample.image is not None:
            image = sample.image
            cv2.imwrite(str(images / f"{sample.name}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 92])
        elif sample.path is not None:
            image = cv2.imread(str(sample.path))
            if image is None:
                raise ValueError(f"{sample.path}: cannot read the image")
            shutil.copyfile(sample.path, images / f"{sample.name}{sample.path.suffix.lower()}")
        else:
            raise ValueError(f"sample {sample.name}: neither pixels nor a file")
        height, width = image.shape[:2]
        rows = []
        for x1, y1, x2, y2, name in sample.boxes:
            if name not in classes:
                continue
            x1, x2 = max(0.0, x1), min(float(width), x2)
            y1, y2 = max(0.0, y1), min(float(height), y2)
            if x2 - x1 < 2 or y2 - y1 < 2:
                continue
            cx, cy = (x1 + x2) / 2 / width, (y1 + y2) / 2 / height
            rows.append(
                f"{classes.index(name)} {cx:.6f} {cy:.6f} {(x2 - x1) / width:.6f} {(y2 - y1) / height:.6f}"
            )
        (labels / f"{sample.name}.txt").write_text("\n".join(rows) + ("\n" if rows else ""))
    return len(samples)


def write_yolo_dataset(
    root: Path, train: Sequence[Sample], val: Sequence[Sample], classes: Sequence[str]
) -> tuple[Path, int, int]:
    """Both splits (:func:`write_yolo_split`) and the ``data.yaml`` ultralytics trains from.

    ``root/images`` and ``root/labels`` are emptied first: a rebuild with fewer images must not
    train on a previous build's leftovers (nor on ultralytics' ``labels/*.cache`` of them).

    Returns:
        (data.yaml path, train images, val images).
    """
    for folder in (root / "images", root / "labels"):
        if folder.exists():
            shutil.rmtree(folder)
    n_train = write_yolo_split(train, root, "train", classes)
    n_val = write_yolo_split(val, root, "val", classes)
    data_yaml = root / "data.yaml"
    data_yaml.write_text(
        yaml.safe_dump(
            {"path": str(root), "train": "images/train", "val": "images/val", "names": dict(enumerate(classes))}
        )
    )
    return data_yaml, n_train, n_val

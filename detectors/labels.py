"""Labelled image sets: COCO json or YOLO txt ground truth read into :class:`GroundTruth`.

Class names are normalised to this project's COCO spelling (``motorbike`` -> ``motorcycle``), so
a set labelled elsewhere is scored by name against any detector vocabulary.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from detectors.evaluate import GroundTruth
from safecity.errors import InputError

#: Image files a folder listing picks up (lower-case suffixes).
IMAGE_SUFFIXES: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
)

#: COCO ids of the classes our vocabulary uses (the ids YOLO txt labels of COCO-derived sets use).
COCO_IDS: dict[int, str] = {
    0: "person",
    2: "car",
    3: "motorcycle",
    5: "bus",
    7: "truck",
    9: "traffic light",
}

#: Other spellings of our class names found in public label sets.
ALIASES: dict[str, str] = {
    "motorbike": "motorcycle",
    "motor": "motorcycle",
    "automobile": "car",
    "lorry": "truck",
    "traffic_light": "traffic light",
    "trafficlight": "traffic light",
    "pedestrian": "person",
}


def canonical_name(name: str) -> str:
    """``name`` in this project's spelling (lower case, aliases resolved)."""
    key = name.strip().lower()
    return ALIASES.get(key, key)


@dataclass(frozen=True)
class LabelledImage:
    """An image file and its ground truth."""

    path: Path
    truth: GroundTruth


def list_images(path: Path) -> list[Path]:
    """The image files under ``path`` (itself, when a file), recursively, sorted by path.

    Raises:
        InputError: ``path`` does not exist, or a folder holds no image file.
    """
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise InputError(f"{path}: no such image file or folder")
    images = sorted(
        p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )
    if not images:
        raise InputError(
            f"{path}: no image files (expected suffixes {', '.join(sorted(IMAGE_SUFFIXES))})"
        )
    return images


def read_coco_json(annotations: Path, images_dir: Path) -> list[LabelledImage]:
    """Images of a COCO json file with their boxes (crowd boxes dropped), by category name.

    Raises:
        InputError: the file is not a COCO detection json (message names the file).
    """
    try:
        data = json.loads(annotations.read_text(encoding="utf-8"))
        names = {c["id"]: canonical_name(c["name"]) for c in data["categories"]}
        images, anns = data["images"], data["annotations"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(
            f"{annotations}: not a readable COCO json ({type(exc).__name__}: {exc})"
        ) from exc
    vocab = tuple(sorted(set(names.values())))
    boxes: dict[int, list[tuple[list[float], int]]] = {im["id"]: [] for im in images}
    for ann in anns:
        if ann.get("iscrowd", 0):
            continue
        x, y, w, h = ann["bbox"]
        boxes[ann["image_id"]].append(
            ([x, y, x + w, y + h], vocab.index(names[ann["category_id"]]))
        )
    out = []
    for im in sorted(images, key=lambda im: im["file_name"]):
        rows = boxes[im["id"]]
        out.append(
            LabelledImage(
                path=images_dir / im["file_name"],
                truth=GroundTruth(
                    xyxy=np.array([r[0] for r in rows], dtype=np.float64).reshape(-1, 4),
                    class_id=np.array([r[1] for r in rows], dtype=np.int64),
                    class_names=vocab,
                ),
            )
        )
    return out


def read_yolo_txt(
    images_dir: Path, labels_dir: Path, class_ids: dict[int, str]
) -> list[LabelledImage]:
    """Images of a folder with YOLO txt labels (``class cx cy w h``, normalised to 0..1).

    An image without a label file has no objects (the YOLO convention). Only ``class_ids`` are
    kept; other ids are ignored.

    Raises:
        InputError: an image cannot be read (its size is needed to scale the labels).
    """
    vocab = tuple(dict.fromkeys(canonical_name(n) for n in class_ids.values()))
    out = []
    for image_path in sorted(
        p for p in images_dir.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    ):
        label_path = labels_dir / f"{image_path.stem}.txt"
        image = cv2.imread(str(image_path), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise InputError(f"{image_path}: cannot read the image")
        height, width = image.shape[:2]
        rows = []
        if label_path.is_file():
            for line in label_path.read_text().splitlines():
                parts = line.split()
                if len(parts) != 5 or int(parts[0]) not in class_ids:
                    continue
                cx, cy, w, h = (float(v) for v in parts[1:])
                rows.append(
                    (
                        [
                            (cx - w / 2) * width,
                            (cy - h / 2) * height,
                            (cx + w / 2) * width,
                            (cy + h / 2) * height,
                        ],
                        vocab.index(canonical_name(class_ids[int(parts[0])])),
                    )
                )
        out.append(
            LabelledImage(
                path=image_path,
                truth=GroundTruth(
                    xyxy=np.array([r[0] for r in rows], dtype=np.float64).reshape(-1, 4),
                    class_id=np.array([r[1] for r in rows], dtype=np.int64),
                    class_names=vocab,
                ),
            )
        )
    return out


def read_class_names(path: Path) -> dict[int, str]:
    """Class ids of a YOLO set from a names file: one name per line (``classes.txt``)."""
    names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    return {i: name for i, name in enumerate(names) if name}


def load_labelled_set(
    images: Path, labels: Path, names_file: Path | None = None
) -> list[LabelledImage]:
    """The images of a labelled set with their ground truth.

    Args:
        images: folder of images.
        labels: a COCO json file (its ``file_name`` entries relative to ``images``) or a folder
            of YOLO txt files named like the images.
        names_file: for YOLO txt, the class names one per line; default ``classes.txt`` in
            ``labels`` or its parent, else the COCO ids of :data:`COCO_IDS`.

    Raises:
        InputError: a path is missing, the json is unreadable, or no image is found.
    """
    if not images.is_dir():
        raise InputError(f"{images}: not a folder of images")
    if labels.is_file():
        items = read_coco_json(labels, images)
        missing = [item.path for item in items if not item.path.is_file()]
        if missing:
            raise InputError(
                f"{labels}: {len(missing)} of {len(items)} images not found under {images} "
                f"(first: {missing[0]})"
            )
    elif labels.is_dir():
        if names_file is None:
            candidates = [labels / "classes.txt", labels.parent / "classes.txt"]
            names_file = next((c for c in candidates if c.is_file()), None)
        if names_file is not None and not names_file.is_file():
            raise InputError(f"{names_file}: class names file not found")
        class_ids = read_class_names(names_file) if names_file else COCO_IDS
        items = read_yolo_txt(images, labels, class_ids)
    else:
        raise InputError(f"{labels}: expected a COCO json file or a folder of YOLO txt labels")
    if not items:
        raise InputError(f"{images}: no labelled images found")
    return items

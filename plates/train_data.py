"""Training and held-out images for the plate detector: openalpr US photos and generated KG plates.

Used by :mod:`detectors.train_plates`; no torch or ultralytics here, so it is tested on its own.

- openalpr US (``shared/data/plates/openalpr_us``, one labelled plate per photo): each photo goes
  to the held-out part or the training part by a hash of its file name (:func:`is_held_out`), so
  the split is the same on every machine and does not move when photos are added. Training
  takes the whole photo (the runtime searches whole photos at 640 px) plus a few crops the size
  of a vehicle around the plate (the runtime searches vehicle crops at 320 px).
- generated KG (:mod:`plates.synth`): a vehicle front with a KG plate; the box is the bounding
  box of the plate's corners. Every sample draws from its own generator seeded ``[seed, i]``, so
  training and held-out samples come from different seeds and never repeat each other.

Boxes are (x1, y1, x2, y2) px; samples are :class:`detectors.train_data.Sample` so
:func:`detectors.train_data.write_yolo_split` writes them.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from detectors.boxes import box_iou
from detectors.train_data import Sample

logger = logging.getLogger(__name__)

#: The one class of the plate detector (its ONNX ``names`` metadata).
PLATE_CLASS = "license_plate"

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class PlatePhoto:
    """A labelled photo: the file and its plate box(es), xyxy px."""

    path: Path
    boxes: tuple[Box, ...]


def is_held_out(name: str, holdout_fraction: float) -> bool:
    """Whether the file ``name`` belongs to the held-out part: the first 8 bytes of its SHA-256
    as a fraction of 2**64 fall below ``holdout_fraction`` (deterministic, order-free)."""
    if not 0.0 < holdout_fraction < 1.0:
        raise ValueError(f"holdout_fraction: expected a value in (0, 1), got {holdout_fraction}")
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < holdout_fraction


def read_openalpr(shared_data: Path) -> list[PlatePhoto]:
    """The labelled photos of ``<shared_data>/plates/openalpr_us`` (read by
    :func:`plates.evaluate.openalpr_items`), sorted by label file.

    Raises:
        FileNotFoundError: no such folder, or no label in it.
        ValueError: a malformed label file (names it).
    """
    from plates.evaluate import openalpr_items

    folder = shared_data / "plates" / "openalpr_us"
    photos = [PlatePhoto(item.path, (item.box,)) for item in openalpr_items(shared_data) if item.box]
    if not photos:
        raise FileNotFoundError(f"no openalpr labels (NAME.txt) in {folder}")
    return photos


def split_openalpr(photos: Sequence[PlatePhoto], holdout_fraction: float) -> tuple[list[PlatePhoto], list[PlatePhoto]]:
    """(train, held-out) by :func:`is_held_out` of each file name."""
    train = [p for p in photos if not is_held_out(p.path.name, holdout_fraction)]
    held = [p for p in photos if is_held_out(p.path.name, holdout_fraction)]
    return train, held


def name_seed(name: str, seed: int) -> np.random.Generator:
    """A generator for one file: the same crops for the same file and seed on every run."""
    return np.random.default_rng([seed, int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:4], "big")])


def vehicle_crop_window(
    plate: Box, image_wh: tuple[int, int], rng: np.random.Generator, width_plates: tuple[float, float]
) -> tuple[int, int, int, int]:
    """A window the size of the vehicle carrying ``plate``, clipped to the image.

    The window is ``width_plates`` (min, max) plate widths wide (a car is ~6 US plates wide),
    0.6-1.0 of that tall, with the plate in its lower half (0.55-0.8 of the height) and
    within ±15 % of the centre sideways, as in a vehicle detector's crop.

    Returns:
        (x1, y1, x2, y2) int px, at least the plate box (rounded outwards) when clipped.
    """
    x1, y1, x2, y2 = plate
    img_w, img_h = image_wh
    width = (x2 - x1) * rng.uniform(*width_plates)
    height = width * rng.uniform(0.6, 1.0)
    cx = (x1 + x2) / 2 - width * rng.uniform(-0.15, 0.15)
    cy = (y1 + y2) / 2 - height * (rng.uniform(0.55, 0.8) - 0.5)
    left = int(np.clip(min(np.floor(cx - width / 2), np.floor(x1)), 0, img_w - 1))
    top = int(np.clip(min(np.floor(cy - height / 2), np.floor(y1)), 0, img_h - 1))
    right = int(np.clip(max(np.ceil(cx + width / 2), np.ceil(x2)), left + 1, img_w))
    bottom = int(np.clip(max(np.ceil(cy + height / 2), np.ceil(y2)), top + 1, img_h))
    return left, top, right, bottom


def crop_boxes(boxes: Sequence[Box], window: tuple[int, int, int, int], min_visible: float = 0.6) -> list[Box]:
    """``boxes`` in the window's px; a box less than ``min_visible`` inside it is left out."""
    wx1, wy1, wx2, wy2 = window
    out = []
    for x1, y1, x2, y2 in boxes:
        cx1, cy1, cx2, cy2 = max(x1, wx1), max(y1, wy1), min(x2, wx2), min(y2, wy2)
        if cx2 <= cx1 or cy2 <= cy1:
            continue
        if (cx2 - cx1) * (cy2 - cy1) < min_visible * (x2 - x1) * (y2 - y1):
            continue
        out.append((cx1 - wx1, cy1 - wy1, cx2 - wx1, cy2 - wy1))
    return out


def extra_plates(labelled: Sequence[Box], found: Sequence[Box], max_iou: float = 0.1) -> list[Box]:
    """Boxes of ``found`` that overlap no labelled box (IoU <= ``max_iou``): the other cars'
    plates, which openalpr leaves unlabelled and training would otherwise learn as background."""
    if not found:
        return []
    if not labelled:
        return list(found)
    iou = box_iou(np.array(found, np.float64), np.array(labelled, np.float64))
    return [b for b, row in zip(found, iou, strict=True) if row.max() <= max_iou]


def photo_samples(
    photos: Sequence[PlatePhoto],
    crops_per_photo: int,
    width_plates: tuple[float, float],
    seed: int,
    teacher: object | None = None,
    whole_photo: bool = True,
) -> list[Sample]:
    """Whole photos and vehicle-size crops around each labelled plate.

    Args:
        teacher: a plate detector (``detect([image]) -> [[PlateBox]]``) whose boxes that overlap
            no label are added as plates (see :func:`extra_plates`); None adds nothing.
        whole_photo: include the photo itself (by file, unchanged).

    Raises:
        ValueError: a photo cannot be read (names it).
    """
    out: list[Sample] = []
    for photo in photos:
        image = cv2.imread(str(photo.path), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"{photo.path}: cannot read the image")
        boxes = list(photo.boxes)
        if teacher is not None:
            (found,) = teacher.detect([image])  # type: ignore[attr-defined]
            boxes += extra_plates(photo.boxes, [b.xyxy for b in found])
        stem = f"alpr-{photo.path.stem}"
        if whole_photo:
            out.append(Sample(stem, [(*b, PLATE_CLASS) for b in boxes], path=photo.path))
        rng = name_seed(photo.path.name, seed)
        height, width = image.shape[:2]
        for k in range(crops_per_photo):
            plate = photo.boxes[k % len(photo.boxes)]
            window = vehicle_crop_window(plate, (width, height), rng, width_plates)
            x1, y1, x2, y2 = window
            crop = np.ascontiguousarray(image[y1:y2, x1:x2])
            out.append(Sample(f"{stem}-crop{k}", [(*b, PLATE_CLASS) for b in crop_boxes(boxes, window)], image=crop))
    return out


def kg_samples(
    n: int,
    seed: int,
    width_px: tuple[float, float],
    motorcycle_every: int = 5,
    prefix: str = "kg",
) -> list[Sample]:
    """``n`` generated KG vehicle fronts (every ``motorcycle_every``-th a two-line motorcycle
    plate, drawn at :func:`plates.synth.plate_widths_px`).

    Sample ``i`` draws from ``default_rng([seed, i])``: two seeds give disjoint streams.
    """
    from plates.synth import plate_widths_px, random_kg_plate, sample_look, sample_plate

    out = []
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        vclass = "motorcycle" if motorcycle_every and i % motorcycle_every == motorcycle_every - 1 else "car"
        widths = plate_widths_px(width_px, vclass)
        text = random_kg_plate(rng, vclass)
        sample = sample_plate(rng, text, vclass, sample_look(rng, widths), vehicle=True)
        quad = sample.plate_quad
        box = (float(quad[:, 0].min()), float(quad[:, 1].min()), float(quad[:, 0].max()), float(quad[:, 1].max()))
        out.append(Sample(f"{prefix}-s{seed}-{i:05d}", [(*box, PLATE_CLASS)], image=sample.image))
    return out

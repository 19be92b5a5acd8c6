"""Privacy export: copies of an evidence package that may leave the system.

Faces (OpenCV's Haar frontal-face cascade, shipped with OpenCV in ``cv2.data``) and the
plates of every vehicle but the offender (the plate detector of :mod:`plates.detector` on
the whole frame) are blurred in the stills and in every frame of the clip. A plate whose
centre lies in the offender's box at that frame is kept: it is what the notice is about.
Crops of the offender (``vehicle.jpg``) get the same treatment with the offender's box
mapped into the crop; ``plate.jpg`` is the offender's plate and is copied as is.

The originals are never touched. The export is written into a temporary folder beside the
destination and renamed into place only when complete, and carries its own signed
``manifest.json`` whose ``derived_from`` names the original manifest's SHA-256 and every
original file's digest, so a recipient can tie each copy to the sealed original.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from pipeline.manifest import MANIFEST_NAME, EvidenceSigner, build_manifest, folder_entries, verify_package
from safecity.digests import file_sha256
from safecity.errors import InputError

log = logging.getLogger(__name__)

FACE_CASCADE = "haarcascade_frontalface_default.xml"
CLIP_DETECT_STRIDE = 3  # clip frames per face/plate detection (boxes of both neighbours are blurred)
CLIP_BOX_GROW = 0.3  # neighbours' boxes grown by this share of their size to cover motion
Box = tuple[float, float, float, float]


class BoxFinder(Protocol):
    """Finds boxes (x1, y1, x2, y2 px) of one kind in one BGR image."""

    def find(self, image: np.ndarray) -> list[Box]: ...


class HaarFaceFinder:
    """Frontal faces with OpenCV's bundled Haar cascade (no download: it ships with OpenCV)."""

    def __init__(self, scale_factor: float = 1.1, min_neighbors: int = 4, min_size_px: int = 12) -> None:
        path = Path(cv2.data.haarcascades) / FACE_CASCADE
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise InputError(f"{path}: OpenCV's face cascade could not be loaded")
        self._args = (scale_factor, min_neighbors, (min_size_px, min_size_px))

    def find(self, image: np.ndarray) -> list[Box]:
        gray = cv2.equalizeHist(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
        scale, neighbours, min_size = self._args
        found = self._cascade.detectMultiScale(gray, scaleFactor=scale, minNeighbors=neighbours, minSize=min_size)
        return [(float(x), float(y), float(x + w), float(y + h)) for x, y, w, h in (found if len(found) else [])]


class PlateFinder:
    """Plates anywhere in a frame, with the committed plate detector (Haar fallback included:
    a false plate blurs a little too much, a missed plate would leak one)."""

    def __init__(self) -> None:
        from plates.detector import default_plate_detector

        self._detector = default_plate_detector(input_size=640, with_haar=True)

    def find(self, image: np.ndarray) -> list[Box]:
        return [tuple(float(c) for c in b.xyxy) for b in self._detector.detect([image])[0]]  # type: ignore[misc]


def blur_boxes(image: np.ndarray, boxes: Sequence[Box], grow: float = 0.15) -> np.ndarray:
    """Pixelate then blur each box (grown by ``grow`` of its size) in place; returns ``image``.

    Pixelating first destroys detail that a blur alone can leave recoverable.
    """
    h, w = image.shape[:2]
    for x1, y1, x2, y2 in boxes:
        gx, gy = (x2 - x1) * grow, (y2 - y1) * grow
        xa, ya = max(0, int(x1 - gx)), max(0, int(y1 - gy))
        xb, yb = min(w, int(np.ceil(x2 + gx))), min(h, int(np.ceil(y2 + gy)))
        if xb - xa < 2 or yb - ya < 2:
            continue
        roi = image[ya:yb, xa:xb]
        small = cv2.resize(roi, (max(1, (xb - xa) // 8), max(1, (yb - ya) // 8)), interpolation=cv2.INTER_AREA)
        coarse = cv2.resize(small, (xb - xa, yb - ya), interpolation=cv2.INTER_NEAREST)
        k = max(3, ((min(xb - xa, yb - ya) // 3) | 1))
        image[ya:yb, xa:xb] = cv2.GaussianBlur(coarse, (k, k), 0)
    return image


def _centre_in(box: Box, keep: Box | None) -> bool:
    if keep is None:
        return False
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return keep[0] <= cx <= keep[2] and keep[1] <= cy <= keep[3]


@dataclass
class BlurCounts:
    faces: int = 0
    plates_blurred: int = 0
    plates_kept: int = 0

    def add(self, other: "BlurCounts") -> None:
        self.faces += other.faces
        self.plates_blurred += other.plates_blurred
        self.plates_kept += other.plates_kept


def _overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def anonymise(
    image: np.ndarray, offender: Box | None, faces: BoxFinder, plates: BoxFinder, skip_rows: int = 0,
    found: tuple[list[Box], list[Box]] | None = None,
) -> tuple[np.ndarray, BlurCounts]:
    """A copy of ``image`` with faces and every plate outside ``offender``'s box blurred.

    Args:
        offender: the offending vehicle's box; a plate centred in it is kept, and no face box
            that overlaps a kept plate is blurred (a false face must not hide the plate).
        skip_rows: ignore detections centred above this row (the evidence caption band:
            opaque black with white text, which the plate cascade takes for plates).
        found: (faces, plates) boxes already found (the clip reuses neighbouring frames').
    """
    out = image.copy()
    face_boxes, plate_boxes = found if found is not None else (faces.find(image), plates.find(image))
    below = [b for b in plate_boxes if (b[1] + b[3]) / 2 >= skip_rows]
    kept = [b for b in below if _centre_in(b, offender)]
    others = [b for b in below if not _centre_in(b, offender)]
    face_boxes = [f for f in face_boxes if (f[1] + f[3]) / 2 >= skip_rows and not any(_overlaps(f, k) for k in kept)]
    blur_boxes(out, [*face_boxes, *others])
    return out, BlurCounts(len(face_boxes), len(others), len(kept))


def caption_rows(meta: dict) -> int:
    """Height of the caption band :func:`pipeline.evidence.annotate` draws (22 px a line + 8)."""
    n = 2 + (meta.get("signal_state") is not None) + bool(meta.get("review_reason"))
    return 22 * n + 8


@dataclass
class ExportReport:
    source: str
    destination: str
    files: list[dict[str, Any]] = field(default_factory=list)
    counts: BlurCounts = field(default_factory=BlurCounts)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "destination": self.destination, "files": self.files, "blurred": self.counts.__dict__}


def export_package(
    src: Path, dst: Path, signer: EvidenceSigner, *, blur: bool = True, trusted_keys: dict[str, str] | None = None,
    faces: BoxFinder | None = None, plates: BoxFinder | None = None,
) -> ExportReport:
    """Write a copy of the package ``src`` to ``dst`` (blurred when ``blur``), with its own manifest.

    Raises:
        InputError: ``src`` does not verify (the export must come from a sealed original),
            lacks metadata, or ``dst`` already exists.
    """
    src, dst = Path(src), Path(dst)
    check = verify_package(src, trusted_keys)
    if not check.ok:
        raise InputError(f"{src}: the package does not verify, refusing to export it: " + "; ".join(check.problems))
    if dst.exists():
        raise InputError(f"{dst}: already exists; an export never overwrites (choose a new --out)")
    original_manifest = json.loads((src / MANIFEST_NAME).read_text(encoding="utf-8"))
    try:
        meta = json.loads((src / "metadata.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{src}: metadata.json unreadable: {exc}") from exc
    if blur:
        faces = faces or HaarFaceFinder()
        plates = plates or PlateFinder()
    report = ExportReport(str(src), str(dst))
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dst.parent, prefix=f".{dst.name}.partial-"))
    try:
        names = [f["path"] for f in original_manifest["files"]]
        for rel in names:
            source, target = src / rel, tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            counts = BlurCounts()
            if blur and rel.endswith(".jpg") and rel != "plate.jpg":
                counts = _export_still(source, target, rel, meta, faces, plates)  # type: ignore[arg-type]
            elif blur and rel.endswith(".mp4"):
                counts = _export_clip(source, target, meta, faces, plates)  # type: ignore[arg-type]
            else:
                shutil.copyfile(source, target)
            report.counts.add(counts)
            report.files.append({"path": rel, "blurred": counts.__dict__})
        derived = {
            "violation_id": original_manifest.get("violation_id"),
            "manifest_sha256": file_sha256(src / MANIFEST_NAME),
            "files": [{"path": f["path"], "sha256": f["sha256"]} for f in original_manifest["files"]],
            "transform": (
                "faces (OpenCV Haar frontal face) and plates of vehicles other than the offender (plate detector) "
                "pixelated and blurred" if blur else "copied unchanged"
            ),
        }
        doc = build_manifest(folder_entries(tmp, names), str(original_manifest.get("violation_id", "")), signer, derived_from=derived)
        (tmp / MANIFEST_NAME).write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.rename(tmp, dst)
    except BaseException:
        log.error("privacy export failed source=%s partial=%s (kept for inspection)", src, tmp)
        raise
    log.info("privacy export source=%s destination=%s faces=%d plates_blurred=%d plates_kept=%d",
             src, dst, report.counts.faces, report.counts.plates_blurred, report.counts.plates_kept)
    return report


def _offender_in_still(rel: str, meta: dict) -> Box | None:
    boxes = meta.get("offender_boxes_px") or {}
    kind = rel.removesuffix(".jpg")
    if kind in boxes:
        return tuple(boxes[kind])  # type: ignore[return-value]
    if rel == "vehicle.jpg" and "at" in boxes:
        # The crop is the offender's box padded by 15 % (pipeline.evidence.vehicle_crop).
        x1, y1, x2, y2 = boxes["at"]
        px, py = (x2 - x1) * 0.15, (y2 - y1) * 0.15
        xa, ya = max(0, int(x1 - px)), max(0, int(y1 - py))
        return (x1 - xa, y1 - ya, x2 - xa, y2 - ya)
    return None


def _export_still(source: Path, target: Path, rel: str, meta: dict, faces: BoxFinder, plates: BoxFinder) -> BlurCounts:
    image = cv2.imread(str(source), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"{source}: not a readable image")
    skip = caption_rows(meta) if rel in ("before.jpg", "at.jpg", "after.jpg") else 0
    out, counts = anonymise(image, _offender_in_still(rel, meta), faces, plates, skip_rows=skip)
    ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, 92])
    if not ok:
        raise InputError(f"{source}: JPEG encoding failed")
    target.write_bytes(buf.tobytes())
    return counts


def offender_box_at(track_px: list[list[float]], frame: int) -> Box | None:
    """The offender's box at ``frame``: interpolated between observations, None outside them."""
    if not track_px:
        return None
    frames = [int(r[0]) for r in track_px]
    if frame < frames[0] or frame > frames[-1]:
        return None
    i = int(np.searchsorted(frames, frame))
    if frames[i] == frame or i == 0:
        return tuple(track_px[i][1:5])  # type: ignore[return-value]
    a, b = track_px[i - 1], track_px[i]
    u = (frame - a[0]) / (b[0] - a[0])
    return tuple(a[k] + u * (b[k] - a[k]) for k in range(1, 5))  # type: ignore[return-value]


def _export_clip(source: Path, target: Path, meta: dict, faces: BoxFinder, plates: BoxFinder, stride: int = CLIP_DETECT_STRIDE) -> BlurCounts:
    """Blur every frame of the clip; detectors run on every ``stride``-th frame (and the last).

    A frame between two detected frames gets the boxes of both, grown by ``CLIP_BOX_GROW``:
    at 25 fps a vehicle moves a few px a frame, so the union covers the plate in between,
    and the detectors' cost (the export's bottleneck) drops by ``stride``.
    """
    from pipeline.encode import H264Writer

    clip = meta.get("clip") or {}
    first = int(clip.get("first_frame", 0))
    track_px = clip.get("offender_track_px") or []
    cap = cv2.VideoCapture(str(source))
    if not cap.isOpened():
        raise InputError(f"{source}: not a readable video")
    fps = float(clip.get("fps") or cap.get(cv2.CAP_PROP_FPS) or 25.0)
    counts = BlurCounts()
    writer = None
    found: dict[int, tuple[list[Box], list[Box]]] = {}
    pending: list[tuple[int, np.ndarray]] = []

    def flush(upto: int | None) -> None:
        nonlocal writer
        keys = sorted(found)
        while pending and (upto is None or pending[0][0] <= upto):
            k, img = pending.pop(0)
            prev = max((q for q in keys if q <= k), default=None)
            nxt = min((q for q in keys if q >= k), default=None)
            near = [found[q] for q in {prev, nxt} if q is not None]
            boxes = ([_grow(b) for f, _ in near for b in f], [_grow(b) for _, p in near for b in p])
            if writer is None:
                writer = H264Writer(target, fps, (img.shape[1], img.shape[0]))
            out, c = anonymise(img, offender_box_at(track_px, first + k), faces, plates, found=boxes)
            counts.add(c)
            writer.write(out)

    try:
        k = 0
        last_img = None
        while True:
            ok, img = cap.read()
            if not ok:
                break
            pending.append((k, img))
            last_img = img
            if k % stride == 0:
                found[k] = (faces.find(img), plates.find(img))
                flush(k)
            k += 1
        if pending and last_img is not None:
            last = pending[-1][0]
            if last not in found:
                found[last] = (faces.find(last_img), plates.find(last_img))
            flush(None)
    finally:
        cap.release()
        if writer is not None:
            writer.close()
    if writer is None:
        raise InputError(f"{source}: the clip has no frame")
    return counts


def _grow(box: Box, frac: float | None = None) -> Box:
    frac = CLIP_BOX_GROW if frac is None else frac
    gx, gy = (box[2] - box[0]) * frac, (box[3] - box[1]) * frac
    return (box[0] - gx, box[1] - gy, box[2] + gx, box[3] + gy)

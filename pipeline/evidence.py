"""Evidence: annotated frames and a vehicle crop per violation, stored with their SHA-256.

Files are written through an ``EvidenceStore``; the local folder store writes atomically and
never overwrites or deletes: a different file under an existing name is stored beside it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from pipeline.types import EvidenceFile, RuleHit, Track

_COLOURS = {"green": (0, 200, 0), "amber": (0, 190, 255), "red": (0, 0, 255), "red_amber": (0, 120, 255)}


class EvidenceStore(Protocol):
    """Where evidence files go (a local folder by default)."""

    def put(self, key: str, data: bytes, kind: str) -> EvidenceFile:
        """Store ``data`` under ``key`` (a relative POSIX path); returns the stored file's record."""
        ...


class FolderEvidenceStore:
    """Evidence in a local folder; ``key`` paths are relative to ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def put(self, key: str, data: bytes, kind: str) -> EvidenceFile:
        if key.startswith("/") or ".." in Path(key).parts:
            raise ValueError(f"evidence key {key!r} must be a relative path inside the store")
        digest = hashlib.sha256(data).hexdigest()
        target = self.root / key
        if target.exists():
            if hashlib.sha256(target.read_bytes()).hexdigest() == digest:
                return EvidenceFile(kind, key, digest)
            key = f"{Path(key).with_suffix('')}.{digest[:8]}{Path(key).suffix}"
            target = self.root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        return EvidenceFile(kind, key, digest)


@dataclass(frozen=True)
class Overlay:
    """What to draw on an evidence frame."""

    camera_id: str
    time_utc: str
    stop_line_px: np.ndarray | None
    signal_state: str | None
    label: str


def evidence_frames(track: Track, hit: RuleHit, offset_s: float = 0.6) -> dict[str, int]:
    """Frame indices for before / at / after the offence, within the track."""
    at = track.point_near(hit.t_at_s).frame
    before = track.point_near(hit.t_at_s - offset_s).frame
    after = track.point_near(hit.t_at_s + offset_s).frame
    return {"before": before, "at": at, "after": after}


def annotate(image: np.ndarray, track: Track, frame: int, overlay: Overlay) -> np.ndarray:
    """A copy of ``image`` with the track up to ``frame``, its box, the stop line and a caption."""
    out = image.copy()
    pts = [p for p in track.points if p.frame <= frame]
    if overlay.stop_line_px is not None:
        cv2.polylines(out, [overlay.stop_line_px.astype(np.int32)], False, (255, 255, 255), 2, cv2.LINE_AA)
    if len(pts) >= 2:
        path = np.array([((p.box_px[0] + p.box_px[2]) / 2, p.box_px[3]) for p in pts], dtype=np.int32)
        cv2.polylines(out, [path], False, (0, 255, 255), 2, cv2.LINE_AA)
    here = min(track.points, key=lambda p: abs(p.frame - frame))
    x1, y1, x2, y2 = (int(round(v)) for v in here.box_px)
    cv2.rectangle(out, (x1, y1), (x2, y2), (0, 0, 255), 2)
    lines = [f"{overlay.camera_id}  {overlay.time_utc}", overlay.label]
    if overlay.signal_state:
        lines.append(f"signal: {overlay.signal_state}")
    cv2.rectangle(out, (0, 0), (out.shape[1], 22 * len(lines) + 8), (0, 0, 0), -1)
    for k, text in enumerate(lines):
        colour = _COLOURS.get(overlay.signal_state or "", (255, 255, 255)) if text.startswith("signal") else (255, 255, 255)
        cv2.putText(out, text, (8, 22 + 22 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.6, colour, 1, cv2.LINE_AA)
    return out


def vehicle_crop(image: np.ndarray, box_px: tuple[float, float, float, float], pad: float = 0.15) -> np.ndarray:
    """The vehicle's box with ``pad`` (fraction of its size) around it, clipped to the frame."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = box_px
    px, py = (x2 - x1) * pad, (y2 - y1) * pad
    xa, ya = max(0, int(x1 - px)), max(0, int(y1 - py))
    xb, yb = min(w, int(x2 + px) + 1), min(h, int(y2 + py) + 1)
    if xb <= xa or yb <= ya:
        raise ValueError(f"box {box_px} lies outside the {w}x{h} frame")
    return image[ya:yb, xa:xb]


def encode_jpeg(image: np.ndarray, quality: int = 92) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


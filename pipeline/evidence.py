"""Evidence: annotated frames and a vehicle crop per violation, stored with their SHA-256.

Files are written through an ``EvidenceStore``; the local folder store writes atomically and
never overwrites or deletes: a different file under an existing name is stored beside it.
Readers (the web app, ``safecity evidence verify``, the deferred plate read) go through the
same store with ``get`` (bytes checked against their SHA-256) and ``keys`` (a package's files).
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
from safecity.errors import PermanentError

_COLOURS = {"green": (0, 200, 0), "amber": (0, 190, 255), "red": (0, 0, 255), "red_amber": (0, 120, 255)}


class EvidenceStore(Protocol):
    """Where evidence files go: a local folder by default, or S3-compatible object storage.

    Backends are listed in ``store.evidence_backends.EVIDENCE_STORES`` (``folder``, ``s3``) and
    chosen from settings (``SAFECITY_EVIDENCE_URL``). Every backend keeps the same contract:

    - write-once: an existing file is never replaced; the same bytes under an existing key
      return the existing record (a redelivered task), other bytes are stored beside it under
      ``<stem>.<sha256[:8]><suffix>`` and the record's ``path`` says where;
    - the record's ``sha256`` is the digest of the bytes as stored;
    - nothing is deleted, on error paths included; a failed put leaves no partial file.
    """

    def put(self, key: str, data: bytes, kind: str) -> EvidenceFile:
        """Store ``data`` under ``key`` (a relative POSIX path); returns the stored file's record.

        Raises:
            ValueError: ``key`` is absolute or leaves the store.
        """
        ...


class EvidenceIntegrityError(PermanentError):
    """Stored bytes do not match their recorded SHA-256 (changed or damaged evidence)."""


class ReadableEvidenceStore(EvidenceStore, Protocol):
    """An evidence store that can also be read back (both backends are).

    ``location`` names the store for a job row or a log line (a resolved folder path or
    ``s3://bucket/prefix``); it never carries credentials.
    """

    @property
    def location(self) -> str: ...

    def get(self, key: str, sha256: str | None = None) -> bytes:
        """The bytes of ``key``, checked against ``sha256`` when given.

        Raises:
            FileNotFoundError: no such key.
            EvidenceIntegrityError: the bytes do not match the digest.
        """
        ...

    def keys(self, prefix: str) -> list[str]:
        """Every key under ``prefix`` (e.g. ``"<violation id>/"``), sorted."""
        ...


def _check_key(key: str) -> str:
    if not isinstance(key, str) or not key or key.startswith("/") or "\\" in key or ".." in Path(key).parts:
        raise ValueError(f"evidence key {key!r} must be a relative path inside the store")
    return key


class FolderEvidenceStore:
    """Evidence in a local folder; ``key`` paths are relative to ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"FolderEvidenceStore({self.root})"

    @property
    def location(self) -> str:
        return str(self.root.resolve())

    def get(self, key: str, sha256: str | None = None) -> bytes:
        target = self._inside(key)
        if not target.is_file():
            raise FileNotFoundError(f"{target}: no such evidence file")
        data = target.read_bytes()
        if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
            raise EvidenceIntegrityError(f"{target}: SHA-256 {hashlib.sha256(data).hexdigest()} does not match the recorded {sha256}")
        return data

    def keys(self, prefix: str) -> list[str]:
        base = self.root.resolve()
        start = self._inside(prefix.rstrip("/")) if prefix.strip("/") else base
        if not start.is_dir():
            return []
        # Temporary files of an unfinished put (".tmp-*") are not evidence.
        return sorted(p.relative_to(base).as_posix() for p in start.rglob("*") if p.is_file() and not p.name.startswith(".tmp-"))

    def _inside(self, key: str) -> Path:
        """The file of ``key``; it must resolve inside the root (no symlink out)."""
        _check_key(key)
        base = self.root.resolve()
        target = (base / key).resolve()
        if not target.is_relative_to(base):
            raise ValueError(f"evidence key {key!r} resolves outside the store {base}")
        return target

    def put(self, key: str, data: bytes, kind: str) -> EvidenceFile:
        _check_key(key)
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
    """What to draw on an evidence frame.

    Attributes:
        camera_id: the camera, printed in the caption.
        time_utc: the frame's UTC time (ISO 8601), printed in the caption.
        stop_line_px: (N, 2) px polyline of the signal's stop line, drawn white, or None.
        signal_state: the phase at the offence (None for rules without a signal).
        label: the rule and its key measurement.
        signal_source: which source gave the phase (``plan``, ``log_file``, ``vision``...).
        lines_px: other configured lines as ((N, 2) px polyline, kind), drawn by kind.
        speed_kmh: the vehicle's measured speed, printed beside its box, or None.
        limit_kmh: the speed limit, printed with the speed.
        note: an extra caption line (e.g. "REVIEW: phase from vision only").
    """

    camera_id: str
    time_utc: str
    stop_line_px: np.ndarray | None
    signal_state: str | None
    label: str
    signal_source: str | None = None
    lines_px: tuple[tuple[np.ndarray, str], ...] = ()
    speed_kmh: float | None = None
    limit_kmh: float | None = None
    note: str = ""


_LINE_COLOURS = {"solid": (255, 255, 0), "dashed": (200, 200, 200), "stop_line": (255, 255, 255)}


def evidence_frames(track: Track, hit: RuleHit, offset_s: float = 0.6) -> dict[str, int]:
    """Frame indices for before / at / after the offence, within the track."""
    at = track.point_near(hit.t_at_s).frame
    before = track.point_near(hit.t_at_s - offset_s).frame
    after = track.point_near(hit.t_at_s + offset_s).frame
    return {"before": before, "at": at, "after": after}


def annotate(image: np.ndarray, track: Track, frame: int, overlay: Overlay) -> np.ndarray:
    """A copy of ``image`` with the lines, the track up to ``frame``, its box, speed and a caption.

    The caption carries the camera, UTC time, the rule's label, the signal phase *and its
    source* (a reviewer must see whether the phase came from the controller or from vision).
    """
    out = image.copy()
    pts = [p for p in track.points if p.frame <= frame]
    for poly, kind in overlay.lines_px:
        cv2.polylines(out, [np.asarray(poly).astype(np.int32)], False, _LINE_COLOURS.get(kind, (200, 200, 200)), 1, cv2.LINE_AA)
    if overlay.stop_line_px is not None:
        cv2.polylines(out, [overlay.stop_line_px.astype(np.int32)], False, (255, 255, 255), 2, cv2.LINE_AA)
    if len(pts) >= 2:
        path = np.array([((p.box_px[0] + p.box_px[2]) / 2, p.box_px[3]) for p in pts], dtype=np.int32)
        cv2.polylines(out, [path], False, (0, 255, 255), 2, cv2.LINE_AA)
    here = min(track.points, key=lambda p: abs(p.frame - frame))
    x1, y1, x2, y2 = (int(round(v)) for v in here.box_px)
    cv2.rectangle(out, (x1, y1), (x2, y2), (0, 0, 255), 2)
    if overlay.speed_kmh is not None:
        tag = f"{overlay.speed_kmh:.1f} km/h" + (f" / {overlay.limit_kmh:.0f}" if overlay.limit_kmh else "")
        (tw, th), _ = cv2.getTextSize(tag, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
        ty = max(th + 4, y1 - 4)
        cv2.rectangle(out, (x1, ty - th - 4), (x1 + tw + 6, ty + 3), (0, 0, 0), -1)
        cv2.putText(out, tag, (x1 + 3, ty), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 255, 255), 1, cv2.LINE_AA)
    lines = [f"{overlay.camera_id}  {overlay.time_utc}", overlay.label]
    if overlay.signal_state:
        src = f"  (source: {overlay.signal_source})" if overlay.signal_source else ""
        lines.append(f"signal: {overlay.signal_state}{src}")
    if overlay.note:
        lines.append(overlay.note)
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


"""Follow-up work on stored violations: the deferred plate read and the registry match.

The Celery tasks ``safecity.read_plate`` (``plates`` queue) and ``safecity.match_registry``
(``registry`` queue) in workers/tasks.py are thin shells around :func:`read_plate` and
:func:`match_registry`; both take a violation id and are idempotent, so a redelivered or
duplicated message changes nothing:

* ``read_plate`` records the reader version it used in the violation's measurements
  (``plate_reader``); a violation already read by the same version is skipped, and the write
  re-checks that under a row lock (``SELECT ... FOR UPDATE``; SQLite has one writer).
* ``match_registry`` stores its outcome in ``registry_matches`` (one row per violation, its
  primary key); a violation with a final match is skipped, only a ``pending`` one (registry
  unreachable) is asked again. Two deliveries racing for a new row serialise on the violation
  row lock, or, where there is none, the loser's insert fails on the key, its transaction
  (with its access record) rolls back, and its retry finds the row.

A job asks for them at submission (``safecity submit --defer-plates`` / ``--registry SPEC``):
once a segment is stored, the task that stored it sends :func:`segment_followups`; a deferred
plate read sends the match after it (:func:`plate_followups`), so the registry is asked with
the plate that was read.
"""

from __future__ import annotations

import functools
import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from safecity.errors import PermanentError, TransientError

log = logging.getLogger(__name__)

#: measurements key naming the plate reader version of a deferred read.
PLATE_READER_KEY = "plate_reader"
#: vehicle views of the clip handed to the plate reader (as ``ProcessOptions.plate_frames``).
PLATE_FRAMES = 6
READ_PLATE = "safecity.read_plate"
MATCH_REGISTRY = "safecity.match_registry"


@dataclass(frozen=True)
class FollowupOutcome:
    """What a follow-up task did: ``done`` or ``skipped`` (already done), and the plate or match status."""

    violation_id: str
    status: str
    detail: str | None = None


def check_registry_spec(spec: str) -> str:
    """``spec`` if it names a registry the way ``safecity process --registry`` does.

    Raises:
        ValueError: another form, naming the expected ones.
    """
    kind, sep, target = spec.partition(":")
    if not sep or not target or kind not in ("sql", "http", "https"):
        raise ValueError(f"registry {spec!r}: expected sql:SQLALCHEMY_URL or http://host:port (e.g. sql:sqlite:///registry.sqlite)")
    # The spec is stored in the job row and sent through the broker: it must not carry a
    # secret. Each worker brings its own (PGPASSWORD or ~/.pgpass for PostgreSQL,
    # SAFECITY_REGISTRY_API_KEY for the HTTP service).
    if kind == "sql":
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            has_password = make_url(target).password is not None
        except ArgumentError as exc:
            raise ValueError(f"registry {spec!r}: not an SQLAlchemy URL ({exc})") from None
    else:
        from urllib.parse import urlsplit

        has_password = urlsplit(spec).password is not None
    if has_password:
        raise ValueError("registry spec: carries a password, which the job row and the broker would keep; give the URL "
                         "without it and set the password on each worker (PGPASSWORD or ~/.pgpass; SAFECITY_REGISTRY_API_KEY for http)")
    return spec


@functools.cache
def plate_reader_version() -> str:
    """The plate reader's version: the committed plate model's digest and the OCR package's
    version (a new model or OCR reads again; the same ones skip)."""
    from importlib.metadata import PackageNotFoundError, version

    from plates.detector import DEFAULT_PLATE_MODEL
    from safecity.digests import file_sha256

    try:
        ocr = version("rapidocr-onnxruntime")
    except PackageNotFoundError:
        try:
            ocr = version("rapidocr")
        except PackageNotFoundError:
            ocr = "unknown"
    return f"{DEFAULT_PLATE_MODEL.name}@{file_sha256(DEFAULT_PLATE_MODEL)[:12]}+rapidocr-{ocr}"


def violation_job(session: Session, run_id: str):
    """The job whose segment stored the run ``run_id``, or None (``safecity process``, live)."""
    from workers.models import JobRow, SegmentRow

    return session.scalars(
        select(JobRow).join(SegmentRow, SegmentRow.job_id == JobRow.id).where(SegmentRow.run_id == run_id).limit(1)
    ).first()


def _locked_violation(session: Session, violation_id: str):
    from store.schema import ViolationRow

    row = session.scalars(select(ViolationRow).where(ViolationRow.id == violation_id).with_for_update()).first()
    if row is None:
        raise PermanentError(f"violation {violation_id}: not in the database (wrong SAFECITY_DB_URL on this worker?)")
    return row


# --------------------------------------------------------------------------- plates


def read_plate(ctx, violation_id: str, version: str | None = None) -> FollowupOutcome:
    """Read the plate of a stored violation from its evidence and store the read.

    The offender's boxes in ``metadata.json`` cut the vehicle out of the stored clip's frames
    (the tallest views, as the pipeline picks them); without a clip the vehicle crop is read.
    Every evidence file is fetched through the job's evidence store and checked against its
    SHA-256 before use.

    Raises:
        PermanentError: no such violation, evidence missing or changed (a person looks).
        TransientError: the evidence store or database is unreachable (retry).
    """
    version = version or plate_reader_version()
    with ctx.sessions().begin() as session:
        v = _locked_violation(session, violation_id)
        if (v.measurements or {}).get(PLATE_READER_KEY) == version:
            return FollowupOutcome(violation_id, "skipped", v.plate_status)
        job = violation_job(session, v.run_id)
        location = job.evidence_root if job is not None else ctx.settings.evidence_location()
        evidence = {e.kind: (e.path, e.sha256) for e in v.evidence}
        at_frame = v.first_frame
    crops = _vehicle_crops(ctx.evidence_store(location), evidence, violation_id, at_frame)
    result = ctx.plate_reader().read_track(crops)
    with ctx.sessions().begin() as session:
        v = _locked_violation(session, violation_id)
        if (v.measurements or {}).get(PLATE_READER_KEY) == version:  # another delivery stored it first
            return FollowupOutcome(violation_id, "skipped", v.plate_status)
        # The same rule as the pipeline's: only a read at or above the threshold names the
        # vehicle; an unreadable guess goes to a person (plate_guess), never into a fine.
        v.plate_text = result.text if result.status == "read" else None
        v.plate_confidence = round(float(result.confidence), 3)
        v.plate_status = result.status
        v.plate_country = result.country if result.text else None
        v.plate_guess = result.text if result.status == "unreadable" else None
        v.measurements = {**(v.measurements or {}), PLATE_READER_KEY: version}  # a new dict: JSON columns track assignment
    log.info("plate read violation_id=%s status=%s crops=%d reader=%s", violation_id, result.status, len(crops), version)
    return FollowupOutcome(violation_id, "done", result.status)


def _vehicle_crops(store, evidence: dict[str, tuple[str, str]], violation_id: str, at_frame: int) -> list:
    """The offender's vehicle views from the stored evidence (clip frames, else the vehicle crop)."""
    import cv2
    import numpy as np

    from pipeline.evidence import EvidenceIntegrityError, vehicle_crop
    from plates.types import VehicleCrop

    def fetch(kind: str) -> bytes:
        key, digest = evidence[kind]
        try:
            return store.get(key, digest)
        except FileNotFoundError as exc:
            raise PermanentError(f"violation {violation_id}: {kind} evidence {key} missing from {store.location}") from exc
        except EvidenceIntegrityError as exc:
            raise PermanentError(f"violation {violation_id}: {kind} evidence changed: {exc}") from exc

    meta = json.loads(fetch("metadata")) if "metadata" in evidence else {}
    clip = meta.get("clip") if isinstance(meta, dict) else None
    crops: list = []
    if "clip" in evidence and isinstance(clip, dict) and clip.get("offender_track_px"):
        boxes = {int(row[0]): tuple(float(c) for c in row[1:5]) for row in clip["offender_track_px"]}
        # The tallest boxes: the plate is largest there (pipeline.run.plate_frames).
        chosen = sorted(sorted(boxes, key=lambda f: boxes[f][3] - boxes[f][1], reverse=True)[:PLATE_FRAMES])
        first, fps = int(clip["first_frame"]), float(clip.get("fps") or 25.0)
        with tempfile.TemporaryDirectory(prefix="safecity-plate-") as tmp:
            path = Path(tmp) / "clip.mp4"  # a working copy: OpenCV decodes files, not bytes
            path.write_bytes(fetch("clip"))
            cap = cv2.VideoCapture(str(path))
            try:
                frame = first
                while chosen and frame <= chosen[-1]:
                    ok, image = cap.read()
                    if not ok:
                        break
                    if frame in chosen:
                        try:
                            crop = vehicle_crop(image, boxes[frame], pad=0.05)
                        except ValueError:
                            crop = None  # box outside this frame: skip the view
                        if crop is not None and crop.size:
                            crops.append(VehicleCrop(np.ascontiguousarray(crop), frame, frame / fps, boxes[frame]))
                    frame += 1
            finally:
                cap.release()
    if not crops and "vehicle_crop" in evidence:
        image = cv2.imdecode(np.frombuffer(fetch("vehicle_crop"), np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise PermanentError(f"violation {violation_id}: vehicle crop does not decode as an image")
        h, w = image.shape[:2]
        crops.append(VehicleCrop(image, at_frame, 0.0, (0.0, 0.0, float(w), float(h))))
    return crops


# --------------------------------------------------------------------------- registry


def match_registry(ctx, violation_id: str) -> FollowupOutcome:
    """Match a stored violation in the registry its job named (else the worker's
    ``SAFECITY_REGISTRY_SPEC``); one ``registry_matches`` row per violation.

    Raises:
        PermanentError: no such violation, or no registry configured for it.
        TransientError: the registry was unreachable: the case is stored ``pending`` (with the
            access attempt) and the task retries.
    """
    from registry_adapters.matching import camera_positions, match_violation
    from registry_adapters.models import RegistryMatchRow

    with ctx.sessions().begin() as session:
        v = _locked_violation(session, violation_id)
        row = session.get(RegistryMatchRow, violation_id)
        if row is not None and row.status != "pending":
            return FollowupOutcome(violation_id, "skipped", row.status)
        job = violation_job(session, v.run_id)
        spec = (job.options or {}).get("registry") if job is not None else None
        spec = spec or ctx.settings.registry_spec
        if not spec:
            raise PermanentError(f"violation {violation_id}: no registry to match in (submit --registry, or SAFECITY_REGISTRY_SPEC on the worker)")
        mctx = ctx.match_context(check_registry_spec(spec))
        mctx.positions = camera_positions(session)
        result = match_violation(session, violation_id, mctx)
    if result.status == "pending":
        raise TransientError(f"violation {violation_id}: registry unreachable, case pending")
    return FollowupOutcome(violation_id, "done", result.status)


# --------------------------------------------------------------------------- chaining


def segment_followups(ctx, segment_id: str) -> list[tuple[str, str]]:
    """(task name, violation id) to send once a segment is stored, as its job asked.

    Empty while the segment is not ``done``. Sent again by a redelivered segment message:
    the tasks are idempotent, and a crash between the commit and the send loses nothing.
    """
    from workers.models import JobRow, SegmentRow

    with ctx.sessions().begin() as session:
        seg = session.get(SegmentRow, segment_id)
        if seg is None or seg.status != "done":
            return []
        options: dict[str, Any] = session.get(JobRow, seg.job_id).options or {}
        ids = list(seg.violation_ids or [])
    if options.get("plates_deferred"):
        return [(READ_PLATE, vid) for vid in ids]
    if options.get("registry"):
        return [(MATCH_REGISTRY, vid) for vid in ids]
    return []


def plate_followups(ctx, violation_id: str) -> list[tuple[str, str]]:
    """After a deferred plate read: the registry match, when the violation's job asked for one."""
    from store.schema import ViolationRow

    with ctx.sessions().begin() as session:
        v = session.get(ViolationRow, violation_id)
        job = violation_job(session, v.run_id) if v is not None else None
        if job is not None and (job.options or {}).get("registry"):
            return [(MATCH_REGISTRY, violation_id)]
    return []

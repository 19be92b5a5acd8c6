"""Composition root: builds detectors and stores from names and settings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path

from sqlalchemy.orm import Session

from detectors.base import Detector
from exchange.flow import candidate_from_violation, record_candidates
from exchange.log import checkpoint
from exchange.home import Home
from pipeline.evidence import EvidenceStore
from pipeline.run import ProcessResult
from store.db import init_db, make_engine, session_factory
from store.repository import save_run, upsert_camera


def build_detector(name: str, model: Path | None, **backend_options: object) -> tuple[Detector, str]:
    """A detector by registry name, and the model identification recorded with runs.

    ``model`` is a file or a committed model's name (:func:`detectors.models.resolve_model`;
    None for the default vehicle model). ``backend_options`` go to the backend as they are (a
    worker passes onnxruntime ``providers`` and ``intra_op_threads`` for its device).

    Raises:
        ModelFileError: ``model`` is neither a file nor a known name (the message names it).
    """
    from detectors.models import resolve_model
    from detectors.registry import create_detector

    options: dict[str, object] = dict(backend_options)
    model_name = name
    if name in ("onnx", "ultralytics"):
        path = resolve_model(model)
        options["model_path"] = path
        options["agnostic_nms"] = True  # one box per vehicle: the tracker must not see car+truck twins
        # Persons too: process_video tracks them apart from the vehicles for the pedestrian rule.
        options.setdefault("classes", ("car", "bus", "truck", "motorcycle", "person"))
        model_name = f"{name}:{path.name}"
    return create_detector(name, **options), model_name


def build_evidence_store(default_root: Path, env: Mapping[str, str] | None = None) -> EvidenceStore:
    """The evidence store chosen by ``SAFECITY_EVIDENCE_URL`` (``s3://bucket/prefix`` with
    ``SAFECITY_S3_ENDPOINT``..., see store/evidence_backends.py), else the folder ``default_root``.

    Raises:
        pydantic.ValidationError: a malformed setting; the message names the variable's field.
    """
    from store.evidence_backends import evidence_store_from_settings, load_evidence_settings

    return evidence_store_from_settings(load_evidence_settings(env), default_root)


def store_result(db_url: str, result: ProcessResult, home: Home, at: dt.datetime) -> tuple[int, int]:
    """Store a run and log its hand-offs in one transaction.

    The violations, the run, the information provider's signed candidate envelopes (with the
    AIS owner's receipts) and a signed checkpoint of the new chain head commit together or not
    at all.

    Returns:
        (added, already present) violation counts.
    """
    engine = make_engine(db_url)
    try:
        init_db(engine)
        with session_factory(engine).begin() as session:
            return save_result(session, result, home, at)
    finally:
        engine.dispose()


def save_result(session: Session, result: ProcessResult, home: Home, at: dt.datetime) -> tuple[int, int]:
    """The body of :func:`store_result` in the caller's transaction (a worker also marks its
    segment done in it). Never commits.

    Returns:
        (added, already present) violation counts.
    """
    upsert_camera(session, result.camera)
    counts = save_run(session, result.run, result.tracks, result.violations)
    logged = record_candidates(
        session, home, result.camera.id, result.run.id,
        [candidate_from_violation(v) for v in result.violations], at,
    )
    if logged:
        # Sign the chain head at the end of every run, so no tail of this run's
        # entries can be cut off unnoticed before the next periodic checkpoint.
        checkpoint(session, home, at)
    return counts

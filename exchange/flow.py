"""What ``safecity process`` logs: each violation candidate as a signed hand-off from the
camera complex (information provider) to the AIS owner, with its evidence manifest.

Call :func:`record_candidates` inside the same transaction that stores the violations, so
both commit together or not at all.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Sequence

from sqlalchemy.orm import Session

from exchange.cases import advance_case, case_state
from exchange.envelope import Envelope, parse_utc, utc_text
from exchange.errors import EnvelopeRejectedError
from exchange.home import Home

_HEX64 = re.compile(r"[0-9a-f]{64}\Z")


@dataclass(frozen=True)
class CandidateManifest:
    """A violation candidate and its evidence, as the camera complex reports it.

    Attributes:
        violation_id: the (idempotent) violation id; it becomes the case id.
        type: violation type (``speeding``, ``red_light``, ...).
        camera_id: the camera.
        first_time_utc: ISO 8601 time with offset (or aware datetime) of the first frame.
        evidence: (path relative to the evidence store, sha256 hex) per file.
    """

    violation_id: str
    type: str
    camera_id: str
    first_time_utc: str | dt.datetime
    evidence: tuple[tuple[str, str], ...]

    def __post_init__(self) -> None:
        if not self.violation_id or not self.type or not self.camera_id:
            raise ValueError("candidate: violation_id, type and camera_id must be non-empty")
        when = self.first_time_utc if isinstance(self.first_time_utc, dt.datetime) else parse_utc(str(self.first_time_utc))
        utc_text(when)
        for item in self.evidence:
            if len(item) != 2 or not isinstance(item[0], str) or not _HEX64.match(str(item[1])):
                raise ValueError(f"candidate {self.violation_id}: evidence items are (path, sha256 hex); got {item!r}")

    def details(self, run_id: str) -> dict[str, Any]:
        when = self.first_time_utc if isinstance(self.first_time_utc, dt.datetime) else parse_utc(self.first_time_utc)
        return {
            "violation_id": self.violation_id, "type": self.type, "camera_id": self.camera_id, "run_id": run_id,
            "first_time_utc": utc_text(when), "evidence": [{"path": p, "sha256": h} for p, h in self.evidence],
        }


def candidate_from_violation(violation: Any) -> CandidateManifest:
    """A manifest from a ``pipeline.types.Violation`` (id, type, camera_id, first_time_utc, evidence)."""
    return CandidateManifest(
        violation.id, violation.type, violation.camera_id, violation.first_time_utc,
        tuple((e.path, e.sha256) for e in violation.evidence),
    )


def record_candidates(
    session: Session, home: Home, camera_id: str, run_id: str, candidates: Sequence[CandidateManifest], at: dt.datetime
) -> list[Envelope]:
    """Log each new candidate (info_provider -> ais_owner) and the owner's signed receipt.

    Idempotent like the violation store: a candidate whose case already exists (a re-run of
    the same video) is skipped.

    Args:
        camera_id: the camera of the run; every candidate must be from it.
        run_id: the processing run.
        at: hand-off time, aware datetime (e.g. when the run finished).

    Returns:
        The logged envelopes in log order: each candidate followed by its receipt.

    Raises:
        ValueError: a candidate from another camera.
        EnvelopeRejectedError: the owner rejected a candidate (a key or clock problem; the
            rejection is in the session, and the caller's rollback discards it with the run).
    """
    out: list[Envelope] = []
    for cand in candidates:
        if cand.camera_id != camera_id:
            raise ValueError(f"candidate {cand.violation_id}: camera {cand.camera_id!r}, run camera {camera_id!r}")
        if case_state(session, cand.violation_id) is not None:
            continue
        delivery = advance_case(session, home, cand.violation_id, "detected", at, details=cand.details(run_id))
        if not delivery.accepted:
            raise EnvelopeRejectedError(delivery.envelope.id, delivery.entry.reason or "")
        out += [delivery.envelope, delivery.receipt.envelope]
    return out

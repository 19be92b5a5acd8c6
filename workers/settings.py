"""Settings of the Celery workers, built by :func:`load_settings` (never at import time).

Every value has a default that works on one machine (Redis on 127.0.0.1, the home folder's
SQLite database) and an environment variable for a deployment:

=============================  ============================================================
``SAFECITY_BROKER_URL``        Celery broker (default ``redis://127.0.0.1:6379/0``)
``SAFECITY_RESULT_BACKEND``    Celery result backend (default: the broker URL)
``SAFECITY_BROKER_PREFIX``     prefix of every Redis key of the broker and the results
``SAFECITY_DB_URL``            the database every worker writes to (default: home SQLite)
``SAFECITY_EVIDENCE_ROOT``     shared evidence folder (default ``<home>/evidence``)
``SAFECITY_EVIDENCE_URL``      evidence store instead: ``s3://bucket/prefix`` (endpoint and
                               keys: ``SAFECITY_S3_*``, store/evidence_backends.py)
``SAFECITY_REGISTRY_SPEC``     registry of the ``registry`` queue for violations whose job
                               named none: ``sql:URL`` or ``http://host:port``
``SAFECITY_VISIBILITY_S``      Redis visibility timeout, s (see below)
``SAFECITY_SEGMENT_S``         core length of a video segment, s
``SAFECITY_WARMUP_S``          frames decoded before a segment's core, s
``SAFECITY_BACKUP_DB_URL``     the backup centre's replica database (``backup`` queue)
=============================  ============================================================

The Redis visibility timeout is the time after which a message taken by a worker that neither
acknowledged nor rejected it (the machine died, ``kill -9`` of the whole worker) is handed to
another worker. It must exceed the longest task: a segment of ``segment_s`` seconds of video
at the slowest expected processing rate, plus its warm-up and tail.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

ENV_PREFIX = "SAFECITY_"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/0"


class WorkerSettings(BaseModel):
    """Validated worker settings; see the module docstring for the environment variables."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    broker_url: str = Field(default=DEFAULT_BROKER_URL, description="Celery broker URL (Redis)")
    result_backend: str | None = Field(default=None, description="Celery result backend; None: the broker URL")
    key_prefix: str = Field(default="", max_length=64, pattern=r"^[A-Za-z0-9_.:-]*$",
                            description="prefix of every broker and result key (several deployments or test runs on one Redis)")
    db_url: str | None = Field(default=None, description="SQLAlchemy URL; None: the home folder's default")
    evidence_root: Path | None = Field(default=None, description="evidence folder shared by the workers; None: <home>/evidence")
    evidence_url: str | None = Field(default=None, description="evidence store URL (s3://bucket/prefix); None: the evidence folder")
    registry_spec: str | None = Field(default=None, description="registry for match_registry when the job names none (sql:URL, http://...)")
    visibility_timeout_s: int = Field(default=3600, ge=5, le=7 * 24 * 3600, description="unacknowledged message redelivery after, s")
    segment_s: float = Field(default=60.0, gt=0, le=3600, description="core length of a file segment, s of video")
    warmup_s: float = Field(default=3.0, ge=0, le=120, description="decoded before a segment's core (tracker, background), s")
    min_tail_s: float = Field(default=2.0, ge=0, le=120, description="decoded after the core at least (tracks born at the seam), s")
    max_tail_s: float = Field(default=300.0, gt=0, le=3600, description="at most this long after the core to finish the core's tracks, s")
    quiet_s: float = Field(default=2.0, gt=0, le=60, description="a track unseen this long has left the view, s")
    max_retries: int = Field(default=8, ge=0, le=100, description="retries of a transient failure before a person is asked")
    retry_backoff_s: float = Field(default=2.0, gt=0, le=600, description="first retry delay, s; doubles per attempt")
    retry_backoff_max_s: float = Field(default=120.0, gt=0, le=3600, description="retry delay cap, s")
    backup_db_url: str | None = Field(default=None, description="the backup centre's replica database (backup queue)")
    result_expires_s: int = Field(default=24 * 3600, ge=60, description="Celery task results kept in the backend, s")

    @model_validator(mode="after")
    def _check(self) -> WorkerSettings:
        if not self.broker_url.startswith(("redis://", "rediss://", "unix://", "memory://")):
            raise ValueError(f"broker_url: expected a redis:// URL, got {self.broker_url!r}")
        if self.max_tail_s < self.min_tail_s:
            raise ValueError(f"max_tail_s ({self.max_tail_s}) must be >= min_tail_s ({self.min_tail_s})")
        return self

    @property
    def backend_url(self) -> str:
        return self.result_backend or self.broker_url

    def database_url(self) -> str:
        """The configured database, else the home folder's default (``SAFECITY_DB_URL`` or SQLite)."""
        if self.db_url:
            return self.db_url
        from exchange.home import init_home

        return init_home().default_db_url

    def evidence_folder(self) -> Path:
        if self.evidence_root is not None:
            return Path(self.evidence_root)
        from exchange.home import home_path

        return home_path() / "evidence"

    def evidence_location(self) -> str:
        """Where a new job's evidence goes: ``evidence_url`` when set, else the resolved folder."""
        if self.evidence_url:
            from store.evidence_backends import evidence_location

            return evidence_location({"SAFECITY_EVIDENCE_URL": self.evidence_url})
        return str(self.evidence_folder().resolve())

    def retry_delay_s(self, attempt: int) -> float:
        """Delay before retry number ``attempt`` (0-based): exponential, capped."""
        return min(self.retry_backoff_max_s, self.retry_backoff_s * (2 ** max(0, attempt)))


_ENV_FIELDS = {
    "BROKER_URL": "broker_url",
    "RESULT_BACKEND": "result_backend",
    "BROKER_PREFIX": "key_prefix",
    "DB_URL": "db_url",
    "EVIDENCE_ROOT": "evidence_root",
    "EVIDENCE_URL": "evidence_url",
    "REGISTRY_SPEC": "registry_spec",
    "VISIBILITY_S": "visibility_timeout_s",
    "SEGMENT_S": "segment_s",
    "WARMUP_S": "warmup_s",
    "MAX_RETRIES": "max_retries",
    "RETRY_BACKOFF_S": "retry_backoff_s",
    "BACKUP_DB_URL": "backup_db_url",
}


def load_settings(env: Mapping[str, str] | None = None, **overrides: object) -> WorkerSettings:
    """Settings from the environment (``SAFECITY_*``, table above) and explicit ``overrides``.

    Raises:
        pydantic.ValidationError: a value out of range; the message names the field.
    """
    env = os.environ if env is None else env
    values: dict[str, object] = {}
    for suffix, name in _ENV_FIELDS.items():
        raw = env.get(ENV_PREFIX + suffix)
        if raw not in (None, ""):
            values[name] = raw
    values.update({k: v for k, v in overrides.items() if v is not None})
    return WorkerSettings(**values)

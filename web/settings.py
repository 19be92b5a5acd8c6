"""Settings of the web application, built by :func:`load_settings` (never at import time)."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from exchange.home import DB_URL_ENV, home_path

EVIDENCE_ENV = "SAFECITY_EVIDENCE_DIRS"
EVIDENCE_URL_ENV = "SAFECITY_EVIDENCE_URL"
REGISTRY_ENV = "SAFECITY_REGISTRY_URL"
COOKIE_SECURE_ENV = "SAFECITY_COOKIE_SECURE"

#: Reject reason codes a reviewer chooses from (label in Russian / Kyrgyz for the form).
REJECT_REASONS: dict[str, str] = {
    "plate_unreadable": "Номер не читается / Номур окулбайт",
    "wrong_vehicle": "Не то транспортное средство / Башка унаа",
    "measurement_doubt": "Сомнение в измерении / Өлчөө шектүү",
    "emergency_vehicle": "Спецтранспорт при исполнении / Атайын унаа",
    "no_violation": "Нарушения нет / Бузуу жок",
    "duplicate": "Дубликат / Кайталоо",
    "other": "Другое (комментарий) / Башка",
}


class WebSettings(BaseModel):
    """Everything the web application is configured with.

    Attributes:
        db_url: SQLAlchemy URL of the Safe City database.
        home: the home folder (keys, roster) that signs the review decisions.
        evidence_dirs: folders that evidence paths are relative to (``<process --out>/evidence``);
            a file is served only from inside one of them and only when its SHA-256 matches.
        evidence_url: the evidence store the workers put evidence in (``s3://bucket/prefix``;
            endpoint and keys from ``SAFECITY_S3_*``), read by key after the folders.
        registry_url: SQLAlchemy URL of the data holder's registry (``None``: no registry; a
            case then cannot be confirmed).
        cookie_secure: send the session cookie with ``Secure`` (HTTPS only). Off only for
            local plain-HTTP testing.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    db_url: str = Field(min_length=1)
    home: Path
    evidence_dirs: tuple[Path, ...] = ()
    evidence_url: str | None = None
    registry_url: str | None = None
    cookie_secure: bool = True
    session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60, description="idle minutes before a session ends")
    session_max_hours: int = Field(default=12, ge=1, le=72, description="hours before a session ends regardless (one shift)")
    login_max_failures: int = Field(default=5, ge=1, le=100, description="failed logins per account within the window before lockout")
    login_ip_max_failures: int = Field(default=30, ge=1, le=10_000, description="failed logins per client address within the window")
    login_window_minutes: int = Field(default=15, ge=1, le=24 * 60, description="window and lockout length, minutes")
    page_size: int = Field(default=50, ge=5, le=500, description="rows per page in queues and logs")
    camera_stale_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60, description="a camera without a run this long raises an alert")


def load_settings(**overrides: object) -> WebSettings:
    """Settings from the environment (``SAFECITY_DB_URL``, ``SAFECITY_HOME``,
    ``SAFECITY_EVIDENCE_DIRS`` (``os.pathsep``-separated), ``SAFECITY_EVIDENCE_URL``, ``SAFECITY_REGISTRY_URL``,
    ``SAFECITY_COOKIE_SECURE=0``), then ``overrides``.

    Raises:
        pydantic.ValidationError: naming the bad field.
    """
    home = home_path(overrides.pop("home", None))  # type: ignore[arg-type]
    values: dict[str, object] = {
        "db_url": os.environ.get(DB_URL_ENV) or f"sqlite:///{(home / 'safecity.sqlite').resolve()}",
        "home": home,
        "evidence_dirs": tuple(Path(p) for p in os.environ.get(EVIDENCE_ENV, "").split(os.pathsep) if p),
        "evidence_url": os.environ.get(EVIDENCE_URL_ENV) or None,
        "registry_url": os.environ.get(REGISTRY_ENV) or None,
        "cookie_secure": os.environ.get(COOKIE_SECURE_ENV, "1").strip().lower() not in ("0", "false", "no"),
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    return WebSettings.model_validate(values)

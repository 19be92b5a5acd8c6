"""Evidence store backends: a lazy registry (``folder``, ``s3``) and selection from settings.

=================================  ========================================================
``SAFECITY_EVIDENCE_URL``          where evidence goes: ``s3://bucket/prefix``, a folder path
                                   or ``file:///path``; unset: the caller's default folder
``SAFECITY_S3_ENDPOINT``           S3-compatible server, e.g. ``http://minio:9000`` (unset: AWS)
``SAFECITY_S3_REGION``             the bucket's region
``SAFECITY_S3_ACCESS_KEY_ID``      explicit credentials (both or neither); unset: the AWS SDK
``SAFECITY_S3_SECRET_ACCESS_KEY``  chain (``AWS_ACCESS_KEY_ID``..., ``~/.aws``, instance role)
``SAFECITY_S3_SERVER_CHECKSUM``    ``0`` for servers that reject ``ChecksumSHA256``
=================================  ========================================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from pipeline.evidence import EvidenceStore, ReadableEvidenceStore
from safecity.errors import PermanentError
from safecity.plugins import LazyRegistry

#: name -> "module:Class"; the single source of truth for evidence backends.
EVIDENCE_STORES: dict[str, str] = {
    "folder": "pipeline.evidence:FolderEvidenceStore",
    "s3": "store.evidence_s3:S3EvidenceStore",
}
evidence_stores = LazyRegistry("evidence store", EVIDENCE_STORES)

ENV_PREFIX = "SAFECITY_"


def create_evidence_store(name: str, **options: object) -> EvidenceStore:
    """An evidence store by registry name, e.g. ``create_evidence_store("folder", root=path)``.

    Raises:
        ValueError: unknown name (with the valid names and "did you mean").
    """
    return evidence_stores.resolve(name)(**options)


class EvidenceSettings(BaseModel):
    """Where evidence is stored; see the module docstring for the environment variables."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str | None = Field(default=None, description="s3://bucket/prefix, a folder path or file:///path; None: default folder")
    s3_endpoint: str | None = Field(default=None, description="S3-compatible endpoint URL; None: AWS S3")
    s3_region: str | None = Field(default=None, description="bucket region")
    s3_access_key_id: str | None = Field(default=None, description="access key id; None: AWS SDK credential chain")
    s3_secret_access_key: SecretStr | None = Field(default=None, description="secret key (never logged)")
    s3_server_checksum: bool = Field(default=True, description="send ChecksumSHA256 for the server to verify")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        scheme = urlsplit(value).scheme
        if scheme == "s3":
            bucket = urlsplit(value).netloc
            if not bucket:
                raise ValueError(f"expected s3://bucket/prefix, got {value!r} (no bucket)")
        elif scheme not in ("", "file") and not (len(scheme) == 1 and os.name == "nt"):
            raise ValueError(f"expected s3://bucket/prefix, file:///path or a folder path, got scheme {scheme!r} in {value!r}")
        return value

    @field_validator("s3_endpoint")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).netloc:
            raise ValueError(f"expected http(s)://host[:port], got {value!r}")
        return value


_ENV_FIELDS = {
    "EVIDENCE_URL": "url",
    "S3_ENDPOINT": "s3_endpoint",
    "S3_REGION": "s3_region",
    "S3_ACCESS_KEY_ID": "s3_access_key_id",
    "S3_SECRET_ACCESS_KEY": "s3_secret_access_key",
    "S3_SERVER_CHECKSUM": "s3_server_checksum",
}


def load_evidence_settings(env: Mapping[str, str] | None = None, **overrides: object) -> EvidenceSettings:
    """Settings from ``SAFECITY_*`` variables (table above) and explicit ``overrides``.

    Raises:
        pydantic.ValidationError: a malformed value; the message names the field.
    """
    env = os.environ if env is None else env
    values: dict[str, object] = {}
    for suffix, name in _ENV_FIELDS.items():
        raw = env.get(ENV_PREFIX + suffix)
        if raw not in (None, ""):
            values[name] = raw
    values.update({k: v for k, v in overrides.items() if v is not None})
    return EvidenceSettings(**values)


def evidence_store_from_settings(settings: EvidenceSettings, default_root: Path) -> EvidenceStore:
    """The configured evidence store; the folder ``default_root`` when no URL is set."""
    if settings.url is None:
        return create_evidence_store("folder", root=Path(default_root))
    parts = urlsplit(settings.url)
    if parts.scheme == "s3":
        secret = settings.s3_secret_access_key
        return create_evidence_store(
            "s3",
            bucket=parts.netloc,
            prefix=unquote(parts.path).strip("/"),
            endpoint_url=settings.s3_endpoint,
            region_name=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=secret.get_secret_value() if secret is not None else None,
            server_checksum=settings.s3_server_checksum,
        )
    path = unquote(parts.path) if parts.scheme == "file" else settings.url
    return create_evidence_store("folder", root=Path(path).expanduser())


class EvidenceConfigError(PermanentError):
    """The evidence store settings are invalid (a person must fix the configuration)."""


def evidence_location(env: Mapping[str, str] | None = None, default_root: Path | None = None) -> str:
    """Where new evidence goes, as recorded in a job row: ``SAFECITY_EVIDENCE_URL`` when set
    (``s3://bucket/prefix`` or a folder), else the resolved ``default_root``.

    Raises:
        EvidenceConfigError: a malformed ``SAFECITY_*`` evidence setting.
        ValueError: neither a URL nor ``default_root``.
    """
    try:
        settings = load_evidence_settings(env)
    except ValidationError as exc:
        raise EvidenceConfigError(f"evidence store settings (SAFECITY_EVIDENCE_URL, SAFECITY_S3_*): {exc}") from exc
    if settings.url is not None:
        if urlsplit(settings.url).scheme == "s3":
            return settings.url.rstrip("/")
        return str(Path(unquote(urlsplit(settings.url).path) if settings.url.startswith("file:") else settings.url).expanduser().resolve())
    if default_root is None:
        raise ValueError("evidence location: SAFECITY_EVIDENCE_URL is unset and no default folder was given")
    return str(Path(default_root).resolve())


def open_evidence_store(location: str | Path, env: Mapping[str, str] | None = None) -> ReadableEvidenceStore:
    """The store at ``location`` (a job row's ``evidence_root``: a folder path or
    ``s3://bucket/prefix``); endpoint, region and credentials of an S3 location come from this
    machine's ``SAFECITY_S3_*`` settings, never from the row.

    Raises:
        EvidenceConfigError: a malformed location or setting.
    """
    try:
        settings = load_evidence_settings(env, url=str(location))
    except ValidationError as exc:
        raise EvidenceConfigError(f"evidence store {str(location)!r}: {exc}") from exc
    return evidence_store_from_settings(settings, Path(location))  # type: ignore[return-value]

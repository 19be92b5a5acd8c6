"""Evidence in S3-compatible object storage (AWS S3, MinIO, Ceph RGW...), write-once.

Objects are ``<prefix>/<key>``; the record's ``path`` is the ``key`` alone, as with the folder
store, so a database row does not change when the bucket is moved or mirrored.

Write-once: a put never replaces an object. The upload is conditional (``If-None-Match: *``,
which S3 honours since 2024 and MinIO since long before); where a server does not implement
it the store falls back to a HEAD check before the upload and says so in the log (a narrow
race window remains there, stated in docs/storage.md). Same bytes under an existing key give
the existing record back (a redelivered task); different bytes are stored beside it under
``<stem>.<sha256[:8]><suffix>``, as the folder store does. Nothing is ever deleted.

Integrity: the SHA-256 travels as object metadata (``x-amz-meta-sha256``) and as the
server-side checksum (``ChecksumSHA256``, verified by servers that support it), and the
object is read back after the upload and its digest compared (``verify_after_write``).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import mimetypes
from pathlib import PurePosixPath
from typing import Any

from pipeline.evidence import EvidenceIntegrityError
from pipeline.types import EvidenceFile
from safecity.errors import PermanentError, TransientError

logger = logging.getLogger(__name__)

_NOT_IMPLEMENTED = {"NotImplemented", "501"}
_TRANSIENT = {"RequestTimeout", "SlowDown", "ServiceUnavailable", "InternalError", "503", "500", "RequestTimeTooSkewed"}


class EvidenceStoreError(PermanentError):
    """The object store refused the request in a way a retry cannot fix (bucket, rights)."""


class EvidenceStoreUnavailable(TransientError):
    """The object store could not be reached or answered with a retryable error."""


__all__ = ["EvidenceIntegrityError", "EvidenceStoreError", "EvidenceStoreUnavailable", "S3EvidenceStore", "check_key"]


def check_key(key: str) -> str:
    """``key`` if it is a relative POSIX path inside the store, else ValueError."""
    parts = PurePosixPath(key).parts if isinstance(key, str) else ()
    if not parts or key.startswith("/") or "\\" in key or any(p in ("..", ".") for p in parts) or "//" in key:
        raise ValueError(f"evidence key {key!r} must be a relative path inside the store")
    return key


def _beside(key: str, digest: str) -> str:
    path = PurePosixPath(key)
    return str(path.with_name(f"{path.stem}.{digest[:8]}{path.suffix}"))


class S3EvidenceStore:
    """Evidence files as objects in one bucket under one prefix.

    Args:
        bucket: bucket name (must exist; the store never creates buckets).
        prefix: key prefix without leading or trailing slash, e.g. ``"evidence/bishkek"``.
        endpoint_url: the server for S3-compatible stores (MinIO...), None for AWS S3.
        region_name: the bucket's region (AWS), None for the SDK default.
        access_key_id, secret_access_key: explicit credentials; None uses the AWS SDK chain
            (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, ``~/.aws``, instance role).
        server_checksum: send ``ChecksumSHA256`` for the server to verify; turn off for old
            servers that reject the header.
        verify_after_write: read each new object back and compare its SHA-256.
        connect_timeout_s, read_timeout_s: per-request timeouts, s.
        max_attempts: tries per request (the SDK's standard retry mode, with backoff).
        client: a ready boto3 S3 client (the other connection arguments are then unused).
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region_name: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        server_checksum: bool = True,
        verify_after_write: bool = True,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 60.0,
        max_attempts: int = 5,
        client: Any = None,
    ) -> None:
        if not bucket or "/" in bucket:
            raise ValueError(f"bucket: expected a bucket name, got {bucket!r}")
        if (access_key_id is None) != (secret_access_key is None):
            raise ValueError("access_key_id and secret_access_key: give both or neither")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url
        self.server_checksum = server_checksum
        self.verify_after_write = verify_after_write
        self._conditional = True  # cleared when the server answers If-None-Match with 501
        if client is None:
            import boto3
            from botocore.config import Config

            config = Config(
                connect_timeout=connect_timeout_s,
                read_timeout=read_timeout_s,
                retries={"max_attempts": max_attempts, "mode": "standard"},
                # S3-compatible servers on a host:port usually need path-style addressing.
                s3={"addressing_style": "path" if endpoint_url else "auto"},
            )
            client = boto3.client(
                "s3", endpoint_url=endpoint_url, region_name=region_name, config=config,
                aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key,
            )
        self._s3 = client

    def __repr__(self) -> str:
        where = f" at {self.endpoint_url}" if self.endpoint_url else ""
        return f"S3EvidenceStore(s3://{self.bucket}/{self.prefix}{where})"

    @property
    def location(self) -> str:
        """``s3://bucket/prefix``: what a job row records (endpoint and keys come from settings)."""
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    def keys(self, prefix: str) -> list[str]:
        """Every evidence key under ``prefix`` (e.g. ``"<violation id>/"``), sorted.

        Raises:
            EvidenceStoreUnavailable, EvidenceStoreError: as for :meth:`get`.
        """
        if prefix:
            check_key(prefix.rstrip("/"))
        full = self.object_key(prefix) if prefix else (f"{self.prefix}/" if self.prefix else "")
        strip = f"{self.prefix}/" if self.prefix else ""
        out: list[str] = []
        try:
            for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=full):
                out += [obj["Key"].removeprefix(strip) for obj in page.get("Contents", [])]
        except Exception as exc:  # noqa: BLE001 - translated below
            raise self._translate(exc, "list", prefix or ".") from exc
        return sorted(out)

    def object_key(self, key: str) -> str:
        """The bucket key of evidence ``key``."""
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes, kind: str) -> EvidenceFile:
        """Store ``data`` under ``key`` once; see the module docstring for the rules.

        Raises:
            ValueError: ``key`` leaves the store.
            EvidenceStoreUnavailable: the server cannot be reached (retry later).
            EvidenceStoreError: the server refused (no bucket, no rights).
            EvidenceIntegrityError: the object read back differs from ``data``.
        """
        check_key(key)
        digest = hashlib.sha256(data).hexdigest()
        for candidate in (key, _beside(key, digest)):
            stored = self._put_once(candidate, data, digest)
            if stored is not None:
                return EvidenceFile(kind, candidate, digest)
            existing = self._head(candidate)
            if existing is not None and existing.get("Metadata", {}).get("sha256") == digest:
                return EvidenceFile(kind, candidate, digest)  # same bytes already stored
            logger.info("evidence key taken by other bytes, storing beside key=%s", candidate)
        raise EvidenceStoreError(
            f"s3://{self.bucket}/{self.object_key(key)}: both the key and its digest-named alternative hold other bytes"
        )

    def get(self, key: str, sha256: str | None = None) -> bytes:
        """The bytes of evidence ``key``, checked against its stored (and the given) SHA-256.

        Raises:
            FileNotFoundError: no such object.
            EvidenceIntegrityError: the bytes do not match the digest.
        """
        check_key(key)
        try:
            response = self._s3.get_object(Bucket=self.bucket, Key=self.object_key(key))
            data = response["Body"].read()
        except Exception as exc:  # noqa: BLE001 - translated below
            if _code(exc) in {"NoSuchKey", "404"}:
                raise FileNotFoundError(f"s3://{self.bucket}/{self.object_key(key)}: no such evidence object") from exc
            raise self._translate(exc, "get", key) from exc
        actual = hashlib.sha256(data).hexdigest()
        for expected in (response.get("Metadata", {}).get("sha256"), sha256):
            if expected is not None and expected != actual:
                raise EvidenceIntegrityError(
                    f"s3://{self.bucket}/{self.object_key(key)}: SHA-256 {actual} does not match the recorded {expected}"
                )
        return data

    def _put_once(self, key: str, data: bytes, digest: str) -> dict | None:
        """Upload unless ``key`` exists; the response, or None when it exists."""
        args: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": self.object_key(key),
            "Body": data,
            "Metadata": {"sha256": digest},
            "ContentType": mimetypes.guess_type(key)[0] or "application/octet-stream",
        }
        if self.server_checksum:
            args["ChecksumSHA256"] = base64.b64encode(bytes.fromhex(digest)).decode("ascii")
        if not self._conditional and self._head(key) is not None:
            return None
        try:
            response = self._s3.put_object(**args, **({"IfNoneMatch": "*"} if self._conditional else {}))
        except Exception as exc:  # noqa: BLE001 - translated below
            code = _code(exc)
            if code in {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}:
                return None
            if code in _NOT_IMPLEMENTED and self._conditional:
                logger.warning("server has no conditional PUT, falling back to HEAD-then-PUT endpoint=%s", self.endpoint_url)
                self._conditional = False
                return self._put_once(key, data, digest)
            raise self._translate(exc, "put", key) from exc
        if self.verify_after_write:
            self.get(key, digest)
        return response

    def _head(self, key: str) -> dict | None:
        try:
            return self._s3.head_object(Bucket=self.bucket, Key=self.object_key(key))
        except Exception as exc:  # noqa: BLE001 - translated below
            if _code(exc) in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise self._translate(exc, "head", key) from exc

    def _translate(self, exc: Exception, action: str, key: str) -> Exception:
        where = f"s3://{self.bucket}/{self.object_key(key)}"
        from botocore.exceptions import BotoCoreError, ClientError

        if isinstance(exc, ClientError):
            code = _code(exc)
            if code in _TRANSIENT:
                return EvidenceStoreUnavailable(f"{where}: {action} failed, retry later: {code}")
            return EvidenceStoreError(f"{where}: {action} refused: {code}: {exc.response.get('Error', {}).get('Message', '')}")
        if isinstance(exc, BotoCoreError):  # connection refused, timeout, DNS
            return EvidenceStoreUnavailable(f"{where}: {action} failed, object store unreachable: {exc}")
        return exc


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return ""
    code = str(response.get("Error", {}).get("Code", ""))
    return code or str(response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))

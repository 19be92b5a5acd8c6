"""The ``outbox`` delivery adapter: a local folder, write-once and atomic.

Each notice becomes ``<number>.pdf`` and then ``<number>.json`` (the manifest; its presence
means the notice is complete). A file is written to a temporary name, flushed, and linked into
place with ``os.link``, which fails instead of replacing an existing file; a notice delivered
twice finds identical files and succeeds; a different file under the same name is refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
from pathlib import Path

from notices.delivery import DeliveryReceipt, OutgoingNotice
from notices.errors import DeliveryPermanentError, DeliveryTransientError


def _write_once(target: Path, data: bytes) -> None:
    if target.exists():
        if hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(data).digest():
            return
        raise DeliveryPermanentError(f"outbox file {target.name} exists with other content; refusing to replace it")
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, target)  # atomic, and never replaces an existing file
        except FileExistsError:
            _write_once(target, data)  # another deliverer won the race: same content is fine
    finally:
        os.unlink(tmp)  # the temporary name only; the linked file stays


class OutboxAdapter:
    """Delivers into ``folder`` (created on first use).

    Args:
        folder: the outbox folder.
        clock: UTC now (injected for tests).
    """

    name = "outbox"

    def __init__(self, folder: Path, clock=lambda: dt.datetime.now(dt.timezone.utc)) -> None:  # noqa: ANN001
        self.folder = Path(folder)
        self._clock = clock

    @classmethod
    def from_settings(cls, settings, *, home_dir: Path, **options) -> "OutboxAdapter":  # noqa: ANN001
        from notices.config import NoticeSettings

        cfg = settings or NoticeSettings()
        return cls(options.pop("folder", None) or cfg.resolved_outbox_dir(home_dir), **options)

    def deliver(self, notice: OutgoingNotice) -> DeliveryReceipt:
        if hashlib.sha256(notice.pdf).hexdigest() != notice.pdf_sha256:
            raise DeliveryPermanentError(f"notice {notice.notice_id}: PDF does not match its recorded SHA-256")
        manifest = {
            "format": "safecity-notice/1", "notice_id": notice.notice_id, "number": notice.number,
            "violation_id": notice.violation_id, "plate": notice.plate, "owner_ref": notice.owner_ref, "payment_reference": notice.payment_reference,
            "amount": notice.amount, "discounted_amount": notice.discounted_amount, "currency": notice.currency,
            "discount_until": notice.discount_until.isoformat(), "issued_at": notice.issued_at.isoformat(),
            "pdf": f"{notice.number}.pdf", "pdf_sha256": notice.pdf_sha256,
        }
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            _write_once(self.folder / f"{notice.number}.pdf", notice.pdf)
            _write_once(self.folder / f"{notice.number}.json", json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True).encode())
        except OSError as exc:  # disk full, permissions: the notice stays pending
            raise DeliveryTransientError(f"outbox {self.folder}: cannot write notice {notice.number}: {exc.strerror}") from exc
        return DeliveryReceipt(self.name, f"outbox:{notice.number}", self._clock())

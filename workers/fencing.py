"""Storing a live chunk's result only while this worker still holds the camera's lease.

The lease check (``workers/leases.py``) and the database commit are two systems; checking the
lease *before* opening the store transaction leaves a window: the lease expires, another worker
takes the camera, and the stale worker (a GC pause, a slow disk, a database lock wait) commits
anyway. :func:`store_fenced` closes it from inside the transaction: every row of the result
is written and flushed first, then the lease is renewed with the compare-and-renew script (an
atomic Redis-side check-and-set on ``"{worker}|{token}"``), and only then is the transaction
committed; a failed renewal rolls everything back. A successful renewal leaves the lease
valid for a full ``ttl_ms`` from that moment, and nothing but the COMMIT itself remains, so a
worker that has lost its lease cannot commit unless the COMMIT alone outlasts the lease
lifetime (10 s by default).
"""

from __future__ import annotations

import datetime as dt
import logging

from safecity.errors import SafeCityError

log = logging.getLogger(__name__)


class LeaseLostError(SafeCityError):
    """The camera's lease passed to another holder before the result was committed; nothing was stored."""


def store_fenced(db_url: str, result, home, at: dt.datetime, leases, lease) -> tuple[int, int]:  # noqa: ANN001 - ProcessResult, Home, CameraLeases, Lease
    """Store ``result`` (``safecity.composition.save_result``: run, violations, signed log
    entries, checkpoint) in one transaction that commits only if ``lease`` is still held.

    Args:
        leases: this worker's ``CameraLeases`` (its Redis client).
        lease: the lease the chunk is stored under (the current holder's, also for a leftover
            chunk recorded under an older token).

    Returns:
        (added, already present) violation counts.

    Raises:
        LeaseLostError: the lease is no longer this worker's; the transaction was rolled back.
    """
    from safecity.composition import save_result
    from store.db import init_db, make_engine, session_factory

    engine = make_engine(db_url)
    try:
        init_db(engine)
        with session_factory(engine).begin() as session:
            counts = save_result(session, result, home, at)
            session.flush()  # every write done (and its locks taken): only COMMIT is left
            if not leases.renew(lease):
                raise LeaseLostError(
                    f"camera {lease.camera_id}: lease token {lease.token} of {lease.worker_id} was lost before the commit; "
                    "the chunk's result is not stored (the new holder processes it)"
                )
            return counts
    finally:
        engine.dispose()

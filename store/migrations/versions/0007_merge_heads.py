"""Merge the parallel branches 0002-0006 into one head.

Revisions 0002-0006 were written in parallel, each on top of the baseline, and were applied
together with ``upgrade heads``. From here on the release ships exactly one head, so
``safecity db upgrade`` runs ``upgrade head`` and a new revision names ``0007_merge_heads``
(or whatever is the head then) as its ``down_revision``; a second head is refused at start-up
(``store.migrate.script_head``) instead of being applied in an order nobody chose.

No schema change: the branches touch different tables.

Revision ID: 0007_merge_heads
Revises: 0002_notices, 0003_live_cameras, 0004_web, 0005_worker_jobs, 0006_registry_matches
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0007_merge_heads"
down_revision: str | Sequence[str] | None = (
    "0002_notices",
    "0003_live_cameras",
    "0004_web",
    "0005_worker_jobs",
    "0006_registry_matches",
)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

"""Our record of each violation's registry match (on ``store.schema.Base``, migrated with ours).

The registry itself is the data holder's database (``registry_adapters.schema``); this table is
the AIS's own note of what the registry answered for a case: the chosen vehicle's description
and the owner *reference* (never a name or address), the confusable candidates a reviewer must
choose from, consistency flags, and the pending state while the registry is unreachable.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from store.schema import Base

#: Every match status. ``pending``: the registry could not be asked yet (retried later);
#: ``unreadable``: no plate read to ask with (a person reads the plate first).
MATCH_STATUSES: tuple[str, ...] = ("matched", "fuzzy", "ambiguous", "not_found", "pending", "unreadable")


class RegistryMatchRow(Base):
    """The registry match of one violation (one row per violation, updated on retry or correction)."""

    __tablename__ = "registry_matches"

    violation_id: Mapped[str] = mapped_column(ForeignKey("violations.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    query_plate: Mapped[str | None] = mapped_column(String(32), nullable=True)
    vehicle_plate: Mapped[str | None] = mapped_column(String(32), nullable=True)
    vehicle: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    candidates: Mapped[list] = mapped_column(JSON, default=list)
    flags: Mapped[list] = mapped_column(JSON, default=list)
    needs_review: Mapped[bool] = mapped_column(Boolean, default=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(300), nullable=True)
    matched_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), onupdate=func.now())

"""The data holder's vehicle registry tables (SQLAlchemy 2.0).

A separate :class:`RegistryBase`: the registry is another organisation's database, never created
or migrated together with ours (``store.schema.Base``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Integer, String, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class RegistryBase(DeclarativeBase):
    pass


class RegisteredVehicle(RegistryBase):
    """One vehicle registration (one row per plate)."""

    __tablename__ = "registry_vehicles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plate: Mapped[str] = mapped_column(String(16), unique=True, index=True)
    make: Mapped[str] = mapped_column(String(40))
    model: Mapped[str] = mapped_column(String(40))
    colour: Mapped[str] = mapped_column(String(24))
    vehicle_class: Mapped[str] = mapped_column(String(16))
    year: Mapped[int | None] = mapped_column(Integer, nullable=True)
    registration_status: Mapped[str] = mapped_column(String(16))
    owner_ref: Mapped[str] = mapped_column(String(32), index=True)
    registered_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

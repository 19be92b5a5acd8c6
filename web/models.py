"""Tables of the web application: accounts, server-side sessions, login attempts, plate corrections.

Review decisions themselves live in the exchange log (signed ``decision`` envelopes and the
case-state rows); these tables hold only what the web needs on top of it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from store.schema import Base

#: Roles of the web application. ``data_holder`` and ``backup`` are service accounts.
WEB_ROLES: tuple[str, ...] = ("reviewer", "supervisor", "operator", "regulator", "data_holder", "backup")


class UserRow(Base):
    """An account. ``password_hash`` is an argon2id hash (PHC string), never the password."""

    __tablename__ = "web_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class SessionRow(Base):
    """A logged-in session. Only the SHA-256 of the cookie token is stored (a stolen table
    cannot be replayed as cookies); ``csrf_token`` is the per-session form token."""

    __tablename__ = "web_sessions"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("web_users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class LoginAttemptRow(Base):
    """One login attempt (kept for throttling and as an audit trail of failed logins)."""

    __tablename__ = "web_login_attempts"
    __table_args__ = (Index("ix_web_login_attempts_user_at", "username", "at"), Index("ix_web_login_attempts_ip_at", "client_ip", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64))
    client_ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    success: Mapped[bool] = mapped_column(Boolean)


class PlateCorrectionRow(Base):
    """A reviewer's plate correction; the read it replaced is kept here and in the signed log."""

    __tablename__ = "web_plate_corrections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    violation_id: Mapped[str] = mapped_column(ForeignKey("violations.id"), index=True)
    old_text: Mapped[str | None] = mapped_column(String(32), nullable=True)
    old_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    new_text: Mapped[str] = mapped_column(String(32))
    corrected_by: Mapped[str] = mapped_column(String(64))
    corrected_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    entry_idx: Mapped[int] = mapped_column(Integer)
    lookup_status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")

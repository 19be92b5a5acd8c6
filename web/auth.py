"""Accounts, argon2 password hashes, server-side sessions, CSRF tokens and login throttling.

Functions take a session and never commit; the request handler owns the transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from web.models import WEB_ROLES, LoginAttemptRow, SessionRow, UserRow
from web.settings import WebSettings

logger = logging.getLogger(__name__)

_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}\Z")
MIN_PASSWORD_LENGTH = 12
_HASHER = PasswordHasher()  # argon2id, library defaults (RFC 9106 low-memory profile)
# A hash of a random password: verifying against it costs the same time as a real account,
# so the answer time does not tell whether a username exists.
_DUMMY_HASH = _HASHER.hash(secrets.token_hex(16))


@dataclass(frozen=True)
class CurrentUser:
    """The logged-in user of a request."""

    id: int
    username: str
    role: str
    csrf_token: str


class LoginThrottled(Exception):
    """Too many failed logins for the account or the client address; try again later."""

    def __init__(self, retry_after_s: int) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(f"too many failed logins; retry in {retry_after_s} s")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def check_new_password(password: str) -> None:
    """Raises ValueError naming the problem when ``password`` is too weak to store."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password: expected at least {MIN_PASSWORD_LENGTH} characters, got {len(password)}")
    if len(set(password)) < 5:
        raise ValueError("password: expected at least 5 different characters")


def add_user(session: Session, username: str, role: str, password: str) -> UserRow:
    """Create an account.

    Raises:
        ValueError: bad username (lower-case letters, digits, ``.``, ``_``, ``-``; 2-64), unknown
            role, weak password, or a username that exists.
    """
    if not _USERNAME.match(username or ""):
        raise ValueError(f"username: expected 2-64 lower-case letters, digits, '.', '_' or '-', got {username!r}")
    if role not in WEB_ROLES:
        raise ValueError(f"role: expected one of {', '.join(WEB_ROLES)}, got {role!r}")
    check_new_password(password)
    if session.scalar(select(UserRow.id).where(UserRow.username == username)) is not None:
        raise ValueError(f"username: {username!r} exists already")
    row = UserRow(username=username, role=role, password_hash=hash_password(password), active=True)
    session.add(row)
    session.flush()
    logger.info("user added username=%s role=%s", username, role)
    return row


def set_active(session: Session, username: str, active: bool) -> UserRow:
    """Enable or disable an account; a disabled account's sessions stop working at once.

    Raises:
        ValueError: no such user.
    """
    user = session.scalar(select(UserRow).where(UserRow.username == username))
    if user is None:
        raise ValueError(f"username: no account {username!r}")
    user.active = active
    if not active:
        session.execute(update(SessionRow).where(SessionRow.user_id == user.id).values(revoked=True))
    session.flush()
    logger.info("user %s username=%s", "enabled" if active else "disabled", username)
    return user


def list_users(session: Session) -> list[UserRow]:
    return list(session.scalars(select(UserRow).order_by(UserRow.username)))


def _since(settings: WebSettings, now: dt.datetime) -> dt.datetime:
    return now - dt.timedelta(minutes=settings.login_window_minutes)


def _aware(value: dt.datetime) -> dt.datetime:
    # SQLite returns naive datetimes for timezone-aware columns; they are stored as UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)


def check_throttle(session: Session, settings: WebSettings, username: str, client_ip: str, now: dt.datetime) -> None:
    """Raise :class:`LoginThrottled` when the account or the address has too many recent failures.

    Failures count within ``login_window_minutes``; a lockout lasts until the oldest counted
    failure leaves the window. Checked before the password, so a locked account cannot be
    probed further even with the right password.
    """
    since = _since(settings, now)
    for column, value, limit in (
        (LoginAttemptRow.username, username, settings.login_max_failures),
        (LoginAttemptRow.client_ip, client_ip, settings.login_ip_max_failures),
    ):
        times = list(session.scalars(
            select(LoginAttemptRow.at).where(column == value, LoginAttemptRow.success.is_(False), LoginAttemptRow.at >= since)
            .order_by(LoginAttemptRow.at.desc()).limit(limit)
        ))
        if len(times) >= limit:
            oldest = _aware(times[-1])
            retry = int((oldest + dt.timedelta(minutes=settings.login_window_minutes) - now).total_seconds()) + 1
            raise LoginThrottled(max(retry, 1))


def authenticate(session: Session, settings: WebSettings, username: str, password: str, client_ip: str, now: dt.datetime) -> UserRow | None:
    """The active account for ``username``/``password``, or None; every attempt is recorded.

    Raises:
        LoginThrottled: too many recent failures (the attempt is not even checked).
    """
    username = (username or "").strip().lower()[:64]
    check_throttle(session, settings, username, client_ip, now)
    user = session.scalar(select(UserRow).where(UserRow.username == username))
    ok = False
    try:
        _HASHER.verify(user.password_hash if user is not None else _DUMMY_HASH, password or "")
        ok = user is not None and user.active
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    session.add(LoginAttemptRow(username=username, client_ip=client_ip[:64], at=now, success=ok))
    if ok and _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    session.flush()
    logger.info("login username=%s ok=%s", username, ok)
    return user if ok else None


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(session: Session, settings: WebSettings, user: UserRow, now: dt.datetime) -> str:
    """A new session for ``user``; returns the cookie token (only its digest is stored)."""
    token = secrets.token_urlsafe(32)
    session.add(SessionRow(
        token_sha256=_token_digest(token), user_id=user.id, csrf_token=secrets.token_urlsafe(32),
        created_at=now, last_seen_at=now, expires_at=now + dt.timedelta(hours=settings.session_max_hours),
    ))
    session.flush()
    return token


def resolve_session(session: Session, settings: WebSettings, token: str | None, now: dt.datetime) -> CurrentUser | None:
    """The user of a cookie token, or None (unknown, revoked, expired, idle too long, inactive user).

    Refreshes ``last_seen_at`` at most once a minute (fewer writes on busy pages).
    """
    if not token or len(token) > 200:
        return None
    row = session.get(SessionRow, _token_digest(token))
    if row is None or row.revoked:
        return None
    if now >= _aware(row.expires_at) or now - _aware(row.last_seen_at) > dt.timedelta(minutes=settings.session_idle_minutes):
        return None
    user = session.get(UserRow, row.user_id)
    if user is None or not user.active:
        return None
    if now - _aware(row.last_seen_at) > dt.timedelta(minutes=1):
        row.last_seen_at = now
    return CurrentUser(user.id, user.username, user.role, row.csrf_token)


def end_session(session: Session, token: str | None) -> None:
    if token:
        session.execute(update(SessionRow).where(SessionRow.token_sha256 == _token_digest(token)).values(revoked=True))


def csrf_matches(expected: str, given: str | None) -> bool:
    """Constant-time comparison of the session's CSRF token with the submitted one."""
    return bool(given) and hmac.compare_digest(expected.encode(), str(given).encode())


def count_users(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(UserRow)) or 0

"""Per-request plumbing: the authorisation dependency (login, role, CSRF), rendering, transactions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from web.auth import CurrentUser, csrf_matches, resolve_session
from web.permissions import HOME_PAGES, PERMISSIONS, allowed

SESSION_COOKIE = "safecity_session"
LOGIN_CSRF_COOKIE = "safecity_login_csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class NotAuthenticated(Exception):
    """No valid session: pages redirect to the login page, the API answers 401."""


class Forbidden(Exception):
    """Logged in, but the role may not use this route (or the CSRF token is missing/wrong)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def now(request: Request) -> dt.datetime:
    return request.app.state.clock()


def tx(request: Request):
    """A session in a transaction that commits when the block ends without an exception."""
    return request.app.state.sessions.begin()


async def authorize(request: Request) -> CurrentUser:
    """Every non-public route depends on this: a valid session, a role allowed for the route
    (by route name, deny by default) and, for state-changing methods, the session's CSRF token
    (form field ``csrf_token`` or header ``X-CSRF-Token``)."""
    route = request.scope.get("route")
    name = getattr(route, "name", None)
    state = request.app.state
    token = request.cookies.get(SESSION_COOKIE)

    def _resolve() -> CurrentUser | None:
        with state.sessions.begin() as session:
            return resolve_session(session, state.settings, token, state.clock())

    user = await run_in_threadpool(_resolve)
    if user is None:
        raise NotAuthenticated()
    if name not in PERMISSIONS or not allowed(name, user.role):
        raise Forbidden(f"роль «{user.role}» не имеет доступа к этой странице")
    if request.method not in SAFE_METHODS:
        given = request.headers.get("x-csrf-token")
        if given is None and request.headers.get("content-type", "").startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            given = (await request.form()).get("csrf_token")
        if not csrf_matches(user.csrf_token, given if isinstance(given, str) else None):
            raise Forbidden("недействительный CSRF-токен: обновите страницу и повторите")
    request.state.user = user
    return user


def nav_for(role: str) -> list[tuple[str, str]]:
    """(href, label) of the pages a role may open, for the menu."""
    items = [
        ("/review", "review_queue", "Очередь / Кезек"),
        ("/supervision", "supervision", "Решения / Чечимдер"),
        ("/ops/cameras", "ops_cameras", "Камеры / Камералар"),
        ("/ops/workers", "ops_workers", "Обработчики"),
        ("/ops/alerts", "ops_alerts", "Оповещения"),
        ("/audit/log", "audit_log", "Журнал обмена"),
        ("/audit/checkpoints", "audit_checkpoints", "Контрольные точки"),
        ("/audit/access-log", "audit_access_log", "Доступ к ПДн"),
    ]
    return [(href, label) for href, name, label in items if allowed(name, role)]


def render(request: Request, template: str, status_code: int = 200, **context: Any):
    templates: Jinja2Templates = request.app.state.templates
    user: CurrentUser | None = getattr(request.state, "user", None)
    ctx = {"user": user, "csrf": user.csrf_token if user else "", "nav": nav_for(user.role) if user else [], **context}
    return templates.TemplateResponse(request, template, ctx, status_code=status_code)


def home_page(role: str) -> str:
    return HOME_PAGES.get(role, "/api/me")

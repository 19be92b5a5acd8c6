"""The application factory: ``create_app(settings)`` wires the database, keys, registry and routes."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Form, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from exchange.home import load_home
from store.db import init_db, make_engine, session_factory
from web.auth import LoginThrottled, authenticate, start_session
from web.permissions import PERMISSIONS, PUBLIC
from web.deps import LOGIN_CSRF_COOKIE, SESSION_COOKIE, Forbidden, NotAuthenticated, is_api, render, tx
from web.review import STATE_LABELS, TYPE_LABELS, Registry
from web.settings import REJECT_REASONS, WebSettings

logger = logging.getLogger(__name__)

HERE = Path(__file__).parent

_SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
}


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def evidence_sources(settings: WebSettings) -> tuple:
    """The evidence folders, then the evidence store of ``evidence_url`` (read by key).

    Raises:
        store.evidence_backends.EvidenceConfigError: a malformed URL or ``SAFECITY_S3_*`` setting.
    """
    sources: list = list(settings.evidence_dirs)
    if settings.evidence_url:
        from store.evidence_backends import open_evidence_store

        sources.append(open_evidence_store(settings.evidence_url))
    return tuple(sources)


def create_app(settings: WebSettings, *, clock: Callable[[], dt.datetime] = _utc_now) -> FastAPI:
    """Build the application.

    Args:
        settings: see :class:`web.settings.WebSettings`.
        clock: the UTC time of requests (decisions, sessions); injected so tests control it.

    Raises:
        exchange.errors.HomeError: the home folder has no roster (run ``safecity init``).
    """
    import web.models  # noqa: F401 - registers the web tables on Base

    home = load_home(settings.home)
    engine = make_engine(settings.db_url)
    init_db(engine)
    registry_engine = None
    if settings.registry_url:
        from registry_adapters.sql import registry_engine as make_registry_engine

        registry_engine = make_registry_engine(settings.registry_url)

    app = FastAPI(title="Safe City", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = session_factory(engine)
    app.state.home = home
    app.state.registry = Registry(registry_engine)
    app.state.evidence_sources = evidence_sources(settings)
    app.state.clock = clock
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals.update(STATE_LABELS=STATE_LABELS, TYPE_LABELS=TYPE_LABELS, REJECT_REASONS=REJECT_REASONS)
    app.state.templates = templates

    @app.middleware("http")
    async def _headers(request: Request, call_next):
        response = await call_next(request)
        for key, value in _SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(NotAuthenticated)
    async def _anon(request: Request, exc: NotAuthenticated):
        if is_api(request):
            return JSONResponse({"error": "authentication required"}, status_code=401)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden):
        if is_api(request):
            return JSONResponse({"error": exc.message}, status_code=403)
        return render(request, "error.html", status_code=403, title="Доступ запрещён", message=exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        if is_api(request) or request.method != "GET":
            return JSONResponse({"error": exc.detail}, status_code=exc.status_code)
        return render(request, "error.html", status_code=exc.status_code, title=f"Ошибка {exc.status_code}", message=str(exc.detail))

    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.get("/healthz", name="healthz")
    def healthz():
        return PlainTextResponse("ok")

    @app.get("/login", name="login_form")
    def login_form(request: Request, next: str = "/"):
        token = secrets.token_urlsafe(32)
        response = render(request, "login.html", login_csrf=token, next=_safe_next(next), error=None)
        _set_login_csrf(response, token, settings)
        return response

    @app.post("/login", name="login")
    def login(
        request: Request,
        username: str = Form("", max_length=200),
        password: str = Form("", max_length=1000),
        csrf_token: str = Form("", max_length=200),
        next: str = Form("/", max_length=2000),
    ):
        cookie = request.cookies.get(LOGIN_CSRF_COOKIE)
        if not cookie or not secrets.compare_digest(cookie.encode(), csrf_token.encode()):
            return _login_page(request, settings, next, "Форма устарела: войдите ещё раз.", 403)
        client = request.client.host if request.client else "unknown"
        at = request.app.state.clock()
        try:
            with tx(request) as session:
                user = authenticate(session, settings, username, password, client, at)
                token = start_session(session, settings, user, at) if user is not None else None
                role = user.role if user is not None else None
        except LoginThrottled as exc:
            response = _login_page(request, settings, next, f"Слишком много неудачных попыток. Повторите через {exc.retry_after_s // 60 + 1} мин.", 429)
            response.headers["Retry-After"] = str(exc.retry_after_s)
            return response
        if token is None:
            return _login_page(request, settings, next, "Неверное имя пользователя или пароль.", 401)
        from web.deps import home_page

        target = _safe_next(next)
        response = RedirectResponse(home_page(role) if target == "/" else target, status_code=303)
        response.set_cookie(
            SESSION_COOKIE, token, httponly=True, secure=settings.cookie_secure, samesite="strict",
            max_age=settings.session_max_hours * 3600, path="/",
        )
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
        return response

    from web.routes_audit import router as audit_router
    from web.routes_ops import router as ops_router
    from web.routes_review import router as review_router
    from web.routes_session import router as session_router

    for router in (session_router, review_router, ops_router, audit_router):
        app.include_router(router)
    unlisted = sorted({name for name, _, _ in route_table(app)} - set(PERMISSIONS) - PUBLIC)
    if unlisted:  # deny-by-default would refuse them anyway; fail at start so nobody ships one
        raise RuntimeError(f"routes without an entry in web.permissions.PERMISSIONS: {unlisted}")

    return app


def dispose_app(app: FastAPI) -> None:
    """Close the app's database connections (the CLI calls it when the server stops)."""
    app.state.engine.dispose()
    if app.state.registry.engine is not None:
        app.state.registry.engine.dispose()


def route_table(app: FastAPI) -> list[tuple[str, str, str]]:
    """(route name, method, path) of every endpoint, included routers flattened."""
    out: list[tuple[str, str, str]] = []

    def walk(routes, prefix: str) -> None:
        for route in routes:
            if isinstance(route, APIRoute):
                out.extend((route.name, m, prefix + route.path) for m in sorted(route.methods - {"HEAD"}))
            elif hasattr(route, "original_router"):  # FastAPI >= 0.120 keeps included routers lazily
                ctx = getattr(route, "include_context", None)
                walk(route.original_router.routes, prefix + (getattr(ctx, "prefix", "") or ""))

    walk(app.routes, "")
    return out


def _safe_next(target: str) -> str:
    """Only local absolute paths: ``//evil.example`` or ``https://...`` would be an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target or target.startswith("/login"):
        return "/"
    return target


def _set_login_csrf(response, token: str, settings: WebSettings) -> None:
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, secure=settings.cookie_secure, samesite="strict", max_age=3600, path="/login")


def _login_page(request: Request, settings: WebSettings, next: str, error: str, status: int):
    token = secrets.token_urlsafe(32)
    response = render(request, "login.html", status_code=status, login_csrf=token, next=_safe_next(next), error=error)
    _set_login_csrf(response, token, settings)
    return response

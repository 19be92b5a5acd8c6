"""Routes every logged-in role has: the landing redirect, logout, who-am-I."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse

from web.auth import CurrentUser, end_session
from web.deps import SESSION_COOKIE, authorize, home_page, tx

router = APIRouter(dependencies=[Depends(authorize)])


@router.get("/", name="home")
def home(user: CurrentUser = Depends(authorize)):
    return RedirectResponse(home_page(user.role), status_code=303)


@router.post("/logout", name="logout")
def logout(request: Request):
    with tx(request) as session:
        end_session(session, request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/api/me", name="api_me")
def api_me(user: CurrentUser = Depends(authorize)):
    return {"username": user.username, "role": user.role, "csrf_token": user.csrf_token}

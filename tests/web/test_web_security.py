"""Security: CSRF, IDOR, path traversal, brute-force lockout, cookies, redirects, headers."""

from __future__ import annotations

import os

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from exchange.cases import case_state
from store.schema import EvidenceRow
from web.models import LoginAttemptRow
from web_testdata import PASSWORD, form_csrf, login, session_csrf, username


# ------------------------------------------------------------------------------------ CSRF

@pytest.mark.parametrize("token", [None, "", "forged-token"], ids=["missing", "empty", "wrong"])
def test_state_change_without_the_session_csrf_token_is_refused(client, seeded, token):
    """Confirm without the session's CSRF token answers 403 and decides nothing."""
    login(client, "reviewer")
    vid = seeded.ids["confirm"]
    client.get(f"/cases/{vid}")
    data = {} if token is None else {"csrf_token": token}
    r = client.post(f"/cases/{vid}/confirm", data=data)
    assert r.status_code == 403 and "CSRF" in r.text
    with seeded.sessions() as s:
        assert case_state(s, vid) == "ready_for_review"


def test_csrf_token_of_another_session_is_refused(app, seeded):
    """A token stolen from one session does not work in another (tokens are per session)."""
    with TestClient(app, follow_redirects=False) as a, TestClient(app, follow_redirects=False) as b:
        login(a, "reviewer")
        login(b, "supervisor")
        stolen = session_csrf(b)
        vid = seeded.ids["reject"]
        a.get(f"/cases/{vid}")
        assert a.post(f"/cases/{vid}/reject", data={"csrf_token": stolen, "reason_code": "duplicate"}).status_code == 403
        assert a.post(f"/cases/{vid}/reject", data={"csrf_token": session_csrf(a), "reason_code": "duplicate"}).status_code == 303


def test_csrf_header_works_for_api_clients(client, seeded):
    """An API client may send the token as X-CSRF-Token instead of a form field."""
    login(client, "reviewer")
    vid = seeded.ids["unreadable"]
    r = client.post(f"/cases/{vid}/plate", data={"plate": "01777KGA"}, headers={"X-CSRF-Token": session_csrf(client), "accept": "application/json"})
    assert r.status_code == 200 and r.json()["ok"]


def test_login_form_needs_its_csrf_cookie(client):
    """A login post without the login form's token (login CSRF) is refused before the password is checked."""
    r = client.post("/login", data={"username": "reviewer", "password": PASSWORD, "csrf_token": "x"})
    assert r.status_code == 403 and "safecity_session" not in r.cookies


# ------------------------------------------------------------------------------------ IDOR

def test_roles_cannot_reach_other_roles_objects(client, seeded):
    """An operator cannot fetch evidence or a case by id; a regulator cannot decide; a reviewer
    cannot read the access log or pull the exchange log."""
    vid = seeded.ids["confirm"]
    login(client, "operator")
    assert client.get(f"/evidence/{vid}/frame_at").status_code == 403
    assert client.get(f"/api/cases/{vid}").status_code == 403
    login(client, "regulator")
    assert client.post(f"/cases/{vid}/confirm", data={"csrf_token": session_csrf(client)}).status_code == 403
    login(client, "reviewer")
    assert client.get("/api/access-log").status_code == 403
    assert client.get("/api/exchange/records").status_code == 403
    with seeded.sessions() as s:
        assert case_state(s, vid) in ("detected", "ready_for_review")


def test_deactivated_account_loses_its_session(client, seeded):
    """Deactivating a user ends access at the next request, even with a live session cookie."""
    from web.models import UserRow

    login(client, "reviewer")
    assert client.get("/api/me").status_code == 200
    with seeded.sessions.begin() as s:
        s.execute(update(UserRow).where(UserRow.username == "reviewer").values(active=False))
    assert client.get("/api/me").status_code == 401


# -------------------------------------------------------------------------- path traversal

@pytest.mark.parametrize("path", [
    "/evidence/..%2F..%2F..%2Fetc/passwd",
    "/evidence/{vid}/..%2F..%2Fsafecity.sqlite",
    "/evidence/{vid}/%2E%2E",
    "/evidence/{vid}/metadata.json",
    "/evidence/..%2Fhome%2Fkeys/ais_user.key",
    "/evidence/{vid}%2F..%2F..%2Fhome/frame_at",
])
def test_evidence_urls_cannot_name_paths(client, seeded, path):
    """Whatever the URL holds, evidence is looked up by (id, kind) only: never a file outside the store."""
    login(client, "reviewer")
    r = client.get(path.replace("{vid}", seeded.ids["confirm"]))
    assert r.status_code == 404
    assert b"PRIVATE KEY" not in r.content and b"SQLite format" not in r.content


@pytest.mark.parametrize("stored", ["../../home/keys/ais_user.key", "/etc/passwd", "x/../../../home/roster.json"])
def test_a_tampered_stored_path_is_never_followed(client, seeded, stored):
    """Even a database row pointing outside the evidence folder is refused."""
    vid = seeded.ids["confirm"]
    with seeded.sessions.begin() as s:
        s.execute(update(EvidenceRow).where(EvidenceRow.violation_id == vid, EvidenceRow.kind == "frame_at").values(path=stored))
    login(client, "reviewer")
    r = client.get(f"/evidence/{vid}/frame_at")
    assert r.status_code == 404 and b"PRIVATE KEY" not in r.content


def test_a_symlink_out_of_the_store_is_refused(client, seeded):
    """A file replaced by a symlink to outside the evidence folder is not served."""
    vid = seeded.ids["confirm"]
    target = seeded.evidence_dir / vid / "at.jpg"
    target.unlink()
    os.symlink(seeded.home.path / "roster.json", target)
    login(client, "reviewer")
    assert client.get(f"/evidence/{vid}/frame_at").status_code == 404


def test_an_altered_evidence_file_is_refused(client, seeded):
    """A file whose SHA-256 no longer matches is refused with 409, never served."""
    vid = seeded.ids["confirm"]
    (seeded.evidence_dir / vid / "at.jpg").write_bytes(b"\xff\xd8 altered")
    login(client, "reviewer")
    r = client.get(f"/evidence/{vid}/frame_at")
    assert r.status_code == 409 and b"altered" not in r.content


# ------------------------------------------------------------------------------ brute force

def _try(client, user: str, password: str):
    page = client.get("/login")
    return client.post("/login", data={"username": user, "password": password, "csrf_token": form_csrf(page.text)})


def test_account_locks_after_repeated_failures_then_recovers(client, seeded, clock, app):
    """Five wrong passwords lock the account (429 even with the right one, Retry-After set);
    other accounts still work; after the window the right password works again."""
    limit = app.state.settings.login_max_failures
    for _ in range(limit):
        assert _try(client, "reviewer", "wrong-password-123").status_code == 401
    locked = _try(client, "reviewer", PASSWORD)
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
    assert "safecity_session" not in locked.cookies
    assert _try(client, username("supervisor"), PASSWORD).status_code == 303
    clock.advance(minutes=app.state.settings.login_window_minutes + 1)
    assert _try(client, "reviewer", PASSWORD).status_code == 303
    with seeded.sessions() as s:
        attempts = list(s.scalars(select(LoginAttemptRow).where(LoginAttemptRow.username == "reviewer")))
    assert [a.success for a in attempts] == [False] * limit + [True]  # the locked attempt was not even checked


def test_many_usernames_from_one_address_are_throttled(seeded, clock):
    """Guessing across usernames from one address hits the per-address limit."""
    from web.app import create_app
    from web.settings import load_settings

    app = create_app(load_settings(db_url=seeded.db_url, home=seeded.home.path, cookie_secure=False, login_ip_max_failures=8), clock=clock)
    with TestClient(app, follow_redirects=False) as client:
        for i in range(8):
            assert _try(client, f"nobody{i}", "wrong-password-123").status_code == 401
        assert _try(client, "reviewer", PASSWORD).status_code == 429


def test_unknown_user_and_wrong_password_look_the_same(client):
    """The answer does not tell whether a username exists."""
    a = _try(client, "no-such-user", "wrong-password-123")
    b = _try(client, "reviewer", "wrong-password-123")
    assert a.status_code == b.status_code == 401
    assert "Неверное имя пользователя или пароль" in a.text and "Неверное имя пользователя или пароль" in b.text


# ------------------------------------------------------------------- cookies, sessions, misc

def test_session_cookie_flags(seeded, clock):
    """The session cookie is HttpOnly, SameSite=Strict and Secure when configured (the default)."""
    from web.app import create_app
    from web.settings import load_settings

    app = create_app(load_settings(db_url=seeded.db_url, home=seeded.home.path), clock=clock)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as c:
        r = login(c, "reviewer")
    cookie = next(v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith("safecity_session="))
    assert "HttpOnly" in cookie and "Secure" in cookie and "samesite=strict" in cookie.lower()


def test_idle_session_expires(client, clock, app):
    """A session idle longer than session_idle_minutes is over."""
    login(client, "reviewer")
    assert client.get("/api/me").status_code == 200
    clock.advance(minutes=app.state.settings.session_idle_minutes + 1)
    assert client.get("/api/me").status_code == 401
    assert client.get("/review").headers["location"].startswith("/login")


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "/login"])
def test_login_never_redirects_off_site(client, target):
    """The next parameter only ever leads to a local page."""
    page = client.get("/login")
    r = client.post("/login", data={"username": "reviewer", "password": PASSWORD, "csrf_token": form_csrf(page.text), "next": target})
    assert r.status_code == 303 and r.headers["location"] == "/review"


def test_anonymous_page_request_keeps_where_it_wanted_to_go(client, seeded):
    """An anonymous page request goes to login with next=, and login brings it back there."""
    vid = seeded.ids["confirm"]
    r = client.get(f"/cases/{vid}")
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    page = client.get(r.headers["location"])
    done = client.post("/login", data={"username": "reviewer", "password": PASSWORD, "csrf_token": form_csrf(page.text), "next": f"/cases/{vid}"})
    assert done.headers["location"] == f"/cases/{vid}"


def test_security_headers_on_every_page(client):
    """Pages forbid framing and sniffing, restrict scripts to our own file, and are not cached."""
    r = client.get("/login")
    assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
    assert "script-src 'self'" in r.headers["content-security-policy"] and r.headers["cache-control"] == "no-store"

"""Every route for every role (and anonymous), generated from the app's route table."""

from __future__ import annotations

import pytest

from web.models import WEB_ROLES
from web.permissions import PERMISSIONS, PUBLIC
from web_testdata import login, session_csrf


def _routes(app) -> list[tuple[str, str, str]]:
    """(name, method, path) of every endpoint of the app, from its route table."""
    from web.app import route_table

    return route_table(app)


def _concrete(path: str, seeded) -> str:
    return (path.replace("{violation_id}", seeded.ids["confirm"]).replace("{kind}", "frame_at")
            .replace("{camera_id}", "cam-a").replace("{index}", "1"))


def test_every_route_has_a_permission_entry(app):
    """A route without an entry in web.permissions fails here (and is refused at run time)."""
    names = {name for name, _, _ in _routes(app)}
    missing = sorted(names - set(PERMISSIONS) - PUBLIC)
    assert not missing, f"routes without a permission entry: {missing}"
    stale = sorted(set(PERMISSIONS) - names)
    assert not stale, f"permission entries without a route: {stale}"


@pytest.mark.parametrize("role", [None, *WEB_ROLES], ids=lambda r: r or "anonymous")
def test_route_matrix(app, client, seeded, role):
    """Anonymous: pages redirect to /login, the API answers 401. A role outside a route's entry
    gets 403; a role inside it is neither refused nor answered with a server error."""
    csrf = ""
    if role is not None:
        assert login(client, role).status_code == 303
        csrf = session_csrf(client)
    failures = []
    cells = 0
    for name, method, path in _routes(app):
        if name in PUBLIC or name == "logout":
            continue
        url = _concrete(path, seeded)
        kwargs = {"data": {"csrf_token": csrf, "plate": "01123ABC", "reason_code": "duplicate"}} if method == "POST" else {}
        r = client.request(method, url, **kwargs)
        cells += 1
        if role is None:
            ok = r.status_code == 401 if path.startswith("/api/") else (r.status_code == 303 and r.headers["location"].startswith("/login"))
        elif role in PERMISSIONS[name]:
            ok = r.status_code not in (401, 403) and r.status_code < 500 and not r.headers.get("location", "").startswith("/login")
        else:
            ok = r.status_code == 403
        if not ok:
            failures.append(f"{method} {url} ({name}) as {role}: {r.status_code}")
    assert cells == len(PERMISSIONS) - 1  # every entry but logout (tested below) was called
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("role", WEB_ROLES)
def test_logout_ends_the_session_for_every_role(client, role):
    """Logout revokes the server-side session: the old cookie no longer opens anything."""
    assert login(client, role).status_code == 303
    cookie = client.cookies.get("safecity_session")
    assert client.get("/api/me").status_code == 200
    assert client.post("/logout", data={"csrf_token": session_csrf(client)}).status_code == 303
    client.cookies.set("safecity_session", cookie)
    assert client.get("/api/me").status_code == 401


@pytest.mark.parametrize("role,home", [("reviewer", "/review"), ("supervisor", "/review"), ("operator", "/ops/cameras"),
                                       ("regulator", "/audit/log"), ("data_holder", "/api/me"), ("backup", "/api/me")])
def test_each_role_lands_on_its_home_page(client, role, home):
    """After login each role is sent to its own start page."""
    assert login(client, role).headers["location"] == home

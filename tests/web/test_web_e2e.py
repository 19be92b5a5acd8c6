"""End to end in headless Chromium (Debian ``chromium`` driven by Playwright) against
``safecity serve`` on a free port, with a seeded SQLite database, registry and evidence.

Skipped with the reason when /usr/bin/chromium or the playwright package is missing
(CI: ``apt-get install -y chromium`` and ``pip install playwright``; never ``playwright install``).
"""

from __future__ import annotations

import importlib.util
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from web_testdata import PASSWORD, seed, username

CHROMIUM = Path(os.environ.get("SAFECITY_CHROMIUM", "/usr/bin/chromium"))

pytestmark = pytest.mark.e2e

if not CHROMIUM.exists():
    pytest.skip(f"end-to-end tests need Chromium at {CHROMIUM} (apt-get install -y chromium)", allow_module_level=True)
playwright_api = pytest.importorskip("playwright.sync_api", reason="end-to-end tests need the playwright package (pip install playwright)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """`safecity serve` as a real process on a free port, over a freshly seeded site."""
    folder = tmp_path_factory.mktemp("e2e")
    seeded = seed(folder)
    port = _free_port()
    env = {**os.environ, "SAFECITY_HOME": str(seeded.home.path)}
    cmd = [sys.executable, "-c", "from safecity.cli import app; app()", "serve", "--host", "127.0.0.1", "--port", str(port),
           "--db", seeded.db_url, "--evidence-dir", str(seeded.evidence_dir), "--registry", seeded.registry_url, "--insecure-cookies"]
    log = open(folder / "server.log", "wb")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"safecity serve did not start: {(folder / 'server.log').read_text(errors='replace')[-2000:]}")
        time.sleep(0.2)
    seeded.url = url  # type: ignore[attr-defined]
    yield seeded
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield b
        b.close()


@pytest.fixture
def page_as(browser, site):
    contexts = []

    def login(role: str):
        ctx = browser.new_context(accept_downloads=True)
        contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(20_000)
        page.goto(site.url + "/")
        assert "/login" in page.url
        page.fill("input[name=username]", username(role))
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        return page

    yield login
    for ctx in contexts:
        ctx.close()


def test_1_reviewer_confirms_a_case_with_the_keyboard(page_as, site):
    """J selects the first queued case, Enter opens it, C confirms it and moves to the next case."""
    page = page_as("reviewer")
    assert page.url.endswith("/review")
    assert page.locator("tr.row").count() == 4
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/cases/confirm"))
    playwright_api.expect(page.get_by_test_id("case-state")).to_have_text("ожидает проверки")
    playwright_api.expect(page.get_by_test_id("registry-record")).to_contain_text("01123ABC")
    assert page.evaluate("document.querySelector('[data-testid=frame_at]').naturalWidth") == 640
    page.keyboard.press("c")
    page.wait_for_url(re.compile(r"/cases/unreadab"))
    playwright_api.expect(page.get_by_test_id("flash-ok")).to_contain_text("подтверждено")
    page.goto(f"{site.url}/cases/{site.ids['confirm']}")
    playwright_api.expect(page.get_by_test_id("case-state")).to_have_text(re.compile("подтверждено|постановление выдано"))
    if importlib.util.find_spec("notices") is not None:  # the notice is issued on confirmation
        playwright_api.expect(page.get_by_test_id("notice")).to_be_visible()
        pdf = page.context.request.get(site.url + page.get_by_test_id("notice-pdf").get_attribute("href"))
        assert pdf.status == 200 and pdf.body().startswith(b"%PDF")


def test_2_reviewer_rejects_a_case_with_a_reason(page_as, site):
    """Choosing a reason and pressing Reject signs a rejection."""
    page = page_as("reviewer")
    page.goto(f"{site.url}/cases/{site.ids['reject']}")
    page.get_by_test_id("reason").select_option("duplicate")
    page.get_by_test_id("reject").click()
    page.wait_for_load_state()
    page.goto(f"{site.url}/cases/{site.ids['reject']}")
    playwright_api.expect(page.get_by_test_id("case-state")).to_have_text("отклонено")
    playwright_api.expect(page.get_by_test_id("history")).to_contain_text("Дубликат")


def test_3_reviewer_corrects_an_unreadable_plate_then_confirms(page_as, site):
    """P focuses the plate field; the corrected plate is matched in the registry; then it confirms."""
    page = page_as("reviewer")
    page.goto(f"{site.url}/cases/{site.ids['unreadable']}")
    playwright_api.expect(page.get_by_test_id("registry-error")).to_be_visible()
    page.keyboard.press("p")
    page.keyboard.type("01 777 KGA")
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    playwright_api.expect(page.get_by_test_id("flash-ok")).to_contain_text("01777KGA")
    playwright_api.expect(page.get_by_test_id("registry-record")).to_contain_text("01777KGA")
    page.get_by_test_id("confirm").click()
    page.wait_for_load_state()
    page.goto(f"{site.url}/cases/{site.ids['unreadable']}")
    playwright_api.expect(page.get_by_test_id("case-state")).to_have_text(re.compile("подтверждено|постановление выдано"))


def test_4_supervisor_sees_the_signed_decisions(page_as, site):
    """The supervisor's decisions page lists the reviewer's confirmations and rejection."""
    page = page_as("supervisor")
    page.goto(site.url + "/supervision")
    table = page.get_by_test_id("decisions")
    playwright_api.expect(table).to_contain_text("reviewer")
    playwright_api.expect(table).to_contain_text("отклонено")


def test_5_regulator_verifies_the_log_and_downloads_the_bundle(page_as, site):
    """The regulator lands on the log, runs the full verification, reads the access log and exports."""
    page = page_as("regulator")
    assert page.url.endswith("/audit/log")
    playwright_api.expect(page.get_by_test_id("log")).to_contain_text("decision")
    assert page.get_by_test_id("log").locator("text=ошибка").count() == 0
    page.get_by_test_id("verify-link").click()
    playwright_api.expect(page.get_by_test_id("verify-ok")).to_contain_text("Журнал верен")
    page.goto(site.url + "/audit/access-log")
    playwright_api.expect(page.get_by_test_id("access-log")).to_contain_text("user:reviewer")
    page.goto(site.url + "/audit/log")
    with page.expect_download() as info:
        page.get_by_test_id("export-link").click()
    assert info.value.suggested_filename.startswith("safecity-audit-") and info.value.suggested_filename.endswith(".zip")


def test_6_operator_sees_cameras_but_not_cases(page_as, site):
    """The operator lands on the cameras with thumbnails; the review queue is refused."""
    page = page_as("operator")
    assert page.url.endswith("/ops/cameras")
    playwright_api.expect(page.get_by_test_id("cameras")).to_contain_text("cam-a")
    page.wait_for_function("Array.from(document.querySelectorAll('img.thumb')).every(i => i.complete && i.naturalWidth === 320)")
    response = page.goto(site.url + "/review")
    assert response.status == 403
    playwright_api.expect(page.get_by_test_id("error-message")).to_contain_text("operator")


@pytest.mark.parametrize("role", ["data_holder", "backup"])
def test_7_service_accounts_get_their_identity(page_as, role):
    """Service accounts log in and land on /api/me, which names their role."""
    page = page_as(role)
    assert page.url.endswith("/api/me")
    assert f'"role":"{role}"' in page.content().replace(" ", "")


def test_8_logout_returns_to_login(page_as, site):
    """The logout button ends the session: the queue asks for a login again."""
    page = page_as("reviewer")
    page.get_by_role("button", name=re.compile("Выйти")).click()
    page.wait_for_url(re.compile("/login"))
    page.goto(site.url + "/review")
    assert "/login" in page.url

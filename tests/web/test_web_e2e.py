"""End to end in headless Chromium (Debian ``chromium`` driven by Playwright) against
``safecity serve`` on a free port, with a seeded SQLite database, registry and evidence.

Skipped with the reason when /usr/bin/chromium or the playwright package is missing
(CI: ``apt-get install -y chromium`` and ``pip install playwright``; never ``playwright install``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
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


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from safecity.cli import app; app()", *args]


@contextlib.contextmanager
def serving(folder: Path, home: Path, db_url: str, evidence_dir: Path, registry_url: str):
    """`safecity serve` as a real process on a free port; yields its base URL."""
    port = _free_port()
    env = {**os.environ, "SAFECITY_HOME": str(home)}
    cmd = _cli("serve", "--host", "127.0.0.1", "--port", str(port), "--db", db_url, "--evidence-dir", str(evidence_dir),
               "--registry", registry_url, "--insecure-cookies")
    log = open(folder / "server.log", "wb")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"safecity serve did not start: {(folder / 'server.log').read_text(errors='replace')[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A freshly seeded site behind `safecity serve`."""
    folder = tmp_path_factory.mktemp("e2e")
    seeded = seed(folder)
    with serving(folder, seeded.home.path, seeded.db_url, seeded.evidence_dir, seeded.registry_url) as url:
        seeded.url = url  # type: ignore[attr-defined]
        yield seeded


def _login(browser, url: str, role: str, who: str | None = None):
    ctx = browser.new_context(accept_downloads=True)
    page = ctx.new_page()
    page.set_default_timeout(20_000)
    page.goto(url + "/")
    assert "/login" in page.url
    page.fill("input[name=username]", who or username(role))
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return ctx, page


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
        ctx, page = _login(browser, site.url, role)
        contexts.append(ctx)
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


@pytest.mark.slow
def test_9_sample_video_processed_then_reviewed(browser, tmp_path):
    """The committed sample video goes through `safecity process` into a real SQLite database;
    accounts come from `safecity users add`; a reviewer corrects the first case's plate and
    confirms it in the browser; the regulator's verification of the log passes."""
    from exchange.home import init_home
    from registry_adapters.seed import seed_registry
    from web_testdata import REGISTERED

    sample = Path(__file__).resolve().parents[2] / "sample_videos" / "day-default-s1"
    home = init_home(tmp_path / "home")
    env = {**os.environ, "SAFECITY_HOME": str(home.path)}
    db_url = f"sqlite:///{tmp_path / 'city.sqlite'}"
    done = subprocess.run(_cli("process", str(sample / "scene.mp4"), "--camera", str(sample / "camera.yaml"), "--out", str(tmp_path / "run"),
                               "--db", db_url, "--no-plates", "--detect-every", "2", "--json"),
                          env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    violations = json.loads(done.stdout)["violations"]
    assert violations
    for role in ("reviewer", "regulator"):
        made = subprocess.run(_cli("users", "add", role, "--role", role, "--db", db_url), env=env, input=PASSWORD + "\n",
                              capture_output=True, text=True, timeout=120)
        assert made.returncode == 0, made.stderr
    registry_url = f"sqlite:///{tmp_path / 'registry.sqlite'}"
    seed_registry(registry_url, n=20, seed=3, include_plates=[REGISTERED])
    with serving(tmp_path, home.path, db_url, tmp_path / "run" / "evidence", registry_url) as url:
        ctx, page = _login(browser, url, "reviewer")
        assert page.locator("tr.row").count() == len(violations)
        page.keyboard.press("j")
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"/cases/"))
        playwright_api.expect(page.get_by_test_id("case-state")).to_have_text("ожидает проверки")
        page.wait_for_function("document.querySelector('[data-testid=frame_at]').naturalWidth > 0")
        playwright_api.expect(page.get_by_test_id("clip")).to_be_attached()
        page.keyboard.press("p")
        page.keyboard.type(REGISTERED)
        page.keyboard.press("Enter")
        page.wait_for_load_state()
        playwright_api.expect(page.get_by_test_id("registry-record")).to_contain_text(REGISTERED)
        case_url = page.url.split("?")[0]
        page.get_by_test_id("confirm").click()
        page.wait_for_load_state()
        page.goto(case_url)
        playwright_api.expect(page.get_by_test_id("case-state")).to_have_text(re.compile("подтверждено|постановление выдано"))
        ctx.close()
        ctx, page = _login(browser, url, "regulator")
        page.get_by_test_id("verify-link").click()
        playwright_api.expect(page.get_by_test_id("verify-ok")).to_contain_text("Журнал верен")
        ctx.close()

"""The web UI in a real browser: Debian's chromium driven by Playwright for Python.

The browser is the system one (`/usr/bin/chromium`, or $CHROMIUM); Playwright never downloads
one (ops/install-tools.sh installs with PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1). The accessibility
pass uses axe-core from npm, installed by ops/install-tools.sh into a cache directory
($AXE_CORE_JS names the file directly). Screenshots of the main pages are saved under
$CARGO_TARGET_DIR/screenshots (default: target/screenshots) for people to look at.

Journeys: a new user signs in, imports the seed checklist from its file, registers a service,
attaches the checklist, signs off an item and sees readiness change, waives a failing item and
exports Markdown; a viewer sees no actions and a forged POST is refused; a form without its
CSRF token is refused; after sign-out, going back shows no data.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import IN_CI, REPO, _free_port, preflight_binary

ADMIN_EMAIL = "admin@preflight.local"
ADMIN_PASSWORD = "Browser-Test-Admin-42"
PASSWORD = "Browser-Test-User-42"
SEED = REPO / "examples" / "seed" / "production-checklist.en.md"


def _need(message: str):
    if IN_CI:
        pytest.fail(f"{message}; CI=true, so this is a failure, not a skip")
    pytest.skip(message)


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).is_file():
        _need("Debian's chromium is not installed (run ops/install-tools.sh)")
    return path


def axe_path() -> Path:
    given = os.environ.get("AXE_CORE_JS")
    cache = Path(os.environ.get("AXE_CORE_DIR") or Path(os.environ.get("HOME", "/tmp")) / ".cache" / "preflight-axe")
    path = Path(given) if given else cache / "node_modules" / "axe-core" / "axe.min.js"
    if not path.is_file():
        _need(f"axe-core is not installed at {path} (run ops/install-tools.sh)")
    return path


def screenshots_dir() -> Path:
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    out = target / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    return out


class Server:
    def __init__(self, base: str):
        self.base = base

    def api(self, method: str, path: str, body=None, bearer: str | None = None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if bearer:
            req.add_header("Authorization", f"Bearer {bearer}")
        try:
            with urllib.request.urlopen(req, timeout=10) as res:
                text = res.read()
                return res.status, json.loads(text) if text else None
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def token(self, email: str, password: str) -> str:
        status, body = self.api("POST", "/api/v1/auth/login", {"email": email, "password": password})
        assert status == 200, body
        return body["access_token"]

    def add_user(self, role: str) -> str:
        email = f"{role}-{time.monotonic_ns()}@example.com"
        admin = self.token(ADMIN_EMAIL, ADMIN_PASSWORD)
        status, body = self.api("POST", "/api/v1/users", {"email": email, "password": PASSWORD, "role": role}, admin)
        assert status == 201, body
        return email


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    binary = preflight_binary()
    tmp = tmp_path_factory.mktemp("web-ui")
    port = _free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DATABASE_URL": f"sqlite://{tmp}/p.db?mode=rwc",
        "DATA_DIR": str(tmp),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "ADMIN_EMAIL": ADMIN_EMAIL,
        "ADMIN_PASSWORD": ADMIN_PASSWORD,
        "RATE_LIMIT_LOGIN": "100/m",
        "LOG_LEVEL": "warn",
    }
    log = open(tmp / "serve.log", "wb")
    proc = subprocess.Popen([str(binary), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    srv = Server(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if srv.api("GET", "/health/ready")[0] == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, (tmp / "serve.log").read_text()
            time.sleep(0.1)
        yield srv
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need("Playwright for Python is not installed (run ops/install-tools.sh)")
    executable = chromium_path()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def context(browser):
    ctx = browser.new_context(viewport={"width": 1200, "height": 900}, accept_downloads=True)
    yield ctx
    ctx.close()


def sign_in(page, base: str, email: str, password: str):
    page.goto(base + "/")
    assert page.url.endswith("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/services$"))


def nav(page, name: str):
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name).click()


def sign_out(page):
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/login$"))


def submit(page, button):
    """Clicks a form's button and waits for the page the form leads to."""
    with page.expect_navigation():
        button.click()
    page.wait_for_load_state()


def csrf_of(page) -> str:
    return page.locator("input[name=csrf]").first.get_attribute("value")


def shot(page, name: str):
    page.screenshot(path=str(screenshots_dir() / f"{name}.png"), full_page=False)


def readiness(page) -> int:
    return int(page.locator("#readiness-ratio").inner_text().rstrip("%"))


def axe_check(page, name: str):
    """No serious or critical axe-core violation on the current page. The script is evaluated
    through the DevTools protocol (page.evaluate), which the page's CSP does not govern."""
    page.evaluate(axe_path().read_text(encoding="utf-8"))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, f"{name}: " + "\n".join(bad)


def item_row(page, text: str):
    return page.locator("li.item", has_text=text).first


def test_new_user_imports_registers_attaches_signs_off_waives_and_exports(server, context, tmp_path):
    page = context.new_page()
    page.goto(server.base + "/login")
    shot(page, "login")
    axe_check(page, "sign-in")

    # The bootstrap admin adds a release manager (an admin: waivers are theirs to grant).
    sign_in(page, server.base, ADMIN_EMAIL, ADMIN_PASSWORD)
    nav(page, "Users")
    page.get_by_label("Email", exact=True).fill("release.manager@example.com")
    page.get_by_label("Initial password").fill(PASSWORD)
    page.get_by_label("Role", exact=True).select_option("admin")
    page.get_by_role("button", name="Add user").click()
    assert "Created release.manager@example.com" in page.content()
    shot(page, "users")
    axe_check(page, "users")
    sign_out(page)

    # The new user signs in and imports the seed checklist from its file, previewed first.
    sign_in(page, server.base, "release.manager@example.com", PASSWORD)
    nav(page, "Checklists")
    page.get_by_label("Markdown file").set_input_files(str(SEED))
    page.get_by_role("button", name="Preview").click()
    preview = page.locator("#import-preview")
    assert re.search(r"\d+ items in \d+ sections", preview.inner_text()), preview.inner_text()
    shot(page, "checklist-import-preview")
    page.get_by_role("button", name="Import this checklist").click()
    page.wait_for_url(re.compile(r"/checklists/[0-9a-f-]+$"))
    checklist_url = page.url
    title = page.locator("h1").inner_text()
    shot(page, "checklist")
    axe_check(page, "checklist")

    # Registers a service.
    nav(page, "Services")
    page.get_by_role("link", name="Register a service").click()
    page.get_by_label("Name").fill("payments-api")
    page.get_by_label("Environment").fill("production")
    page.get_by_label("Base URL").fill("https://payments.example.com")
    page.get_by_label("Owners").fill("team-payments")
    axe_check(page, "register a service")
    page.get_by_role("button", name="Register").click()
    page.wait_for_url(re.compile(r"/services/[0-9a-f-]+$"))
    service_url = page.url

    # Attaches the imported checklist from its page.
    page.goto(checklist_url)
    page.get_by_label("Attach to", exact=True).select_option(label="payments-api (production)")
    page.get_by_role("button", name="Attach").click()
    page.wait_for_url(re.compile(r"/services/[0-9a-f-]+#review-"))
    assert page.locator("h2", has_text=title).count() == 1
    before = readiness(page)

    # Signs off an item: readiness goes up.
    first = page.locator("li.item").first
    text = first.locator(".item-text").inner_text()
    first.locator("summary").click()
    first.get_by_label("Comment or reason").fill("checked in staging")
    submit(page, first.get_by_role("button", name="Sign off"))
    row = item_row(page, text)
    assert "Passed" in row.locator(".badge").inner_text()
    assert "checked in staging" in row.inner_text()
    after = readiness(page)
    assert after > before, (before, after)

    # Marks another item failed, then waives it until next month.
    second = page.locator("li.item.state-pending").first
    text2 = second.locator(".item-text").inner_text()
    second.locator("summary").click()
    submit(page, second.get_by_role("button", name="Mark failed"))
    failing = item_row(page, text2)
    assert "Failed" in failing.locator(".badge").inner_text()
    failing.locator("summary").click()
    failing.get_by_label("Comment or reason").fill("vendor fix due next month")
    failing.get_by_label("Waiver expires on").fill(time.strftime("%Y-%m-%d", time.gmtime(time.time() + 30 * 86400)))
    submit(page, failing.get_by_role("button", name="Waive"))
    waived = item_row(page, text2)
    assert "Waived" in waived.locator(".badge").inner_text()
    assert "vendor fix due next month" in waived.inner_text()
    assert readiness(page) > after
    page.goto(service_url)
    shot(page, "service")
    axe_check(page, "service")

    # Exports Markdown: the signed-off item is checked, with who signed.
    with page.expect_download() as download:
        page.get_by_role("link", name="Export Markdown").first.click()
    path = tmp_path / "export.md"
    download.value.save_as(path)
    exported = path.read_text(encoding="utf-8")
    assert exported.startswith("# "), exported[:200]
    assert "- [x]" in exported and "release.manager@example.com" in exported

    # The overview shows it, with the filters.
    nav(page, "Services")
    assert "payments-api" in page.locator("table").inner_text()
    page.get_by_label("Owner").select_option("team-payments")
    page.get_by_role("button", name="Filter").click()
    assert "payments-api" in page.locator("table").inner_text()
    shot(page, "overview")
    axe_check(page, "overview")
    phone = context.browser.new_context(viewport={"width": 390, "height": 844}, storage_state=context.storage_state())
    small = phone.new_page()
    small.goto(server.base + "/services")
    shot(small, "overview-phone")
    assert small.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), "no sideways scrolling on a phone"
    phone.close()

    nav(page, "Audit log")
    assert "review_item.waive" in page.content()
    shot(page, "audit")
    axe_check(page, "audit log")
    nav(page, "Account")
    page.get_by_label("Name").fill("ci gate")
    page.get_by_role("button", name="Create token").click()
    token = page.locator("#new-token").inner_text()
    assert token.startswith("pfa_")
    shot(page, "account")
    axe_check(page, "account")
    page.reload()
    assert token not in page.content(), "a token is shown once"


def test_viewer_sees_no_actions_and_a_forged_post_is_refused(server, context):
    admin = server.token(ADMIN_EMAIL, ADMIN_PASSWORD)
    # Checklists are imported as Markdown.
    req = urllib.request.Request(
        server.base + "/api/v1/checklists",
        data=b"# Viewer list\n\n## Ops\n- [ ] Backups are restored monthly\n",
        method="POST",
        headers={"Content-Type": "text/markdown", "Authorization": f"Bearer {admin}"},
    )
    with urllib.request.urlopen(req, timeout=10) as res:
        checklist = json.loads(res.read())
    status, svc = server.api("POST", "/api/v1/services", {"name": f"viewer-svc-{time.monotonic_ns()}"}, admin)
    assert status == 201, svc
    status, review = server.api("POST", f"/api/v1/services/{svc['id']}/reviews", {"checklist_id": checklist["id"]}, admin)
    assert status == 201, review
    viewer = server.add_user("viewer")

    page = context.new_page()
    sign_in(page, server.base, viewer, PASSWORD)
    page.goto(f"{server.base}/services/{svc['id']}")
    assert "Backups are restored monthly" in page.content()
    assert page.locator("form[action$='/items']").count() == 0
    assert page.get_by_role("button", name="Sign off").count() == 0
    assert page.get_by_role("button", name="Attach").count() == 0
    assert page.get_by_role("link", name="Register a service").count() == 0
    shot(page, "service-as-viewer")
    # A forged POST with the viewer's own, valid CSRF token: the role check refuses it.
    res = page.request.post(
        f"{server.base}/reviews/{review['id']}/items",
        form={"csrf": csrf_of(page), "key": review["items"][0]["key"], "action": "sign_off"},
        max_redirects=0,
    )
    assert res.status == 403, res.status
    status, item = server.api("GET", f"/api/v1/reviews/{review['id']}", None, admin)
    assert item["items"][0]["state"] == "pending"


def test_a_form_without_its_csrf_token_is_refused(server, context):
    page = context.new_page()
    sign_in(page, server.base, ADMIN_EMAIL, ADMIN_PASSWORD)
    res = page.request.post(f"{server.base}/services/new", form={"name": "no-csrf-service"}, max_redirects=0)
    assert res.status == 403, res.status
    res = page.request.post(
        f"{server.base}/services/new", form={"name": "bad-csrf-service", "csrf": "f" * 64}, max_redirects=0
    )
    assert res.status == 403, res.status
    page.goto(server.base + "/services")
    assert "no-csrf-service" not in page.content() and "bad-csrf-service" not in page.content()


def test_sign_out_then_back_shows_no_data(server, context):
    admin = server.token(ADMIN_EMAIL, ADMIN_PASSWORD)
    name = f"secret-svc-{time.monotonic_ns()}"
    status, svc = server.api("POST", "/api/v1/services", {"name": name}, admin)
    assert status == 201, svc
    page = context.new_page()
    sign_in(page, server.base, ADMIN_EMAIL, ADMIN_PASSWORD)
    response = page.goto(f"{server.base}/services/{svc['id']}")
    assert response.headers["cache-control"] == "no-store"
    assert name in page.content()
    sign_out(page)
    page.go_back()
    page.wait_for_load_state()
    assert name not in page.content()
    assert page.url.split("?")[0].endswith("/login"), page.url
    page.goto(f"{server.base}/services/{svc['id']}")
    assert name not in page.content()

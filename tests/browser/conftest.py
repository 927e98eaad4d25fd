"""Browser tests: the built web app (web/dist) served by the real API on a real database
(PostgreSQL when ATRIUM_TEST_DATABASE_URL is set, as in CI; else SQLite), driven by Debian's
Chromium through Playwright. Nothing downloads a browser: Playwright is told where Chromium is.

Each test gets an empty database with the firm's real processes and forms deployed and one
account per person below, the server on a free loopback port, and a `shot(page, name)` that
saves a screenshot under the run's temporary folder (printed at the end of the run), or under
ATRIUM_TEST_SCREENSHOTS when it is set."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from api.app import create_app
from atrium.cli import collect_files
from atrium.settings import PROJECT_ROOT, Settings
from engine.deployments import deploy

from ..factories import make_account

WEB_DIST = PROJECT_ROOT / "web" / "dist"
# The people of the scenarios: username -> (display name, roles, groups).
PEOPLE = {
    "amy": ("Amy Account", ["account_manager"], ["north"]),
    "alan": ("Alan Account", ["account_manager"], ["south"]),
    "paula": ("Paula Partner", ["partner"], []),
    "mona": ("Mona Manager", ["manager"], ["north"]),
    "dee": ("Dee Desk", ["service_desk"], []),
    "sam": ("Sam Support", ["service_desk"], []),
    "vera": ("Vera Viewer", ["viewer"], []),
    "ada": ("Ada Admin", ["admin"], []),
}
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def password(username: str) -> str:
    return f"{username} walks the long quiet river"


def _chromium() -> str:
    path = os.environ.get("ATRIUM_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if path:
        return path
    message = "Debian's chromium is not installed (make test installs it as root: apt-get install chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _web_build() -> Path:
    if not (WEB_DIST / "index.html").is_file():
        message = f"the web app is not built ({WEB_DIST}): run `make web`"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return WEB_DIST


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=15_000)
    executable = _chromium()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def browser_db(db_engines):
    """The database the browser scenarios run on: PostgreSQL when configured (CI), else SQLite."""
    from ..conftest import _empty_tables

    engine = db_engines("postgresql" if os.environ.get("ATRIUM_TEST_DATABASE_URL") else "sqlite")
    _empty_tables(engine)
    return engine


@pytest.fixture
def live_server(browser_db):
    """The real app on a free port, with processes/ and forms/ deployed and the scenario's people."""
    settings = Settings(
        database_url=browser_db.url.render_as_string(hide_password=False),
        secret_key="browser-test-signing-key",
        web_dir=_web_build(),
    )
    app = create_app(settings)
    engine = app.extensions["atrium.engine"]
    with engine.transaction() as session:
        deploy(engine, session, collect_files([settings.processes_dir], settings.forms_dir))
        for username, (name, roles, groups) in PEOPLE.items():
            make_account(session, username, roles=roles, groups=groups, display_name=name, password=password(username))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.app = app
    server.url = f"http://127.0.0.1:{server.server_port}"
    yield server
    server.shutdown()
    thread.join(5)
    app.extensions["atrium.db"].dispose()


@pytest.fixture
def context(browser):
    """A fresh browser profile per test (no cookies carried over), English unless a test asks."""
    context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 860})
    # Generous waits: the machines are shared, and a wait ends as soon as the page is ready.
    context.set_default_timeout(20_000)
    yield context
    context.close()


@pytest.fixture
def page(context):
    return context.new_page()


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory):
    """The run's temporary folder, or ATRIUM_TEST_SCREENSHOTS when set (to keep them for looking at)."""
    chosen = os.environ.get("ATRIUM_TEST_SCREENSHOTS")
    folder = Path(chosen) if chosen else tmp_path_factory.getbasetemp() / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def shot(request, screenshot_dir):
    """shot(page, "inbox"): a full-page screenshot as <run tmp>/screenshots/<test>/<name>.png."""
    folder = screenshot_dir / request.node.name.replace("/", "_")
    folder.mkdir(exist_ok=True)

    def take(page, name: str) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def log_in(page, live_server, username: str, *, pwd: str | None = None) -> None:
    """Through the login form, as a person does."""
    page.goto(live_server.url + "/login")
    page.get_by_label("Username").or_(page.get_by_label("用户名")).fill(username)
    page.get_by_label("Password").or_(page.get_by_label("密码")).fill(pwd or password(username))
    page.get_by_role("button", name="Log in").or_(page.get_by_role("button", name="登录")).click()

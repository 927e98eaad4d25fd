"""The browser app: what the first screen costs to download, and how long a real browser
takes from navigation to a rendered inbox of 50 rows with 100,000 open tasks in PostgreSQL.

Sizes come from the build's manifest (web/dist/.vite/manifest.json): the first screen is the
entry chunk and every chunk it imports statically; lazy routes (task form, clients, login)
are listed apart. The render time is measured in Debian's Chromium (headless, driven by
Playwright), against `atrium serve` on the bench schema, from navigationStart to the moment
the 50th row is in the page, once warm (cache primed by a first visit) and once cold."""

from __future__ import annotations

import gzip
import json
import shutil

from atrium.settings import PROJECT_ROOT

from .common import percentile
from .http_api import BASE, PASSWORD, Server, seed_inbox

DIST = PROJECT_ROOT / "web" / "dist"
BUDGET_KB = 300
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


def _gzip_kb(path) -> float:
    return len(gzip.compress(path.read_bytes(), compresslevel=9)) / 1024


def bundle_sizes() -> dict:
    manifest = json.loads((DIST / ".vite" / "manifest.json").read_text(encoding="utf-8"))
    entry_key = next(key for key, chunk in manifest.items() if chunk.get("isEntry"))

    def static_closure(key, seen):
        if key in seen:
            return seen
        seen.add(key)
        for imported in manifest[key].get("imports", []):
            static_closure(imported, seen)
        return seen

    first = static_closure(entry_key, set())
    first_js = sum(_gzip_kb(DIST / manifest[key]["file"]) for key in first)
    first_css = sum(_gzip_kb(DIST / css) for key in first for css in manifest[key].get("css", []))
    lazy = {}
    for key, chunk in manifest.items():
        if key in first or not chunk["file"].endswith(".js"):
            continue
        name = chunk.get("name") or key
        lazy[name] = _gzip_kb(DIST / chunk["file"])
    total_js = sum(_gzip_kb(path) for path in (DIST / "assets").glob("*.js"))
    return {
        "first_js_kb": first_js,
        "first_css_kb": first_css,
        "first_chunks": len(first),
        "lazy": lazy,
        "total_js_kb": total_js,
        "budget_kb": BUDGET_KB,
    }


def _chromium() -> str:
    path = shutil.which("chromium")
    if not path:
        raise RuntimeError("Debian's chromium is not installed (make bench installs it as root)")
    return path


def inbox_render(open_tasks: int = 100_000, rounds: int = 7) -> dict:
    """Navigation to a rendered inbox of 50 rows, as the service desk (to whom a tenth is offered)."""
    from playwright.sync_api import sync_playwright

    db, load_s = seed_inbox(open_tasks, open_tasks)
    server = Server()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=_chromium(), headless=True, args=CHROMIUM_FLAGS)
            context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.goto(f"{BASE}/login")
            page.get_by_label("Username").fill("service_desk")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url("**/inbox**")
            url = f"{BASE}/inbox?tab=offered&size=50"
            rows = "() => document.querySelectorAll('[data-inbox-row]').length >= 50"

            def measure(reload_cache: bool) -> float:
                if reload_cache:
                    # the session cookie stays; only the HTTP cache goes
                    page.context.new_cdp_session(page).send("Network.clearBrowserCache")
                page.goto(url)
                page.wait_for_function(rows, polling="raf", timeout=30_000)
                # the page's own clock starts at navigation: this is navigation to rendered rows
                return page.evaluate("() => performance.now()")

            measure(False)  # prime the server's caches and the browser's
            warm = [measure(False) for _ in range(rounds)]
            cold = [measure(True) for _ in range(max(3, rounds // 2))]
            shown = page.evaluate("() => document.querySelectorAll('[data-inbox-row]').length")
            browser.close()
    finally:
        server.stop()
        db.dispose()
    return {
        "warm_p50_ms": percentile(warm, 50),
        "warm_max_ms": max(warm),
        "cold_p50_ms": percentile(cold, 50),
        "cold_max_ms": max(cold),
        "rows_shown": shown,
        "open": open_tasks,
        "load_s": load_s,
    }

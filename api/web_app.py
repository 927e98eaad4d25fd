"""The browser app: the static build of web/ served at /, same origin as the API.

Vite names every built asset by its content hash, so /assets/* may be cached for a year;
index.html is never cached, so a deploy reaches every browser at its next navigation.
Any path outside /api that is not a file is the app's own route (/inbox, /clients/7, ...)
and gets index.html, whose router shows the screen or its own "not found".
"""

from __future__ import annotations

from flask import Blueprint, current_app, make_response, send_from_directory
from werkzeug.routing import BaseConverter


class AppPathConverter(BaseConverter):
    """Any path but the server's own (/api, /metrics, /healthz, /readyz), which keep their 404 and 405."""

    regex = r"(?!(?:api|metrics|healthz|readyz)(?:/|$))[^/].*?"
    part_isolating = False


web_app = Blueprint("web_app", __name__)


@web_app.record_once
def _register_converter(state):
    state.app.url_map.converters["app_path"] = AppPathConverter


# antd writes its styles at run time (CSS-in-JS), hence 'unsafe-inline' for styles only; no script
# but the app's own files may run, and it talks to nothing but this origin.
APP_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; "
    "form-action 'self'; object-src 'none'"
)
YEAR = 365 * 24 * 3600
NOT_BUILT = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Atrium</title></head>
<body><h1>Atrium</h1><p>The web app has not been built. Run <code>make web</code> (or <code>make run</code>),
then reload. 网页应用尚未构建：请运行 <code>make web</code>（或 <code>make run</code>）后刷新。</p>
<p>The API is at <a href="/api/docs">/api/docs</a>.</p></body></html>"""


def _web_dir():
    return current_app.extensions["atrium.settings"].web_dir


def _with_app_headers(response, *, cache: str):
    response.headers["Content-Security-Policy"] = APP_CSP
    response.headers["Cache-Control"] = cache
    return response


@web_app.route("/assets/<path:filename>")
def asset(filename):
    """A hashed build file: immutable, cached for a year."""
    response = send_from_directory(_web_dir() / "assets", filename, max_age=YEAR)
    return _with_app_headers(response, cache=f"public, max-age={YEAR}, immutable")


@web_app.route("/", defaults={"path": ""})
@web_app.route("/<app_path:path>")
def page(path):
    """index.html for every route of the app (the client-side router takes it from there)."""
    root = _web_dir()
    if path and (root / path).is_file() and not path.startswith("."):
        # favicon and the like, from Vite's public/ folder (not hashed: revalidate)
        return _with_app_headers(send_from_directory(root, path), cache="no-cache")
    index = root / "index.html"
    if not index.is_file():
        return _with_app_headers(make_response(NOT_BUILT, 503), cache="no-store")
    response = send_from_directory(root, "index.html")
    return _with_app_headers(response, cache="no-cache")

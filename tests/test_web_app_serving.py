"""The browser app is served at / by the API server itself, same origin, and works offline."""

from __future__ import annotations

import pytest

from api.app import create_app
from atrium.settings import Settings


@pytest.fixture
def web_dir(tmp_path):
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text(
        '<!DOCTYPE html><div id="root"></div><script src="/assets/index-abc123.js"></script>', encoding="utf-8"
    )
    (tmp_path / "assets" / "index-abc123.js").write_text("console.log('app')", encoding="utf-8")
    (tmp_path / "favicon.svg").write_text("<svg/>", encoding="utf-8")
    return tmp_path


@pytest.fixture
def web_client(db, web_dir):
    app = create_app(
        Settings(database_url=db.url.render_as_string(hide_password=False), secret_key="k", web_dir=web_dir)
    )
    yield app.test_client()
    app.extensions["atrium.db"].dispose()


def test_the_app_opens_at_the_root_and_at_its_own_routes_without_a_login(web_client):
    for path in ("/", "/inbox", "/clients/42", "/tasks/3f0c/whatever"):
        response = web_client.get(path)
        assert response.status_code == 200, path
        assert b'<div id="root">' in response.data
        # index.html is never cached, so a new build reaches every browser at its next visit
        assert response.headers["Cache-Control"] == "no-cache"
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self';" in csp and "connect-src 'self'" in csp and "frame-ancestors 'none'" in csp


def test_hashed_assets_are_cached_for_a_year(web_client):
    response = web_client.get("/assets/index-abc123.js")
    assert response.status_code == 200
    assert "immutable" in response.headers["Cache-Control"] and "max-age=31536000" in response.headers["Cache-Control"]
    assert web_client.get("/favicon.svg").status_code == 200


def test_the_api_keeps_its_own_404_and_405_problems(web_client):
    # API paths never fall through to index.html: an unknown one is the API's problem, and the
    # app's catch-all (GET only) does not turn its POST into a 405
    for response in (web_client.get("/api/no-such-thing"), web_client.post("/api/no-such-thing")):
        assert response.status_code == 401 and response.mimetype == "application/problem+json"
    assert web_client.get("/api/tasks").status_code == 401  # the API still wants a login
    assert web_client.get("/metrics").status_code == 401


def test_files_outside_the_build_are_not_served(web_client, web_dir):
    (web_dir.parent / "secret.txt").write_text("secret", encoding="utf-8")
    for path in ("/../secret.txt", "/assets/../../secret.txt", "/%2e%2e/secret.txt", "/.hidden"):
        response = web_client.get(path)
        assert b"secret" not in response.data, path


def test_a_missing_build_says_how_to_make_it(db, tmp_path):
    app = create_app(
        Settings(
            database_url=db.url.render_as_string(hide_password=False), secret_key="k", web_dir=tmp_path / "nothing"
        )
    )
    response = app.test_client().get("/")
    assert response.status_code == 503 and b"make web" in response.data
    app.extensions["atrium.db"].dispose()

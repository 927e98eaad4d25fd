"""HTTP hardening: request ids that cannot break a request, security headers on every response, and
API docs that load nothing from another origin."""

from __future__ import annotations

import re
from dataclasses import replace
from html.parser import HTMLParser

from .api_helpers import caller, login, make_app

TOKEN_LIKE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def test_a_long_or_odd_request_id_is_replaced_and_the_failed_login_still_counts(client):
    odd_ids = ["x" * 65, "has space", "semi;colon", "<script>alert(1)</script>", "a/b"]
    for odd in odd_ids:
        response = client.post(
            "/api/auth/token", json={"username": "viewer", "password": "wrong-password"}, headers={"X-Request-ID": odd}
        )
        assert response.status_code == 401, odd
        echoed = response.headers["X-Request-ID"]
        assert echoed != odd and TOKEN_LIKE.match(echoed)
    # Five failures counted: the next attempt is throttled.
    assert login(client, "viewer").status_code == 429
    kept = client.get("/healthz", headers={"X-Request-ID": "edge-7f3a:42.1"})
    assert kept.headers["X-Request-ID"] == "edge-7f3a:42.1"
    denied = caller(client, "admin").get("/api/audit?action=login&outcome=denied").json["items"]
    assert len(denied) == len(odd_ids) + 1
    assert all(TOKEN_LIKE.match(row["request_id"]) for row in denied)


def _assert_hardened(response):
    headers = response.headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]


def test_security_headers_on_json_responses_problems_and_the_docs_page(client):
    me = caller(client, "viewer").get("/api/me")
    assert me.status_code == 200
    _assert_hardened(me)
    assert me.headers["Content-Security-Policy"].startswith("default-src 'none'")
    problem = client.get("/api/tasks")
    assert problem.status_code == 401 and problem.mimetype == "application/problem+json"
    _assert_hardened(problem)
    token = login(client, "viewer")
    _assert_hardened(token)
    assert token.headers["Cache-Control"] == "no-store"
    docs = client.get("/api/docs")
    assert docs.status_code == 200
    _assert_hardened(docs)
    policy = docs.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-eval" not in policy


def test_hsts_only_for_requests_that_came_over_tls(db, services, clock, client):
    from api.app import create_app

    assert "Strict-Transport-Security" not in client.get("/healthz").headers
    over_tls = client.get("/healthz", base_url="https://atrium.example")
    assert over_tls.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    # X-Forwarded-Proto counts only from a proxy the settings trust.
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7"}
    assert "Strict-Transport-Security" not in client.get("/healthz", headers=forwarded).headers
    proxied = create_app(
        replace(client.application.extensions["atrium.settings"], trusted_proxy_hops=1), services=services
    )
    try:
        behind_proxy = proxied.test_client().get("/healthz", headers=forwarded)
        assert behind_proxy.headers["Strict-Transport-Security"].startswith("max-age=")
    finally:
        proxied.extensions["atrium.db"].dispose()


def test_a_trusted_proxy_gives_the_client_address_that_logins_are_throttled_by(db, services, clock):
    proxied = make_app(db, services, trusted_proxy_hops=1)
    client = proxied.test_client()
    try:
        for n in range(5):
            assert (
                client.post(
                    "/api/auth/token",
                    json={"username": "viewer", "password": f"guess-{n}"},
                    headers={"X-Forwarded-For": "203.0.113.66"},
                ).status_code
                == 401
            )
        assert login(client, "viewer").status_code == 200  # the proxy's own address is another client
        addresses = {
            row["client_address"] for row in caller(client, "admin").get("/api/audit?action=login").json["items"]
        }
        assert addresses == {"203.0.113.66", "127.0.0.1"}
    finally:
        proxied.extensions["atrium.db"].dispose()


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls, self.inline_scripts, self._in_script = [], 0, False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.urls += [value for name, value in attrs.items() if name in ("src", "href", "data-spec-url") and value]
        self._in_script = tag == "script"

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.inline_scripts += 1

    def handle_endtag(self, tag):
        self._in_script = False


def test_the_docs_page_loads_swagger_ui_from_this_server_only(client):
    page = client.get("/api/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert not re.search(r"(https?:)?//", html), "the page names another origin"
    links = _Links()
    links.feed(html)
    assert links.inline_scripts == 0  # the CSP allows scripts from files on this origin only
    assert {"/api/docs/swagger-ui-bundle.js", "/api/docs/swagger-ui.css", "/api/openapi.json"} <= set(links.urls)
    for url in links.urls:
        asset = client.get(url)
        assert asset.status_code == 200 and asset.get_data(), url
        _assert_hardened(asset)
    assert client.get("/api/docs/swagger-ui-bundle.js").mimetype == "text/javascript"
    assert client.get("/api/docs/index.html").status_code == 404  # only the files the page needs
    assert client.get("/api/docs/..%2F..%2Fsettings.py").status_code == 404

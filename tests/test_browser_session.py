"""The web app's login: a session cookie the page's scripts cannot read, a CSRF token for every change
made with it, logging out, expiry, and a problem type for each reason a session is refused."""

from __future__ import annotations

from datetime import timedelta

from .api_helpers import Caller, caller, password_for

COOKIE = "atrium_session"


def open_session(client, username: str, password: str | None = None, **kw):
    return client.post(
        "/api/auth/session", json={"username": username, "password": password or password_for(username)}, **kw
    )


def session_cookie(client) -> str | None:
    cookie = client.get_cookie(COOKIE, path="/api")
    return cookie.value if cookie is not None else None


def problem_type(response) -> str:
    return response.json["type"].rsplit("/", 1)[-1]


def test_logging_in_sets_an_httponly_same_site_cookie_and_never_shows_the_token(client, clock):
    response = open_session(client, "account_manager")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert set(body) == {"csrf_token", "expires_at", "user"}
    assert body["expires_at"] == (clock.now() + timedelta(hours=8)).isoformat()
    assert body["user"]["username"] == "account_manager" and body["user"]["locale"] is None
    assert "clients:write" in body["user"]["permissions"] and body["user"]["password_change_required"] is False
    token = session_cookie(client)
    assert token and token not in response.get_data(as_text=True)
    [set_cookie] = response.headers.getlist("Set-Cookie")
    attributes = {part.strip().split("=")[0].lower(): part.strip() for part in set_cookie.split(";")}
    assert {"httponly", "path", "samesite", "max-age"} <= set(attributes)
    assert attributes["path"] == "Path=/api" and attributes["samesite"] == "SameSite=Strict"
    assert attributes["max-age"] == "Max-Age=28800" and "secure" not in attributes  # plain http here
    assert Caller(client, token).get("/api/me").json["username"] == "account_manager"  # a real access token


def test_over_https_the_cookie_is_secure(client):
    response = open_session(client, "viewer", base_url="https://atrium.example")
    assert "Secure" in response.headers["Set-Cookie"]


def test_the_cookie_opens_the_api_and_the_session_can_be_read_back(client):
    opened = open_session(client, "viewer").json
    assert client.get("/api/tasks").status_code == 200
    again = client.get("/api/auth/session")
    assert again.status_code == 200 and again.json == opened  # the same CSRF token for the session's life
    assert client.get("/api/me").json == opened["user"]


def test_a_change_with_the_cookie_needs_the_csrf_token_and_without_it_changes_nothing(client):
    csrf = open_session(client, "account_manager").json["csrf_token"]
    body = {"name": "Forged Ltd", "kind": "organisation"}
    missing = client.post("/api/clients", json=body)
    assert missing.status_code == 403 and problem_type(missing) == "csrf-token-missing"
    wrong = client.post(
        "/api/clients", json=body, headers={"X-CSRF-Token": csrf[:-1] + ("0" if csrf[-1] != "0" else "1")}
    )
    assert wrong.status_code == 403 and problem_type(wrong) == "csrf-token-mismatch"
    for method in ("put", "patch", "delete"):
        assert getattr(client, method)("/api/me", json={"locale": "zh-CN"}).status_code in (403, 405)
    assert client.patch("/api/me", json={"locale": "zh-CN"}).status_code == 403
    assert client.get("/api/me").json["locale"] is None
    assert client.get("/api/clients").json["total"] == 0
    made = client.post("/api/clients", json=body, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201


def test_another_sessions_csrf_token_does_not_open_this_one(app):
    mallory, victim = app.test_client(), app.test_client()
    mallorys_csrf = open_session(mallory, "viewer").json["csrf_token"]
    open_session(victim, "admin")
    refused = victim.post(
        "/api/accounts",
        headers={"X-CSRF-Token": mallorys_csrf},
        json={"username": "mallory2", "password": "tea-kettle-orbit-42", "roles": ["admin"]},
    )
    assert refused.status_code == 403 and problem_type(refused) == "csrf-token-mismatch"
    assert caller(app.test_client(), "admin").get("/api/accounts").json["total"] == 6


def test_a_refused_csrf_check_is_audited_as_denied(client):
    open_session(client, "admin")
    client.post("/api/accounts/viewer/deactivate")
    entries = caller(client, "admin").get("/api/audit", query_string={"outcome": "denied"}).json["items"]
    assert any(e["target"] == "/api/accounts/viewer/deactivate" and e["detail"] == {"status": 403} for e in entries)
    assert caller(client, "viewer").get("/api/me").status_code == 200  # still active


def test_bearer_requests_need_no_csrf_token_and_a_bearer_header_wins_over_the_cookie(client):
    open_session(client, "viewer")  # the cookie is the viewer's
    admin = caller(client, "admin")
    made = admin.post(
        "/api/accounts", json={"username": "lin", "password": "tea-kettle-orbit-42", "roles": ["partner"]}
    )
    assert made.status_code == 201  # no X-CSRF-Token: the bearer token is the admin's and cannot be forged
    assert admin.get("/api/me").json["username"] == "admin"


def test_logging_out_revokes_the_session_and_clears_the_cookie(client):
    csrf = open_session(client, "viewer").json["csrf_token"]
    token = session_cookie(client)
    assert client.delete("/api/auth/session").status_code == 403  # logging out is a change too
    response = client.delete("/api/auth/session", headers={"X-CSRF-Token": csrf})
    assert response.status_code == 204
    assert f"{COOKIE}=;" in response.headers["Set-Cookie"] and session_cookie(client) is None
    gone = client.get("/api/auth/session")
    assert gone.status_code == 401 and problem_type(gone) == "not-authenticated"
    client.set_cookie(COOKIE, token, path="/api")  # a copy of the cookie kept by someone else
    replayed = client.get("/api/me")
    assert replayed.status_code == 401 and problem_type(replayed) == "session-revoked"


def test_an_expired_session_says_so(client, clock):
    open_session(client, "viewer")
    clock.advance(hours=8, seconds=1)
    for response in (client.get("/api/auth/session"), client.get("/api/tasks")):
        assert response.status_code == 401 and problem_type(response) == "session-expired"
        assert "expired" in response.json["detail"]


def test_a_password_change_ends_the_cookie_session(client):
    csrf = open_session(client, "viewer").json["csrf_token"]
    changed = client.post(
        "/api/me/password",
        headers={"X-CSRF-Token": csrf},
        json={"current_password": password_for("viewer"), "new_password": "tea-kettle-orbit-42"},
    )
    assert changed.status_code == 200
    refused = client.get("/api/me")
    assert refused.status_code == 401 and problem_type(refused) == "session-revoked"
    assert open_session(client, "viewer", "tea-kettle-orbit-42").status_code == 200
    assert client.get("/api/me").status_code == 200


def test_an_admin_reset_ends_the_session_and_the_next_one_must_change_the_password(client):
    open_session(client, "viewer")
    temporary = caller(client, "admin").post("/api/accounts/viewer/password-reset", json={}).json["temporary_password"]
    refused = client.get("/api/me")
    assert refused.status_code == 401 and problem_type(refused) == "session-revoked"
    limited = open_session(client, "viewer", temporary)
    assert limited.status_code == 200 and limited.json["user"]["password_change_required"] is True
    blocked = client.get("/api/tasks")
    assert blocked.status_code == 403 and problem_type(blocked) == "password-change-required"
    assert client.get("/api/auth/session").status_code == 200
    assert (
        client.patch("/api/me", json={"locale": "en"}, headers={"X-CSRF-Token": limited.json["csrf_token"]}).status_code
        == 200
    )


def test_refused_logins_have_their_own_problem_types_and_set_no_cookie(client, clock):
    wrong = open_session(client, "viewer", "not-the-password")
    assert wrong.status_code == 401 and problem_type(wrong) == "invalid-credentials"
    assert "Set-Cookie" not in wrong.headers and session_cookie(client) is None
    for _ in range(4):
        open_session(client, "viewer", "not-the-password")
    throttled = open_session(client, "viewer")
    assert throttled.status_code == 429 and problem_type(throttled) == "login-throttled"
    assert throttled.headers["Retry-After"] == "1" and session_cookie(client) is None
    clock.advance(seconds=1)
    assert open_session(client, "viewer").status_code == 200


def test_session_and_token_logins_share_one_throttle(client):
    for n in range(5):
        assert client.post("/api/auth/token", json={"username": "viewer", "password": f"guess-{n}"}).status_code == 401
    assert open_session(client, "viewer").status_code == 429


def test_a_deactivated_accounts_session_is_refused_with_its_own_type(client):
    open_session(client, "viewer")
    caller(client, "admin").post("/api/accounts/viewer/deactivate")
    refused = client.get("/api/me")
    assert refused.status_code == 401 and problem_type(refused) == "account-deactivated"
    # Logging in again is refused like a wrong password: a login never confirms that an account exists.
    again = open_session(client, "viewer")
    assert again.status_code == 401 and problem_type(again) == "invalid-credentials"


def test_no_credentials_and_a_forged_cookie_are_told_apart_from_an_expired_session(client):
    nothing = client.get("/api/me")
    assert nothing.status_code == 401 and problem_type(nothing) == "not-authenticated"
    client.set_cookie(COOKIE, "forged.token.value", path="/api")
    forged = client.get("/api/me")
    assert forged.status_code == 401 and problem_type(forged) == "token-invalid"


def test_a_login_form_posted_from_another_site_opens_no_session(client):
    # A cross-site HTML form can send only form or text bodies; the login takes JSON alone.
    for content_type in ("application/x-www-form-urlencoded", "text/plain", "multipart/form-data"):
        response = client.post(
            "/api/auth/session",
            content_type=content_type,
            data=f'{{"username": "viewer", "password": "{password_for("viewer")}"}}',
        )
        assert response.status_code == 422 and session_cookie(client) is None


def test_session_logins_and_logouts_are_audited(client):
    csrf = open_session(client, "viewer").json["csrf_token"]
    open_session(client, "viewer", "not-the-password")
    client.delete("/api/auth/session", headers={"X-CSRF-Token": csrf})
    entries = caller(client, "admin").get("/api/audit", query_string={"actor": "viewer"}).json["items"]
    found = {(e["action"], e["outcome"], (e["detail"] or {}).get("how")) for e in entries}
    assert {("login", "success", "session"), ("login", "denied", "session"), ("logout", "success", None)} <= found

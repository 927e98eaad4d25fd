"""Authentication: tokens, expiry, revocation, lock-out, and problem responses for every failure."""

from __future__ import annotations

from .api_helpers import Caller, caller, login


def test_a_token_opens_the_api_and_names_its_account(client):
    response = login(client, "manager")
    assert response.status_code == 200
    body = response.json
    assert body["token_type"] == "Bearer" and body["expires_in"] == 8 * 3600
    me = Caller(client, body["access_token"]).get("/api/me")
    assert me.status_code == 200 and me.json["username"] == "manager" and me.json["roles"] == ["manager"]


def test_requests_without_a_valid_token_get_a_401_problem(client):
    for headers in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic abc"}):
        response = client.get("/api/tasks", headers=headers)
        assert response.status_code == 401
        assert response.mimetype == "application/problem+json"
        assert response.json["status"] == 401 and response.json["title"] == "Unauthorized"


def test_public_endpoints_need_no_token(client):
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/api/openapi.json").status_code == 200


def test_wrong_password_is_401_and_repeated_failures_are_throttled(client, clock):
    for _ in range(4):
        assert login(client, "viewer", "wrong-password-x").status_code == 401
    assert login(client, "viewer").status_code == 200  # success resets the count
    for _ in range(5):
        assert login(client, "viewer", "wrong-password-x").status_code == 401
    throttled = login(client, "viewer")  # even the right password waits (see test_login_security.py)
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "1"
    clock.advance(seconds=1)
    assert login(client, "viewer").status_code == 200


def test_unknown_user_gets_the_same_answer_as_a_wrong_password(client):
    response = login(client, "nobody", "whatever-password")
    assert response.status_code == 401 and response.json["detail"] == "wrong username or password"


def test_tokens_expire(client, clock):
    me = caller(client, "viewer")
    assert me.get("/api/me").status_code == 200  # checked once (and its signature remembered)
    clock.advance(hours=8, seconds=1)
    response = me.get("/api/me")
    assert response.status_code == 401 and "expired" in response.json["detail"]


def test_a_revoked_token_stops_working(client):
    me = caller(client, "viewer")
    assert me.post("/api/auth/revoke").status_code == 204
    response = me.get("/api/me")
    assert response.status_code == 401 and "revoked" in response.json["detail"]
    assert caller(client, "viewer").get("/api/me").status_code == 200  # a new login works


def test_deactivating_an_account_cuts_its_tokens_off(client):
    viewer = caller(client, "viewer")
    admin = caller(client, "admin")
    assert admin.post("/api/accounts/viewer/deactivate").status_code == 200
    assert viewer.get("/api/me").status_code == 401
    assert login(client, "viewer").status_code == 401


def test_admins_create_accounts_and_change_roles(client):
    admin = caller(client, "admin")
    created = admin.post(
        "/api/accounts",
        json={
            "username": "lin",
            "password": "a-long-password",
            "roles": ["partner"],
            "groups": ["audit"],
            "display_name": "Lin Wei",
        },
    )
    assert created.status_code == 201 and created.json["roles"] == ["partner"] and "password" not in created.json
    assert (
        admin.post(
            "/api/accounts", json={"username": "lin", "password": "a-long-password", "roles": ["partner"]}
        ).status_code
        == 409
    )
    bad = admin.post("/api/accounts", json={"username": "x y", "password": "short", "roles": ["wizard"]})
    assert bad.status_code == 422 and {"username", "password", "roles.0"} <= set(bad.json["errors"])
    changed = admin.put("/api/accounts/lin/roles", json={"roles": ["manager", "viewer"]})
    assert changed.status_code == 200 and changed.json["roles"] == ["manager", "viewer"]
    listed = admin.get("/api/accounts?page_size=2")
    assert listed.json["total"] == 7 and len(listed.json["items"]) == 2 and listed.json["page_size"] == 2
    assert caller(client, "lin", "a-long-password").get("/api/me").json["roles"] == ["manager", "viewer"]


def test_unknown_routes_and_methods_are_problems(client):
    admin = caller(client, "admin")
    missing = admin.get("/api/nothing-here")
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
    wrong = admin.delete("/api/tasks")
    assert wrong.status_code == 405 and wrong.mimetype == "application/problem+json"


def test_an_unexpected_failure_is_a_500_problem_with_an_id_and_no_trace(client, app, monkeypatch, caplog):
    from engine.runtime import ProcessEngine

    def explode(self, *args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(ProcessEngine, "start_instance", explode)
    response = caller(client, "manager").post("/api/process-instances", json={"process_key": "x"})
    assert response.status_code == 500 and response.mimetype == "application/problem+json"
    assert "secret internals" not in response.get_data(as_text=True)
    assert response.json["error_id"] in caplog.text

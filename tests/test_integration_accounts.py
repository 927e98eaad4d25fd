"""Integration accounts: machine clients (a finance system) with API keys that open only their scopes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Blueprint, current_app, g, request
from sqlalchemy import select

from api.idempotency import idempotent
from api.permissions import requires_scope
from atrium import audit
from atrium.cli import main
from atrium.errors import InvalidInput
from storage.audit import AuditEntry
from storage.integration_accounts import ApiKey, IdempotencyKey, IntegrationAccount

from .api_helpers import caller, client_body, make_app

# A state-changing view that integrations with `invoices:write` may call, as the billing endpoints will be:
# it writes one audit row per run (the "write" the idempotency tests count).
test_views = Blueprint("integration_test_views", __name__)
HELD = {}


@test_views.post("/api/test-invoices")
@requires_scope("invoices:write", "records:write")
@idempotent
def record_test_invoice():
    body = request.get_json(silent=True) or {}
    if body.get("invalid"):
        raise InvalidInput("invalid test invoice", {"amount": ["must be positive"]})
    if body.get("crash"):
        raise RuntimeError("the test view fails")
    if "hold" in HELD:  # a request kept running until the test lets it go (test_idempotency.py)
        HELD["entered"].set()
        HELD["hold"].wait(30)
    number = str(body.get("number", "1"))
    with current_app.extensions["atrium.engine"].transaction() as session:
        audit.record(
            session,
            "test_invoice.create",
            actor=g.account.username,
            target=f"test_invoice:{number}",
            detail={"amount": body.get("amount")},
        )
    return (
        {"number": number, "amount": body.get("amount"), "by": g.account.username},
        201,
        {"Location": f"/api/test-invoices/{number}"},
    )


def build_with_test_views(db, services, **settings):
    app = make_app(db, services, **settings)
    app.register_blueprint(test_views)
    return app


pytestmark = pytest.mark.app(build=build_with_test_views)


@pytest.fixture
def admin(client):
    return caller(client, "admin")


def make_integration(admin, name="kingdee", scopes=("events:read", "invoices:write"), **fields) -> dict:
    made = admin.post("/api/integration-accounts", json={"name": name, "scopes": list(scopes), **fields})
    assert made.status_code == 201, made.json
    return made.json


def as_key(client, key: str, *, header: str = "bearer"):
    """A Caller-like sender of an API key."""

    class KeyCaller:
        def _headers(self, extra):
            sent = {"Authorization": f"Bearer {key}"} if header == "bearer" else {"X-API-Key": key}
            return {**sent, **(extra or {})}

        def __getattr__(self, method):
            def send(url, headers=None, **kw):
                return getattr(client, method)(url, headers=self._headers(headers), **kw)

            return send

    return KeyCaller()


def rows(app, model):
    with app.extensions["atrium.engine"].transaction() as session:
        found = session.scalars(select(model)).all()
        session.expunge_all()
        return found


def audit_rows(app, action=None):
    return [r for r in rows(app, AuditEntry) if action is None or r.action == action]


# Creating, and the key shown once ------------------------------------------------------------------


def test_an_admin_creates_an_integration_and_sees_its_key_once(app, client, admin):
    made = make_integration(admin, description="Kingdee K/3 Cloud")
    key = made["key"]["key"]
    assert key.startswith(f"atr_{made['key']['key_id']}_") and len(key.split("_", 2)[2]) >= 43
    assert made["scopes"] == ["events:read", "invoices:write"] and made["active"] is True
    assert made["created_by"] == "admin"
    listed = admin.get("/api/integration-accounts").json
    one = admin.get("/api/integration-accounts/kingdee").json
    assert listed["total"] == 1 and listed["items"][0]["keys"][0]["prefix"] == made["key"]["prefix"]
    secret = key.split("_", 2)[2]
    for answer in (listed["items"][0], one):
        assert secret not in str(answer) and "key" not in answer["keys"][0]
    # Stored: a hash of it only, nowhere in plain (keys, accounts, audit, idempotency keys).
    stored = [vars(r) for model in (ApiKey, IntegrationAccount, AuditEntry, IdempotencyKey) for r in rows(app, model)]
    assert secret not in str(stored)
    assert rows(app, ApiKey)[0].secret_hash != secret


def test_the_key_opens_the_endpoints_of_its_scopes_by_bearer_or_x_api_key(app, client, admin):
    key = make_integration(admin)["key"]["key"]
    for header in ("bearer", "x-api-key"):
        machine = as_key(client, key, header=header)
        answer = machine.get("/api/events")
        assert answer.status_code == 200, answer.json
        assert machine.get("/api/event-types").status_code == 200


def test_a_key_is_refused_where_its_integration_holds_no_scope(app, client, admin):
    key = make_integration(admin, name="xero", scopes=["invoices:write"])["key"]["key"]
    refused = as_key(client, key).get("/api/events")
    assert refused.status_code == 403 and refused.mimetype == "application/problem+json"
    assert "events:read" in refused.json["detail"]


@pytest.mark.parametrize(
    "method, url",
    [
        ("post", "/api/clients"),
        ("get", "/api/clients"),
        ("get", "/api/accounts"),
        ("post", "/api/accounts"),
        ("get", "/api/me"),
        ("get", "/api/integration-accounts"),
        ("post", "/api/integration-accounts"),
        ("post", "/api/integration-accounts/kingdee/keys"),
        ("get", "/api/audit"),
        ("get", "/api/tasks"),
        ("post", "/api/auth/revoke"),
        ("get", "/api/nowhere"),
    ],
)
def test_every_other_endpoint_refuses_a_key(app, client, admin, method, url):
    key = make_integration(admin)["key"]["key"]
    refused = getattr(as_key(client, key), method)(url, json=client_body())
    assert refused.status_code == 403, (url, refused.status_code, refused.json)
    assert refused.json["type"].endswith("/integration-not-allowed")
    assert refused.mimetype == "application/problem+json"


def test_a_person_without_the_permission_is_refused_a_scoped_endpoint(app, client):
    refused = caller(client, "viewer").post("/api/test-invoices", json={"number": 1})
    assert refused.status_code == 403
    assert caller(client, "admin").get("/api/events").status_code == 200  # people keep their permission


# Refused keys: 401, all alike ------------------------------------------------------------------------


def test_unknown_wrong_malformed_revoked_and_expired_keys_are_the_same_401(app, client, admin, clock):
    made = make_integration(admin)
    key, key_pk = made["key"]["key"], made["key"]["id"]
    expiring = admin.post(
        "/api/integration-accounts/kingdee/keys", json={"expires_at": (clock.now() + timedelta(hours=1)).isoformat()}
    ).json["key"]
    key_id = key.split("_")[1]
    bad = [
        key[:-1] + ("A" if key[-1] != "A" else "B"),  # right id, wrong secret
        f"atr_{'0' * 12}_{key.split('_', 2)[2]}",  # unknown id, a secret of another key
        "atr_nonsense",
        f"atr_{key_id}_",
        "atr_" + "x" * 5000,
    ]
    answers = [as_key(client, k).get("/api/events") for k in bad]
    assert admin.delete(f"/api/integration-accounts/kingdee/keys/{key_pk}").status_code == 204
    answers.append(as_key(client, key).get("/api/events"))  # revoked
    assert as_key(client, expiring).get("/api/events").status_code == 200
    clock.advance(timedelta(hours=1, seconds=1))
    answers.append(as_key(client, expiring).get("/api/events"))  # expired
    answers.append(client.get("/api/events", headers={"X-API-Key": "not-even-a-key"}))
    for answer in answers:
        assert answer.status_code == 401 and answer.mimetype == "application/problem+json"
        assert answer.json == answers[0].json
    assert answers[0].json["type"].endswith("/api-key-invalid")


def test_a_deactivated_integration_s_keys_stop_working(app, client, admin):
    key = make_integration(admin)["key"]["key"]
    changed = admin.patch("/api/integration-accounts/kingdee", json={"active": False})
    assert changed.status_code == 200 and changed.json["active"] is False
    assert as_key(client, key).get("/api/events").status_code == 401
    assert admin.patch("/api/integration-accounts/kingdee", json={"active": True}).status_code == 200
    assert as_key(client, key).get("/api/events").status_code == 200


def test_scopes_changed_take_effect_on_the_next_request(app, client, admin):
    key = make_integration(admin)["key"]["key"]
    assert admin.patch("/api/integration-accounts/kingdee", json={"scopes": ["invoices:write"]}).status_code == 200
    assert as_key(client, key).get("/api/events").status_code == 403


# Rotation ------------------------------------------------------------------------------------------


def test_rotation_old_and_new_keys_both_work_until_the_old_is_revoked(app, client, admin):
    made = make_integration(admin)
    old, old_pk = made["key"]["key"], made["key"]["id"]
    new = admin.post("/api/integration-accounts/kingdee/keys", json={})
    assert new.status_code == 201 and new.json["key"] != old and new.json["usable"] is True
    for key in (old, new.json["key"]):
        assert as_key(client, key).get("/api/events").status_code == 200
    assert admin.delete(f"/api/integration-accounts/kingdee/keys/{old_pk}").status_code == 204
    assert as_key(client, old).get("/api/events").status_code == 401
    assert as_key(client, new.json["key"]).get("/api/events").status_code == 200
    keys = admin.get("/api/integration-accounts/kingdee").json["keys"]
    assert [(k["id"], k["usable"], k["revoked_at"] is not None) for k in keys] == [
        (old_pk, False, True),
        (new.json["id"], True, False),
    ]
    # Revoking again changes nothing; a key of another integration, or none, is a 404.
    assert admin.delete(f"/api/integration-accounts/kingdee/keys/{old_pk}").status_code == 204
    make_integration(admin, name="xero")
    assert admin.delete(f"/api/integration-accounts/xero/keys/{old_pk}").status_code == 404
    assert admin.delete("/api/integration-accounts/kingdee/keys/987654").status_code == 404
    assert admin.delete(f"/api/integration-accounts/nobody/keys/{old_pk}").status_code == 404


@pytest.mark.app(build=build_with_test_views, api_key_rotation_grace_hours=2)
def test_with_a_grace_period_the_old_key_stops_working_that_long_after_a_rotation(app, client, admin, clock):
    old = make_integration(admin)["key"]["key"]
    new = admin.post("/api/integration-accounts/kingdee/keys", json={}).json["key"]
    clock.advance(timedelta(hours=1))
    assert as_key(client, old).get("/api/events").status_code == 200
    clock.advance(timedelta(hours=1, seconds=1))
    assert as_key(client, old).get("/api/events").status_code == 401
    assert as_key(client, new).get("/api/events").status_code == 200


def test_last_used_is_recorded_at_most_once_a_minute(app, client, admin, clock):
    key = make_integration(admin)["key"]["key"]
    machine = as_key(client, key)

    def last_used():
        return rows(app, ApiKey)[0].last_used_at

    assert last_used() is None
    first = clock.now()
    machine.get("/api/events")
    assert last_used() == first
    clock.advance(timedelta(seconds=30))
    machine.get("/api/events")
    assert last_used() == first
    clock.advance(timedelta(seconds=31))
    machine.get("/api/events")
    assert last_used() == clock.now()


# Audit -------------------------------------------------------------------------------------------


def test_every_change_is_audited_without_the_secret(app, client, admin):
    made = make_integration(admin)
    rotated = admin.post("/api/integration-accounts/kingdee/keys", json={}).json
    admin.delete(f"/api/integration-accounts/kingdee/keys/{made['key']['id']}")
    admin.patch("/api/integration-accounts/kingdee", json={"scopes": ["events:read"]})
    found = [
        (r.action, r.actor, r.target, (r.detail or {}).get("key_id"))
        for r in audit_rows(app)
        if r.action.startswith("integration.")
    ]
    assert found == [
        ("integration.create", "admin", "integration:kingdee", None),
        ("integration.key.create", "admin", "integration:kingdee", made["key"]["key_id"]),
        ("integration.key.create", "admin", "integration:kingdee", rotated["key_id"]),
        ("integration.key.revoke", "admin", "integration:kingdee", made["key"]["key_id"]),
        ("integration.update", "admin", "integration:kingdee", None),
    ]
    for secret in (made["key"]["key"], rotated["key"]):
        assert secret.split("_", 2)[2] not in str([r.detail for r in audit_rows(app)])


def test_an_integration_s_changes_are_audited_as_integration_name(app, client, admin):
    key = make_integration(admin)["key"]["key"]
    made = as_key(client, key).post("/api/test-invoices", json={"number": 7}, headers={"Idempotency-Key": "i-7"})
    assert made.status_code == 201, made.json
    assert made.json["by"] == "integration:kingdee"
    [row] = audit_rows(app, "test_invoice.create")
    assert (row.actor, row.target) == ("integration:kingdee", "test_invoice:7")


def test_a_refused_key_is_audited_as_denied(app, client, admin):
    key = make_integration(admin)["key"]["key"]
    as_key(client, key).post("/api/clients", json=client_body())
    denied = [r for r in audit_rows(app) if r.outcome == "denied"]
    assert [(r.actor, r.action) for r in denied] == [("integration:kingdee", "POST /api/clients")]


# Attacks on the admin endpoints ----------------------------------------------------------------------


def test_unauthenticated_and_other_roles_are_refused(app, client):
    assert client.get("/api/integration-accounts").status_code == 401
    assert client.post("/api/integration-accounts", json={"name": "x1", "scopes": ["events:read"]}).status_code == 401
    for role in ("partner", "manager", "account_manager", "service_desk", "viewer"):
        person = caller(client, role)
        assert person.get("/api/integration-accounts").status_code == 403
        assert (
            person.post("/api/integration-accounts", json={"name": "x1", "scopes": ["events:read"]}).status_code == 403
        )
        assert person.post("/api/integration-accounts/x1/keys", json={}).status_code == 403
        assert person.delete("/api/integration-accounts/x1/keys/1").status_code == 403
    assert rows(app, IntegrationAccount) == []


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": "Kingdee", "scopes": ["events:read"]}, "name"),
        ({"name": "k", "scopes": ["events:read"]}, "name"),
        ({"name": "kingdee; drop table", "scopes": ["events:read"]}, "name"),
        ({"name": "king\x00dee", "scopes": ["events:read"]}, "name"),
        ({"name": "kingdee", "scopes": ["accounts:manage"]}, "scopes.0"),
        ({"name": "kingdee", "scopes": []}, "scopes"),
        ({"name": "kingdee"}, "scopes"),
        ({"name": "kingdee", "scopes": ["events:read"], "active": False}, "active"),
        ({"name": "kingdee", "scopes": ["events:read"], "secret_hash": "x"}, "secret_hash"),
        (
            {"name": "kingdee", "scopes": ["events:read"], "key_expires_at": "2020-01-01T00:00:00+00:00"},
            "key_expires_at",
        ),
    ],
)
def test_hostile_input_is_a_422_naming_the_field(app, client, admin, body, field):
    refused = admin.post("/api/integration-accounts", json=body)
    assert refused.status_code == 422, refused.json
    assert field in refused.json["errors"], refused.json
    assert rows(app, IntegrationAccount) == []


def test_a_name_taken_is_a_409_and_unknown_names_404(app, client, admin):
    make_integration(admin)
    assert (
        admin.post("/api/integration-accounts", json={"name": "kingdee", "scopes": ["events:read"]}).status_code == 409
    )
    assert admin.get("/api/integration-accounts/nobody").status_code == 404
    assert admin.patch("/api/integration-accounts/nobody", json={"active": False}).status_code == 404
    assert admin.post("/api/integration-accounts/nobody/keys", json={}).status_code == 404
    assert admin.patch("/api/integration-accounts/kingdee", json={"scopes": ["root"]}).status_code == 422
    assert admin.patch("/api/integration-accounts/kingdee", json={"key_id": "x"}).status_code == 422


# The command -----------------------------------------------------------------------------------------


def test_the_cli_creates_an_integration_and_prints_its_key_once(app, db, client, capsys, monkeypatch):
    monkeypatch.setenv("ATRIUM_DATABASE_URL", db.url.render_as_string(hide_password=False))
    assert main(["integration", "create", "yonyou", "--scope", "events:read", "--scope", "payments:write"]) == 0
    key = capsys.readouterr().out.strip().splitlines()[-1]
    assert key.startswith("atr_")
    assert as_key(client, key).get("/api/events").status_code == 200
    [created] = audit_rows(app, "integration.create")
    assert created.actor == audit.cli_actor() and created.detail == {"scopes": ["events:read", "payments:write"]}
    assert main(["integration", "create", "yonyou", "--scope", "events:read"]) == 1  # taken
    assert main(["integration", "create", "nope", "--scope", "accounts:manage"]) == 1


def test_refusals_are_explained_in_chinese_when_asked(app, client, admin):
    key = make_integration(admin, scopes=["invoices:write"])["key"]["key"]
    chinese = {"Accept-Language": "zh-CN"}
    assert as_key(client, key + "x").get("/api/events", headers=chinese).json["detail"] == "API 密钥无效"
    refused = as_key(client, key).get("/api/accounts", headers=chinese).json["detail"]
    assert refused == "集成账号无权调用 GET /api/accounts"
    no_scope = as_key(client, key).get("/api/events", headers=chinese).json["detail"]
    assert no_scope == "该集成账号没有 events:read 权限范围"
    missing = as_key(client, key).post("/api/test-invoices", json={}, headers=chinese).json
    assert missing["detail"] == "集成账号调用此接口必须发送 Idempotency-Key 请求头"
    assert missing["errors"]["Idempotency-Key"] == ["集成账号必填：每项预期的变更使用一个唯一值"]

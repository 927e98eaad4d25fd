"""One's own account: what GET /api/me tells the web app (language, permissions) and choosing a language."""

from __future__ import annotations

from api.permissions import PERMISSIONS

from .api_helpers import caller


def test_me_lists_the_permissions_the_roles_grant_and_no_language_yet(client):
    viewer = caller(client, "viewer").get("/api/me").json
    assert viewer["locale"] is None and viewer["password_change_required"] is False
    assert viewer["permissions"] == sorted(p for p, roles in PERMISSIONS.items() if "viewer" in roles)
    assert "clients:write" not in viewer["permissions"] and "clients:read" in viewer["permissions"]
    admin = caller(client, "admin").get("/api/me").json
    assert "accounts:manage" in admin["permissions"] and admin["permissions"] == sorted(admin["permissions"])


def test_a_person_chooses_their_language_and_it_is_remembered_and_audited(client):
    viewer = caller(client, "viewer")
    chosen = viewer.patch("/api/me", json={"locale": "zh-CN"})
    assert chosen.status_code == 200 and chosen.json["locale"] == "zh-CN" and chosen.json["username"] == "viewer"
    assert caller(client, "viewer").get("/api/me").json["locale"] == "zh-CN"  # a later login too
    assert viewer.patch("/api/me", json={"locale": None}).json["locale"] is None  # back to the browser's
    admin = caller(client, "admin")
    entries = admin.get("/api/audit", query_string={"action": "account.locale"}).json["items"]
    assert [(e["actor"], e["target"], e["detail"]) for e in entries] == [
        ("viewer", "account:viewer", {"locale": None, "changes": {"locale": ["zh-CN", None]}}),
        ("viewer", "account:viewer", {"locale": "zh-CN", "changes": {"locale": [None, "zh-CN"]}}),
    ]
    assert admin.get("/api/me").json["locale"] is None  # only one's own


def test_an_unknown_language_is_a_422_naming_locale(client):
    viewer = caller(client, "viewer")
    for body in ({"locale": "fr"}, {"locale": "zh"}, {"locale": ""}, {"locale": 7}, {}):
        response = viewer.patch("/api/me", json=body)
        assert response.status_code == 422 and "locale" in response.json["errors"], body
    assert viewer.get("/api/me").json["locale"] is None


def test_patching_me_cannot_change_roles_or_anything_else(client):
    viewer = caller(client, "viewer")
    for field, value in (("roles", ["admin"]), ("active", True), ("username", "admin"), ("groups", ["tax"])):
        response = viewer.patch("/api/me", json={"locale": "en", field: value})
        assert response.status_code == 422 and field in response.json["errors"], field
    me = viewer.get("/api/me").json
    assert me["roles"] == ["viewer"] and me["locale"] is None and me["groups"] == []


def test_choosing_a_language_needs_a_login(client):
    response = client.patch("/api/me", json={"locale": "en"})
    assert response.status_code == 401

"""The health API: a client's score and reasons in the caller's language, visible as the client is; the
at-risk list per account manager and for the firm; the statistics; and the attacks on them."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest

from atrium.health import recompute_health
from storage.client_records import Complaint, Engagement

from .api_helpers import people_in_two_teams
from .factories import make_client
from .test_health import TABLE

# account_manager and am_tax are the "tax" team; am_audit is alone in "audit".


@pytest.fixture
def firm(app, clock):
    people = people_in_two_teams(app)
    files = [(io.BytesIO(TABLE.read_bytes()), "client_health.dmn")]
    response = people["admin"].post("/api/deployments", data={"files": files}, content_type="multipart/form-data")
    assert response.status_code == 201, response.json
    engine = app.extensions["atrium.engine"]
    clients = {}
    with engine.transaction() as session:
        for name, owner, troubles in (
            ("Harbour Logistics", "account_manager", 3),
            ("Pearl Imports", "account_manager", 0),
            ("Lotus Trading", "am_tax", 3),
            ("Granite Audit", "am_audit", 3),
            ("Willow Partners", "am_audit", 1),
        ):
            client = make_client(session, name=name, owner=owner, tier="B")
            clients[name] = client.id
            for _ in range(troubles):
                session.add(
                    Complaint(
                        client_id=client.id,
                        severity="critical",
                        description="missed deadline",
                        status="registered",
                        received_at=clock.now(),
                        created_at=clock.now(),
                        updated_at=clock.now(),
                    )
                )
            if not troubles:
                session.add(
                    Engagement(
                        client_id=client.id,
                        service_type="tax",
                        status="active",
                        created_at=clock.now(),
                        updated_at=clock.now(),
                    )
                )
        session.flush()
        recompute_health(session, engine.settings)
    people["ids"] = clients
    return people


def test_a_client_page_shows_score_band_and_reasons_in_the_readers_language(firm):
    harbour = firm["ids"]["Harbour Logistics"]
    response = firm["account_manager"].get(f"/api/clients/{harbour}/health")
    assert response.status_code == 200, response.json
    body = response.json
    # 100 - 25 serious complaint - 10 three or more - 10 no engagement
    assert (body["score"], body["band"], body["band_text"], body["table_version"]) == (55, "watch", "Watch", 1)
    assert [(r["reason"], r["points"]) for r in body["reasons"]] == [
        ("complaint_serious", -25),
        ("complaints_many", -10),
        ("no_engagement", -10),
    ]
    assert body["reasons"][0]["text"] == "An open complaint of high or critical severity"
    assert body["signals"]["open_complaints"] == 3 and body["signals"]["worst_severity"] == 4
    chinese = firm["account_manager"].get(f"/api/clients/{harbour}/health", headers={"Accept-Language": "zh-CN"})
    assert chinese.json["band_text"] == "关注"
    assert chinese.json["reasons"][0]["text"] == "有未结的高或严重级别投诉"


def test_another_teams_client_health_is_the_same_404_as_a_missing_client(firm):
    granite = firm["ids"]["Granite Audit"]
    hidden = firm["account_manager"].get(f"/api/clients/{granite}/health")
    missing = firm["account_manager"].get("/api/clients/999999/health")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json["detail"] == f"client {granite} not found"
    # A teammate's client is visible, as GET /api/clients/{id} is.
    assert firm["account_manager"].get(f"/api/clients/{firm['ids']['Lotus Trading']}/health").status_code == 200
    # Roles that see every client see it; not logged in: 401.
    for role in ("viewer", "manager", "service_desk"):
        assert firm[role].get(f"/api/clients/{granite}/health").status_code == 200, role
    assert firm["viewer"].client.get(f"/api/clients/{granite}/health").status_code == 401


def test_an_unscored_client_says_why(firm, app):
    with app.extensions["atrium.engine"].transaction() as session:
        prospect = make_client(session, name="Not Yet Ltd", owner="account_manager", status="prospect").id
    response = firm["account_manager"].get(f"/api/clients/{prospect}/health")
    assert response.status_code == 404 and "only active clients are scored" in response.json["detail"]


def _names(response) -> list[str]:
    assert response.status_code == 200, response.json
    return [item["name"] for item in response.json["items"]]


def test_an_account_manager_sees_only_their_own_at_risk_clients_and_managers_the_firms(firm, app):
    engine = app.extensions["atrium.engine"]
    # Push three clients to at risk: deploy heavier weights for serious complaints.
    heavier = TABLE.read_text().replace(
        '<outputEntry id="complaint_serious_points"><text>-25</text>',
        '<outputEntry id="complaint_serious_points"><text>-50</text>',
    )
    files = [(io.BytesIO(heavier.encode()), "client_health.dmn")]
    assert (
        firm["admin"].post("/api/deployments", data={"files": files}, content_type="multipart/form-data").status_code
        == 201
    )
    assert _names(firm["manager"].get("/api/health/at-risk")) == []  # not recomputed yet
    with engine.transaction() as session:
        recompute_health(session, engine.settings)
    assert _names(firm["account_manager"].get("/api/health/at-risk")) == ["Harbour Logistics"]
    assert _names(firm["am_audit"].get("/api/health/at-risk")) == ["Granite Audit"]
    everyone = firm["manager"].get("/api/health/at-risk")
    assert sorted(_names(everyone)) == ["Granite Audit", "Harbour Logistics", "Lotus Trading"]
    assert everyone.json["total"] == 3 and everyone.json["items"][0]["score"] == 30
    assert _names(firm["partner"].get("/api/health/at-risk?owner=am_tax")) == ["Lotus Trading"]
    assert _names(firm["account_manager"].get("/api/health/at-risk?owner=me")) == ["Harbour Logistics"]
    assert _names(firm["manager"].get("/api/health/at-risk?band=watch")) == ["Willow Partners"]
    page = firm["manager"].get("/api/health/at-risk?page=2&page_size=2")
    assert len(page.json["items"]) == 1 and page.json["total"] == 3


def test_at_risk_list_attacks(firm):
    # Another owner's list, even a teammate's: refused naming the field.
    refused = firm["account_manager"].get("/api/health/at-risk?owner=am_tax")
    assert refused.status_code == 422 and "owner" in refused.json["errors"]
    # Roles without reports: the service desk.
    assert firm["service_desk"].get("/api/health/at-risk").status_code == 403
    for query, field in (
        ("band=healthy", "band"),
        ("tier=Z", "tier"),
        ("page=0", "page"),
        ("page_size=1000", "page_size"),
    ):
        response = firm["manager"].get(f"/api/health/at-risk?{query}")
        assert response.status_code == 422, query
        assert field in str(response.json["errors"]), (query, response.json)


def test_statistics_count_bands_by_tier_for_what_the_caller_sees(firm):
    stats = firm["manager"].get("/api/health/statistics").json
    assert stats["clients"] == 5
    assert stats["by_band"] == {"healthy": 1, "watch": 4, "at_risk": 0}
    assert {(r["band"], r["tier"], r["clients"]) for r in stats["by_band_and_tier"]} == {
        ("healthy", "B", 1),
        ("watch", "B", 4),
    }
    own = firm["account_manager"].get("/api/health/statistics").json
    assert own["clients"] == 2 and own["by_band"] == {"healthy": 1, "watch": 1, "at_risk": 0}
    assert firm["manager"].get("/api/health/statistics?owner=am_audit").json["clients"] == 2
    assert firm["account_manager"].get("/api/health/statistics?owner=am_audit").status_code == 422


def test_recompute_leaves_out_a_client_no_longer_active(firm, app, clock):
    engine = app.extensions["atrium.engine"]
    with engine.transaction() as session:
        from storage.clients import Client

        session.get(Client, firm["ids"]["Pearl Imports"]).status = "former"
        clock.advance(timedelta(hours=1))
        recompute_health(session, engine.settings)
    response = firm["account_manager"].get(f"/api/clients/{firm['ids']['Pearl Imports']}/health")
    assert response.status_code == 404

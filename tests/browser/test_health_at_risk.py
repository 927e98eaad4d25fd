"""Relationship health in the browser: an account manager opens "At risk" and sees her own at-risk
clients with their reasons, opens one and sees the score badge and why; a manager sees the firm's."""

from __future__ import annotations

import io

from playwright.sync_api import expect

from atrium import clock
from atrium.health import recompute_health
from atrium.settings import PROJECT_ROOT
from storage.client_records import Complaint

from .client_steps import as_person, new_client, signed_in


def _troubled(live_server, client_id: int, complaints: int) -> None:
    engine = live_server.app.extensions["atrium.engine"]
    with engine.transaction() as session:
        for _ in range(complaints):
            now = clock.now()
            session.add(
                Complaint(
                    client_id=client_id,
                    severity="critical",
                    description="missed filing deadline",
                    status="registered",
                    received_at=now,
                    created_at=now,
                    updated_at=now,
                )
            )


def _weigh_serious_complaints_more(live_server) -> None:
    """The firm's administrator deploys a new version of the table: a serious complaint costs 60 points."""
    heavier = (
        (PROJECT_ROOT / "processes" / "client_health.dmn")
        .read_text()
        .replace(
            '<outputEntry id="complaint_serious_points"><text>-25</text>',
            '<outputEntry id="complaint_serious_points"><text>-60</text>',
        )
    )
    deployed = as_person(live_server, "ada").post(
        "/api/deployments",
        data={"files": [(io.BytesIO(heavier.encode()), "client_health.dmn")]},
        content_type="multipart/form-data",
    )
    assert deployed.status_code == 201, deployed.json


def _recompute(live_server) -> None:
    engine = live_server.app.extensions["atrium.engine"]
    with engine.transaction() as session:
        recompute_health(session, engine.settings)


def test_an_account_manager_sees_her_at_risk_clients_and_why(live_server, page, shot):
    amy, alan = as_person(live_server, "amy"), as_person(live_server, "alan")
    harbour = new_client(amy, "Harbour Logistics Ltd", owner="amy", status="active", tier="A")
    pearl = new_client(amy, "Pearl River Imports", owner="amy", status="active", tier="B")
    south = new_client(alan, "South Harbour Trading", owner="alan", status="active", tier="B")
    _troubled(live_server, harbour["id"], 4)
    _troubled(live_server, south["id"], 4)
    _recompute(live_server)  # with the shipped weights these clients are only watched
    _weigh_serious_complaints_more(live_server)
    _recompute(live_server)

    signed_in(page, live_server, "amy")
    page.get_by_role("link", name="At risk").click()
    expect(page.get_by_role("heading", name="Clients at risk", level=1)).to_be_visible()
    table = page.get_by_role("table")
    expect(table.get_by_role("link", name="Harbour Logistics Ltd")).to_be_visible()
    expect(table.get_by_text("An open complaint of high or critical severity")).to_be_visible()
    expect(table.get_by_role("link", name="South Harbour Trading")).to_have_count(0)
    expect(table.get_by_role("link", name="Pearl River Imports")).to_have_count(0)
    shot(page, "at-risk-amy")

    table.get_by_role("link", name="Harbour Logistics Ltd").click()
    expect(page.get_by_role("heading", name="Harbour Logistics Ltd", level=1)).to_be_visible()
    expect(page.locator(".client-badges").get_by_text("Health 20 · At risk")).to_be_visible()
    reasons = page.get_by_role("list", name="Why this score")
    expect(reasons.get_by_text("Three or more open complaints")).to_be_visible()
    expect(reasons.get_by_text("-60")).to_be_visible()
    shot(page, "client-health-amy")

    page.goto(f"{live_server.url}/clients/{pearl['id']}")
    expect(page.locator(".client-badges").get_by_text("Health 90 · Healthy")).to_be_visible()

    page.get_by_text("中文", exact=True).click()
    page.goto(f"{live_server.url}/clients/{harbour['id']}")
    expect(page.locator(".client-badges").get_by_text("健康度 20 · 有风险")).to_be_visible()
    expect(page.get_by_text("未结投诉三件及以上")).to_be_visible()
    shot(page, "client-health-amy-zh")


def test_a_manager_sees_the_firms_at_risk_clients_and_filters_by_owner(live_server, page, shot):
    amy, alan = as_person(live_server, "amy"), as_person(live_server, "alan")
    harbour = new_client(amy, "Harbour Logistics Ltd", owner="amy", status="active")
    south = new_client(alan, "South Harbour Trading", owner="alan", status="active")
    for client in (harbour, south):
        _troubled(live_server, client["id"], 3)
    _weigh_serious_complaints_more(live_server)
    _recompute(live_server)
    signed_in(page, live_server, "mona")
    page.get_by_role("link", name="At risk").click()
    table = page.get_by_role("table")
    expect(table.get_by_role("link", name="Harbour Logistics Ltd")).to_be_visible()
    expect(table.get_by_role("link", name="South Harbour Trading")).to_be_visible()
    shot(page, "at-risk-manager")
    page.goto(f"{live_server.url}/at-risk?owner=alan")
    expect(table.get_by_role("link", name="South Harbour Trading")).to_be_visible()
    expect(table.get_by_role("link", name="Harbour Logistics Ltd")).to_have_count(0)
    page.set_viewport_size({"width": 360, "height": 780})
    shot(page, "at-risk-manager-phone")

"""Engagements tell the finance system when they start and end (issue 15): `engagement.approved` when an
engagement becomes active, `engagement.closed` when it is completed or cancelled, in the client's order of
events, in the transaction of the change; other changes emit nothing."""

from __future__ import annotations

import pytest

from .api_helpers import events_of, people_in_two_teams
from .factories import make_client

pytestmark = pytest.mark.app(firm=True)


@pytest.fixture
def people(app):
    return people_in_two_teams(app)


def test_an_engagement_becoming_active_then_completed_emits_approved_then_closed(app, people):
    partner = people["partner"]
    client = make_client(partner, owner="account_manager")
    url = f"/api/clients/{client['id']}/engagements"
    made = partner.post(url, json={"service_type": "audit", "fee_basis": "fixed", "fee_amount": "1200.50"})
    assert made.status_code == 201, made.json
    engagement = made.json

    def patch(**fields):
        done = partner.patch(f"{url}/{engagement['id']}", json=fields)
        assert done.status_code == 200, done.json
        return done.json

    patch(status="active", start_date="2026-12-01")
    patch(fee_amount="1300.00")  # not a status change: nothing
    patch(status="active")  # unchanged: nothing
    patch(status="completed", end_date="2026-12-31")
    # A refused change writes no event.
    assert partner.patch(f"{url}/{engagement['id']}", json={"status": "bogus"}).status_code == 422
    # Created cancelled at once: closed.
    cancelled = partner.post(url, json={"service_type": "tax", "status": "cancelled"})
    assert cancelled.status_code == 201, cancelled.json

    found = events_of(app, "client", client["id"])
    assert [(e["type"], e["aggregate"]["sequence"]) for e in found] == [
        ("client.created", 1),
        ("engagement.approved", 2),
        ("engagement.closed", 3),
        ("engagement.closed", 4),
    ]
    assert found[1]["data"] == {
        "client_id": client["id"],
        "engagement_id": engagement["id"],
        "service_type": "audit",
        "status": "active",
        "fee_basis": "fixed",
        "fee_amount": "1200.50",
        "responsible": engagement["responsible"],
        "start_date": "2026-12-01",
        "end_date": None,
    }
    assert found[1]["actor"] == "partner"
    assert (found[2]["data"]["status"], found[2]["data"]["fee_amount"], found[2]["data"]["end_date"]) == (
        "completed",
        "1300.00",
        "2026-12-31",
    )
    assert (found[3]["data"]["engagement_id"], found[3]["data"]["status"]) == (cancelled.json["id"], "cancelled")

"""The event outbox (issue 15): a business change and its event commit together; a client's events are
numbered without gaps; the event types and their schemas are listed; consumers can pull."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from atrium import events
from storage.events import Event

from .api_helpers import client_body, people_in_two_teams
from .conftest import make_process_engine
from .factories import make_client
from .test_concurrency import _race

pytestmark = pytest.mark.app(firm=True)


@pytest.fixture
def people(app):
    return people_in_two_teams(app)


def _events(app, client_id: int) -> list[Event]:
    with app.extensions["atrium.engine"].transaction() as session:
        rows = session.scalars(
            select(Event).where(Event.aggregate_type == "client", Event.aggregate_id == str(client_id))
        ).all()
        return [events.envelope(e) for e in sorted(rows, key=lambda e: e.position)]


def test_a_client_created_and_changed_writes_two_numbered_events_and_a_refused_change_writes_none(app, people):
    client = make_client(people["partner"], owner="account_manager")
    cid = client["id"]
    changed = people["partner"].patch(f"/api/clients/{cid}", json={"tier": "C", "expected_version": client["version"]})
    assert changed.status_code == 200, changed.json
    # Stale version: refused with 409, and nothing of it reaches the outbox.
    stale = people["partner"].patch(f"/api/clients/{cid}", json={"tier": "B", "expected_version": client["version"]})
    assert stale.status_code == 409
    # A duplicate refused: no client, no event.
    assert people["partner"].post("/api/clients", json=client_body()).status_code == 409

    found = _events(app, cid)
    assert [(e["type"], e["aggregate"]["sequence"]) for e in found] == [("client.created", 1), ("client.changed", 2)]
    assert found[0]["data"]["name"] == client["name"] and found[0]["actor"] == "partner"
    assert found[1]["data"]["tier"] == "C" and found[1]["data"]["changed"] == ["tier"]
    with app.extensions["atrium.engine"].transaction() as session:
        assert session.scalar(select(Event.id).where(Event.type == "client.created").offset(1)) is None


def test_event_types_are_listed_with_their_schemas_and_every_emitted_event_matches_one(app, people):
    listed = people["admin"].get("/api/event-types")
    assert listed.status_code == 200, listed.json
    by_name = {t["name"]: t for t in listed.json}
    for name in (
        "client.created",
        "client.changed",
        "client.erased",
        "engagement.approved",
        "engagement.closed",
        "service_request.resolved",
        "complaint.closed",
        "approval.decided",
        "time_entry.recorded",
        "invoice.requested",
    ):
        assert by_name[name]["version"] >= 1 and by_name[name]["schema"]["type"] == "object", name
    # Emitting data outside the schema is a programming error, caught at once.
    with app.extensions["atrium.engine"].transaction() as session, pytest.raises(ValueError, match="client_id"):
        events.emit(
            session,
            "client.erased",
            aggregate=("client", 1),
            data={"client_id": "one", "erased_at": "2026-11-30T00:00:00+00:00"},
            actor="x",
        )


def test_a_consumer_pulls_events_after_its_last_position_and_only_admins_or_integrations_may(app, people):
    first = make_client(people["partner"], owner="account_manager")
    make_client(people["partner"], name="Second Client Co", phones=["+86 21 5555 0000"], emails=[])
    page = people["admin"].get("/api/events?limit=1")
    assert page.status_code == 200, page.json
    assert [e["data"]["client_id"] for e in page.json["events"]] == [first["id"]]
    after = page.json["last_position"]
    rest = people["admin"].get(f"/api/events?after={after}&type=client.created").json["events"]
    assert [e["data"]["name"] for e in rest] == ["Second Client Co"]
    assert all(e["position"] > after for e in rest)

    # Attacks: no token; a person without events:read; a hostile query.
    anonymous = app.test_client().get("/api/events")
    assert anonymous.status_code == 401 and anonymous.headers["Content-Type"] == "application/problem+json"
    for role in ("partner", "account_manager", "viewer"):
        assert people[role].get("/api/events").status_code == 403, role
        assert people[role].get("/api/event-types").status_code == 403, role
    bad = people["admin"].get("/api/events?after=-1&limit=100000")
    assert bad.status_code == 422 and {"after", "limit"} <= set(bad.json["errors"])


def test_two_changes_to_one_client_at_once_both_commit_numbered_one_after_the_other(pg, services, clock):
    # Two engines, two connections to PostgreSQL: a real race (the app's tests share one connection).
    engines = [make_process_engine(pg, services) for _ in range(2)]
    with engines[0].transaction() as session:
        client = make_client(session, name="Race Client Ltd")
        session.flush()
        cid = client.id
        events.emit(
            session, "client.created", aggregate=("client", cid), data=_client_data(cid), actor="t0", first=True
        )

    def record(engine):
        with engine.transaction() as session:
            data = {"client_id": cid, "erased_at": "2026-11-30T00:00:00+00:00"}
            return events.emit(session, "client.erased", aggregate=("client", cid), data=data, actor="race")

    outcomes = _race(engines, record)
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    with engines[0].transaction() as session:
        numbers = session.scalars(
            select(Event.sequence).where(Event.aggregate_id == str(cid)).order_by(Event.sequence)
        ).all()
    assert numbers == [1, 2, 3]


def _client_data(cid: int) -> dict:
    return {
        "client_id": cid,
        "kind": "organisation",
        "name": "Race Client Ltd",
        "status": "active",
        "tier": "A",
        "owner": None,
        "industry": None,
        "locale": None,
    }

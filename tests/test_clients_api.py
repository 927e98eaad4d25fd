"""Client records through HTTP: create, duplicates, search, visibility, update conflicts, delete and restore,
nested records and the timeline."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.clients import ClientStatusChange

from .api_helpers import Caller, caller, client_body, make_app, people_in_two_teams


@pytest.fixture
def people(app):
    return people_in_two_teams(app)


def new_client(person, **fields):
    body = client_body(**fields)
    return person.post("/api/clients", json=body)


def test_account_manager_creates_a_client_that_is_their_own(people):
    made = new_client(people["account_manager"])
    assert made.status_code == 201, made.json
    assert made.json["owner"] == "account_manager" and made.json["version"] == 1
    got = people["account_manager"].get(f"/api/clients/{made.json['id']}")
    assert got.json["name"] == "Harbour Logistics Ltd" and got.json["addresses"][0]["city"] == "Bristol"


def test_a_likely_duplicate_is_refused_with_candidates_unless_confirmed(people):
    first = new_client(people["partner"], owner="account_manager").json
    same_phone = new_client(people["partner"], name="HL Group", emails=[], phones=["020 7946 0000"])
    assert same_phone.status_code == 409 and same_phone.mimetype == "application/problem+json"
    assert same_phone.json["candidates"] == [
        {
            "id": first["id"],
            "name": "Harbour Logistics Ltd",
            "owner": "account_manager",
            "status": "active",
            "matched_on": ["phone"],
        }
    ]
    same_name = new_client(people["partner"], name="harbour logistics, LIMITED", phones=[], emails=[])
    assert same_name.status_code == 409 and same_name.json["candidates"][0]["matched_on"] == ["name"]
    confirmed = new_client(
        people["partner"], name="HL Group", emails=[], phones=["020 7946 0000"], confirm_duplicate=True
    )
    assert confirmed.status_code == 201
    assert people["admin"].get("/api/clients").json["total"] == 2


def test_search_finds_any_part_of_name_phone_email_or_address_in_any_case(people):
    partner = people["partner"]
    new_client(partner, owner="account_manager")
    new_client(
        partner,
        name="张三丰",
        kind="person",
        phones=["13800138000"],
        emails=["zsf@wudang.example"],
        addresses=[{"city": "武汉"}],
        tier="B",
        tags=["vip"],
    )
    new_client(
        partner,
        name="Meridian Legal LLP",
        phones=["+1 212 555 0100"],
        emails=["law@meridian.example"],
        addresses=[{"city": "New York"}],
        tier="C",
        industry="legal",
        tags=[],
    )

    def names(query):
        response = partner.get(f"/api/clients?{query}")
        assert response.status_code == 200, response.json
        return [c["name"] for c in response.json["items"]]

    assert names("q=张三") == ["张三丰"]
    assert names("q=HARBOUR") == ["Harbour Logistics Ltd"]
    assert names("q=7946 0000") == ["Harbour Logistics Ltd"]
    assert names("q=79460000") == ["Harbour Logistics Ltd"]
    assert names("q=MERIDIAN.example") == ["Meridian Legal LLP"]
    assert names("q=武汉") == ["张三丰"]
    assert names("q=new york") == ["Meridian Legal LLP"]
    assert names("q=100%") == []  # a wildcard character is searched for, not obeyed
    assert names("tier=B") == ["张三丰"]
    assert names("tag=vip") == ["张三丰"]
    assert names("industry=legal&status=active") == ["Meridian Legal LLP"]
    assert names("owner=account_manager") == ["Harbour Logistics Ltd"]
    assert names("sort=-name") == ["张三丰", "Meridian Legal LLP", "Harbour Logistics Ltd"]
    assert partner.get("/api/clients?sort=colour").status_code == 422


def test_account_managers_see_and_edit_only_their_own_and_their_teams_clients(people):
    mine = new_client(people["partner"], owner="account_manager").json
    team = new_client(people["partner"], name="Team Client", phones=[], emails=[], owner="am_tax").json
    other = new_client(people["partner"], name="Other Client", phones=[], emails=[], owner="am_audit").json
    seen = {c["id"] for c in people["account_manager"].get("/api/clients").json["items"]}
    assert seen == {mine["id"], team["id"]}
    assert people["am_audit"].get(f"/api/clients/{mine['id']}").status_code == 404
    assert people["am_audit"].patch(f"/api/clients/{mine['id']}", json={"tier": "B"}).status_code == 404
    assert people["account_manager"].patch(f"/api/clients/{team['id']}", json={"tier": "B"}).status_code == 200
    assert people["am_audit"].get(f"/api/clients/{other['id']}/contacts").status_code == 200
    assert people["am_audit"].get(f"/api/clients/{mine['id']}/contacts").status_code == 404
    # Partners, managers, admins (and read-only viewers) see all.
    for role in ("partner", "manager", "admin", "viewer"):
        assert people[role].get("/api/clients").json["total"] == 3
    assert people["viewer"].patch(f"/api/clients/{mine['id']}", json={"tier": "B"}).status_code == 403
    assert new_client(people["viewer"], name="Nope").status_code == 403


def test_an_update_with_a_stale_version_is_a_conflict_and_changes_nothing(people):
    made = new_client(people["account_manager"]).json
    url = f"/api/clients/{made['id']}"
    first = people["account_manager"].patch(url, json={"tier": "B", "expected_version": 1})
    assert first.status_code == 200 and first.json["version"] == 2
    stale = people["partner"].patch(url, json={"tier": "C", "expected_version": 1})
    assert stale.status_code == 409
    assert people["partner"].get(url).json["tier"] == "B"


def status_history(app, client_id: int) -> list[tuple]:
    with app.extensions["atrium.engine"].transaction() as session:
        return [
            tuple(row)
            for row in session.execute(
                select(
                    ClientStatusChange.from_status,
                    ClientStatusChange.to_status,
                    ClientStatusChange.changed_at,
                    ClientStatusChange.changed_by,
                )
                .where(ClientStatusChange.client_id == client_id)
                .order_by(ClientStatusChange.id)
            )
        ]


def test_creating_a_client_and_changing_its_status_write_its_status_history(app, people, clock):
    created_at = clock.now()
    made = new_client(people["account_manager"], status="prospect").json
    url = f"/api/clients/{made['id']}"
    clock.advance(hours=2)
    assert people["account_manager"].patch(url, json={"tier": "B"}).status_code == 200  # not a status change
    assert people["partner"].patch(url, json={"status": "active"}).status_code == 200
    assert people["partner"].patch(url, json={"status": "active", "notes": "again"}).status_code == 200  # unchanged
    assert status_history(app, made["id"]) == [
        (None, "prospect", created_at, "account_manager"),
        ("prospect", "active", clock.now(), "partner"),
    ]
    # A change the request refuses (a stale version) leaves no history behind.
    assert people["partner"].patch(url, json={"status": "dormant", "expected_version": 1}).status_code == 409
    assert len(status_history(app, made["id"])) == 2


def test_bad_input_names_each_field_and_writes_nothing(people):
    bad = new_client(people["partner"], tier="Z", emails=["not-an-email"], owner="nobody")
    assert bad.status_code == 422 and {"tier", "emails.0"} <= set(bad.json["errors"])
    unknown_owner = new_client(people["partner"], owner="nobody")
    assert unknown_owner.status_code == 422 and "owner" in unknown_owner.json["errors"]
    assert people["admin"].get("/api/clients").json["total"] == 0


def test_custom_fields_follow_the_firms_schema(people):
    schema = {
        "type": "object",
        "properties": {"vat_number": {"type": "string", "pattern": "^[A-Z]{2}[0-9]+$"}},
        "additionalProperties": False,
    }
    assert people["partner"].put("/api/settings/client-custom-fields", json={"schema": schema}).status_code == 403
    assert people["admin"].put("/api/settings/client-custom-fields", json={"schema": schema}).status_code == 200
    bad = new_client(people["partner"], custom_fields={"vat_number": "123", "colour": "red"})
    assert bad.status_code == 422 and set(bad.json["errors"]) == {"custom_fields", "custom_fields.vat_number"}
    good = new_client(people["partner"], custom_fields={"vat_number": "GB123"})
    assert good.status_code == 201 and good.json["custom_fields"] == {"vat_number": "GB123"}
    not_a_schema = people["admin"].put("/api/settings/client-custom-fields", json={"schema": {"type": 5}})
    assert not_a_schema.status_code == 422


def test_delete_is_refused_while_engagements_exist_and_otherwise_soft_and_restorable(people):
    am = people["account_manager"]
    kept = new_client(am).json
    engaged = am.post(
        f"/api/clients/{kept['id']}/engagements", json={"service_type": "advisory", "fee_basis": "hourly"}
    )
    assert engaged.status_code == 201, engaged.json
    refused = am.delete(f"/api/clients/{kept['id']}")
    assert refused.status_code == 409 and "engagements" in refused.json["detail"]
    gone = new_client(am, name="Short Lived", phones=[], emails=[]).json
    assert am.delete(f"/api/clients/{gone['id']}").status_code == 204
    assert am.get(f"/api/clients/{gone['id']}").status_code == 404
    assert [c["id"] for c in am.get("/api/clients").json["items"]] == [kept["id"]]
    assert am.post(f"/api/clients/{gone['id']}/restore").status_code == 403
    assert [c["id"] for c in people["admin"].get("/api/clients?deleted=true").json["items"]] == [gone["id"]]
    restored = people["admin"].post(f"/api/clients/{gone['id']}/restore")
    assert restored.status_code == 200 and restored.json["deleted_at"] is None
    assert am.get(f"/api/clients/{gone['id']}").status_code == 200
    actions = [
        row["action"] for row in people["admin"].get("/api/audit?target=client:" + str(gone["id"])).json["items"]
    ]
    assert actions == ["client.restore", "client.delete", "client.create"]


def test_nested_records_are_kept_under_their_client(people, clock):
    desk, am = people["service_desk"], people["account_manager"]
    client_id = new_client(am).json["id"]
    base = f"/api/clients/{client_id}"
    contact = am.post(f"{base}/contacts", json={"name": "Li Wei", "role": "CFO", "emails": ["li@harbour.example"]})
    assert contact.status_code == 201 and contact.json["client_id"] == client_id
    assert am.patch(f"{base}/contacts/{contact.json['id']}", json={"role": "CEO"}).json["role"] == "CEO"
    clock.advance(minutes=1)
    request = desk.post(f"{base}/service-requests", json={"title": "VAT return question", "priority": "high"})
    assert request.status_code == 201 and request.json["created_by"] == "service_desk"
    clock.advance(minutes=1)
    complaint = desk.post(f"{base}/complaints", json={"description": "Invoice sent twice", "severity": "low"})
    assert complaint.json["received_at"] is not None and complaint.json["seconds_to_acknowledge"] is None
    no_rating = desk.post(f"{base}/feedback", json={"comment": "fine"})
    assert no_rating.status_code == 422 and "csat" in no_rating.json["errors"]
    assert desk.post(f"{base}/feedback", json={"csat": 6}).status_code == 422
    clock.advance(minutes=1)
    assert desk.post(f"{base}/feedback", json={"csat": 5, "nps": 9}).status_code == 201
    clock.advance(hours=1)
    assert (
        am.post(
            f"{base}/follow-ups",
            json={
                "channel": "visit",
                "outcome": "ok",
                "done_by": "account_manager",
                "done_at": clock.now().isoformat(),
            },
        ).status_code
        == 201
    )
    assert people["viewer"].post(f"{base}/contacts", json={"name": "X"}).status_code == 403
    assert desk.get(f"{base}/contacts/{contact.json['id'] + 1000}").status_code == 404
    timeline = am.get(f"{base}/timeline").json["items"]
    assert [e["kind"] for e in timeline] == ["follow_up", "feedback", "complaint", "service_request"]
    assert desk.delete(f"{base}/contacts/{contact.json['id']}").status_code == 204
    assert am.get(f"{base}/contacts").json["total"] == 0


def test_concurrent_updates_of_one_client_each_win_or_get_409_never_a_500(pg, services, clock):
    from concurrent.futures import ThreadPoolExecutor

    app = make_app(pg, services)
    try:
        partner = caller(app.test_client(), "partner")
        url = f"/api/clients/{new_client(partner).json['id']}"

        def change(n):
            # One login, its token used by eight clients at once (eight logins at the same instant
            # from one address would be throttled: each counts as a failure until it succeeds).
            return Caller(app.test_client(), partner.token).patch(url, json={"notes": f"change {n}"}).status_code

        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(change, range(8)))
        assert set(statuses) <= {200, 409}
        assert partner.get(url).json["version"] == 1 + statuses.count(200)
    finally:
        app.extensions["atrium.db"].dispose()

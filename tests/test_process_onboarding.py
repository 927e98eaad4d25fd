"""Client onboarding through HTTP: an account manager describes the client, the conflict check
reports matches to a partner, who approves (client, contacts and engagement are created, a welcome
call follows two weeks later) or declines (the requester is told why)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.scheduler import fire_due_timers

from .api_helpers import caller, deploy_firm_processes
from .factories import make_account, make_client, start_instance

pytestmark = pytest.mark.app(firm=True)


@pytest.fixture
def people(people, client):
    make_account(people["admin"], "am_tax", roles=["account_manager"], groups=["tax"])
    deploy_firm_processes(people["admin"])
    return {**people, "am_tax": caller(client, "am_tax")}


def intake(**changes) -> dict:
    data = {
        "client_name": "Meridian Architects LLP",
        "kind": "organisation",
        "industry": "architecture",
        "tier": "B",
        "phones": ["+44 117 496 0000"],
        "emails": ["office@meridian.example"],
        "contacts": [
            {"name": "Ada Byron", "role": "Managing partner", "emails": ["ada@meridian.example"]},
            {"name": "Tom Reyes", "role": "Finance"},
        ],
        "engagement": {
            "service_type": "advisory",
            "description": "Partnership restructuring",
            "fee_basis": "fixed",
            "fee_amount": 4800,
            "adverse_parties": ["Castle Estates"],
        },
        "owner": "am_tax",
    }
    data.update(changes)
    return data


def start_onboarding(person) -> dict:
    return start_instance(person, "client_onboarding")


def submit_intake(person, instance: dict, data: dict):
    [task] = instance["open_tasks"]
    assert task["element_id"] == "intake"
    return person.post(f"/api/tasks/{task['id']}/complete", json={"data": data})


def review_task(partner, instance_id: str) -> dict:
    [task] = partner.get(f"/api/tasks?instance_id={instance_id}&candidate_user=me").json["items"]
    assert task["element_id"] == "review"
    return partner.get(f"/api/tasks/{task['id']}").json


def onboarded_to_review(people, data: dict | None = None) -> tuple[dict, dict]:
    instance = start_onboarding(people["account_manager"])
    done = submit_intake(people["account_manager"], instance, data or intake())
    assert done.status_code == 200, done.json
    return instance, review_task(people["partner"], instance["id"])


def test_the_intake_is_the_requesters_own_task(people):
    instance = start_onboarding(people["account_manager"])
    [task] = instance["open_tasks"]
    assert task["assignee"] == "account_manager" and task["candidate_groups"] == ["account_manager"]
    assert instance["variables"]["requester"] == "account_manager"
    detail = people["account_manager"].get(f"/api/tasks/{task['id']}").json
    assert detail["form"]["schema"]["title"] == "New client"
    # It is the requester's: a colleague in the same team neither sees it nor fills it in.
    assert people["am_tax"].post(f"/api/tasks/{task['id']}/complete", json={"data": intake()}).status_code == 404


def test_bad_intake_is_refused_with_422_naming_each_field(people):
    instance = start_onboarding(people["account_manager"])
    bad = intake(
        client_name=" ", emails=["not-an-email"], tier="Z", engagement={"service_type": "advisory", "fee_amount": -5}
    )
    refused = submit_intake(people["account_manager"], instance, bad)
    assert refused.status_code == 422 and refused.mimetype == "application/problem+json"
    assert {"data.client_name", "data.emails.0", "data.tier", "data.engagement.fee_amount"} <= set(
        refused.json["errors"]
    )
    smuggled = submit_intake(people["account_manager"], instance, intake(requester="partner"))
    assert smuggled.status_code == 422 and smuggled.json["errors"] == {
        "data.requester": ["not a field of this task's form"]
    }
    missing = submit_intake(people["account_manager"], instance, {"client_name": "Meridian"})
    assert missing.status_code == 422 and "data.engagement" in missing.json["errors"]


def test_partner_approves_onboarding_and_the_client_is_created_then_welcomed(people, app, clock):
    am, partner = people["account_manager"], people["partner"]
    instance, review = onboarded_to_review(people)
    assert review["data"]["conflicts"] == []
    assert review["data"]["client_name"] == "Meridian Architects LLP" and review["data"]["owner"] == "am_tax"
    assert review["candidate_groups"] == ["partner"] and review["priority"] == 70
    # Only partners decide: the requester does not even see the task, a manager may not complete it.
    assert am.post(f"/api/tasks/{review['id']}/complete", json={"data": {"decision": "approve"}}).status_code == 404
    assert (
        people["manager"]
        .post(f"/api/tasks/{review['id']}/complete", json={"data": {"decision": "approve"}})
        .status_code
        == 403
    )
    assert partner.post(f"/api/tasks/{review['id']}/complete", json={"data": {"decision": "maybe"}}).status_code == 422

    approved = partner.post(f"/api/tasks/{review['id']}/complete", json={"data": {"decision": "approve"}})
    assert approved.status_code == 200, approved.json

    [client] = partner.get("/api/clients?q=meridian").json["items"]
    assert (client["name"], client["owner"], client["status"], client["tier"], client["created_by"]) == (
        "Meridian Architects LLP",
        "am_tax",
        "active",
        "B",
        "account_manager",
    )
    assert client["phones"] == ["+44 117 496 0000"]
    # The process keeps the client's id, not its contact data: the record holds that, encrypted.
    variables = people["admin"].get(f"/api/process-instances/{instance['id']}").json["variables"]
    assert variables["onboarded"]["client_id"] == client["id"]
    assert (variables["phones"], variables["emails"], variables["contacts"]) == (None, None, None)
    assert "496 0000" not in str(variables) and "meridian.example" not in str(variables)
    contacts = partner.get(f"/api/clients/{client['id']}/contacts").json["items"]
    assert sorted((c["name"], c["role"]) for c in contacts) == [
        ("Ada Byron", "Managing partner"),
        ("Tom Reyes", "Finance"),
    ]
    [engagement] = partner.get(f"/api/clients/{client['id']}/engagements").json["items"]
    assert (
        engagement["service_type"],
        engagement["status"],
        engagement["fee_amount"],
        engagement["responsible"],
        engagement["adverse_parties"],
        engagement["instance_id"],
    ) == ("advisory", "proposed", "4800.00", "am_tax", ["Castle Estates"], instance["id"])
    # The instance now carries the client's business key: the timeline and the delete check find it.
    found = partner.get(f"/api/process-instances?business_key=client:{client['id']}").json["items"]
    assert sorted(i["process_key"] for i in found) == ["client_onboarding", "follow_up"]  # active: its cycle runs
    assert [i["id"] for i in found if i["process_key"] == "client_onboarding"] == [instance["id"]]
    timeline = partner.get(f"/api/clients/{client['id']}/timeline").json
    assert any(e["kind"] == "process_instance" and e["id"] == instance["id"] for e in timeline["items"])
    assert partner.delete(f"/api/clients/{client['id']}").status_code == 409

    told = am.get("/api/notifications?kind=outcome").json["items"]
    assert [n["subject"] for n in told] == ["Meridian Architects LLP is now a client"]
    assert "partner approved" in told[0]["body"] and told[0]["instance_id"] == instance["id"]
    assert told[0]["client_id"] == client["id"]  # the bell links to the new client
    assert (
        people["am_tax"].get("/api/notifications?kind=outcome").json["items"][0]["subject"]
        == "You own the new client Meridian Architects LLP"
    )

    # Two weeks later, not a minute before, the owner is due a welcome call (people log in again:
    # their tokens expired meanwhile).
    engine = app.extensions["atrium.engine"]
    follow_ups = f"/api/clients/{client['id']}/follow-ups"
    clock.advance(days=14, minutes=-1)
    assert fire_due_timers(engine) == 0
    partner, owner = caller(app.test_client(), "partner"), caller(app.test_client(), "am_tax")
    assert partner.get(follow_ups).json["total"] == 0
    clock.advance(minutes=1)
    assert fire_due_timers(engine) == 1
    [planned] = partner.get(follow_ups).json["items"]
    assert planned["done_at"] is None and planned["channel"] == "call" and planned["instance_id"] == instance["id"]
    [call] = owner.get("/api/tasks?assignee=me").json["items"]
    assert call["element_id"] == "welcome_call" and call["due"].startswith(
        str((clock.now() + timedelta(days=3)).date())
    )
    assert owner.post(f"/api/tasks/{call['id']}/complete", json={"data": {"outcome": "great"}}).json["errors"] == {
        "data.outcome": ["'great' is not one of ['ok', 'needs_action', 'no_contact']"]
    }
    report = {
        "channel": "video",
        "content": "Happy so far; wants a tax review",
        "outcome": "needs_action",
        "next_step": "Propose a tax review",
    }
    assert owner.post(f"/api/tasks/{call['id']}/complete", json={"data": report}).status_code == 200
    [done] = partner.get(follow_ups).json["items"]
    assert (done["done_by"], done["outcome"], done["channel"], done["next_step"]) == (
        "am_tax",
        "needs_action",
        "video",
        "Propose a tax review",
    )
    assert partner.get(f"/api/process-instances/{instance['id']}").json["status"] == "completed"
    # The welcome call's follow-up is audited as its owner's report, its notes only as "changed".
    admin = caller(app.test_client(), "admin")
    [reported] = admin.get("/api/audit?action=follow_up.update").json["items"]
    assert (reported["actor"], reported["target"]) == ("am_tax", f"client:{client['id']}/follow-ups/{done['id']}")
    assert reported["detail"]["changes"]["outcome"] == [None, "needs_action"]
    assert reported["detail"]["changes"]["content"] == "changed"


def test_partner_declines_with_a_reason_and_the_requester_is_told(people):
    instance, review = onboarded_to_review(people)
    partner = people["partner"]
    no_reason = partner.post(f"/api/tasks/{review['id']}/complete", json={"data": {"decision": "reject"}})
    assert no_reason.status_code == 422 and "data.reason" in no_reason.json["errors"]
    blank = partner.post(f"/api/tasks/{review['id']}/complete", json={"data": {"decision": "reject", "reason": "  "}})
    assert blank.status_code == 422 and "data.reason" in blank.json["errors"]
    declined = partner.post(
        f"/api/tasks/{review['id']}/complete",
        json={"data": {"decision": "reject", "reason": "We act for Castle Estates"}},
    )
    assert declined.status_code == 200
    final = partner.get(f"/api/process-instances/{instance['id']}").json
    assert final["status"] == "completed" and final["current_activities"] == []
    assert partner.get("/api/clients?q=meridian").json["total"] == 0
    assert "meridian.example" not in str(people["admin"].get(f"/api/process-instances/{instance['id']}").json)
    [note] = people["account_manager"].get("/api/notifications?kind=outcome").json["items"]
    assert note["subject"] == "Onboarding of Meridian Architects LLP declined"
    assert note["body"] == "partner declined onboarding Meridian Architects LLP: We act for Castle Estates"
    assert people["am_tax"].get("/api/notifications?kind=outcome").json["total"] == 0


def _existing(partner, name: str, **fields) -> dict:
    return make_client(
        partner, minimal=True, **{"name": name, "owner": "account_manager", "status": "active", **fields}
    )


def test_conflict_findings_are_shown_to_the_partner_who_may_still_approve(people):
    partner = people["partner"]
    acme = _existing(partner, "ACME", phones=["+1 555 0100"], status="dormant")
    harbour = _existing(partner, "Harbour Logistics Ltd")
    partner.post(f"/api/clients/{harbour['id']}/contacts", json={"name": "Jane  Smith", "role": "CFO"})
    northwind = _existing(partner, "Northwind Traders")
    against = partner.post(
        f"/api/clients/{northwind['id']}/engagements",
        json={"service_type": "litigation", "status": "active", "adverse_parties": ["Acme Holdings plc"]},
    ).json
    globex = _existing(partner, "Globex Corp")
    # Not conflicts: other words, a closed engagement, a deleted client.
    _existing(partner, "Acmeville Ltd")
    _existing(partner, "Smart Holdings")
    _existing(partner, "Murray Holtby", kind="person")
    closed = _existing(partner, "Initech")
    partner.post(
        f"/api/clients/{closed['id']}/engagements",
        json={"service_type": "audit", "status": "completed", "adverse_parties": ["Acme Holdings"]},
    )
    gone = _existing(partner, "Acme Holdings Group")
    assert partner.delete(f"/api/clients/{gone['id']}").status_code == 204

    data = intake(
        client_name="Acme Holdings",
        phones=["+1 555 0100"],
        contacts=[{"name": "jane smith"}],
        engagement={"service_type": "litigation", "adverse_parties": ["Globex Corporation", "Ray Holt"]},
    )
    instance, review = onboarded_to_review(people, data)
    found = {(f["kind"], f["client_id"]) for f in review["data"]["conflicts"]}
    assert found == {
        ("client", acme["id"]),
        ("contact", harbour["id"]),
        ("adverse_party", northwind["id"]),
        ("adverse_party_is_client", globex["id"]),
    }
    by_kind = {f["kind"]: f for f in review["data"]["conflicts"]}
    assert by_kind["adverse_party"]["engagement_id"] == against["id"]
    assert by_kind["adverse_party"]["detail"] == (
        "'Acme Holdings plc' is an adverse party in the active litigation engagement of client 'Northwind Traders'"
    )
    assert by_kind["contact"]["contact_name"] == "Jane  Smith"

    # The findings are shown, not editable: a submission cannot wipe them.
    approved = partner.post(
        f"/api/tasks/{review['id']}/complete",
        json={"data": {"decision": "approve", "conflicts": [], "owner": "account_manager"}},
    )
    assert approved.status_code == 200, approved.json
    variables = partner.get(f"/api/process-instances/{instance['id']}").json["variables"]
    assert len(variables["conflicts"]) == 4
    # The partner saw the likely duplicate (same phone as ACME) and approved: the client exists.
    [created] = partner.get("/api/clients?q=acme holdings").json["items"]
    assert created["owner"] == "account_manager" and created["id"] == variables["onboarded"]["client_id"]


def test_the_proposed_owner_must_be_an_active_account_manager(people):
    """The owner fields are pickers of account managers: anyone else is a 422 on the field, at intake
    and at review, and the task stays open."""
    am = people["account_manager"]
    started = am.post("/api/process-instances", json={"process_key": "client_onboarding"}).json
    [task] = started["open_tasks"]
    for owner in ("nobody", "partner"):  # no account; an account, but not an account manager
        refused = am.post(f"/api/tasks/{task['id']}/complete", json={"data": intake(owner=owner)})
        assert refused.status_code == 422 and set(refused.json["errors"]) == {"data.owner"}, refused.json
    _, review = onboarded_to_review(people, intake(owner="account_manager"))
    refused = people["partner"].post(
        f"/api/tasks/{review['id']}/complete", json={"data": {"decision": "approve", "owner": "viewer"}}
    )
    assert refused.status_code == 422 and set(refused.json["errors"]) == {"data.owner"}


def test_names_match_as_whole_words_and_unspaced_scripts_as_substrings():
    from storage.clients import name_key
    from storage.conflicts import keys_match

    def match(a, b):
        return keys_match(name_key(a), name_key(b))

    assert match("Acme Holdings plc", "ACME") and match("Harbour Logistics, Ltd.", "harbour logistics group")
    assert not match("Smart Art", "Art Partners Smartly") and not match("Ray Holt", "Murray Holtby")
    assert match("华为技术有限公司", "华为") and not match("华", "华为")
    assert not match("", "Acme") and not match("Ltd", "Acme Ltd")


def test_the_intakes_contact_data_is_masked_for_readers_who_see_it_masked(people):
    """Masking by role (issue 13): a viewer reading the onboarding's variables or its review task sees the
    phones and emails masked; the partner sees them in full."""
    instance, review = onboarded_to_review(people)
    viewer = people["viewer"]
    variables = viewer.get(f"/api/process-instances/{instance['id']}").json["variables"]
    task = viewer.get(f"/api/tasks/{review['id']}").json["data"]
    for data in (variables, task):
        text = str(data)
        assert "+44 117 496 0000" not in text and "office@meridian.example" not in text, data
        assert "ada@meridian.example" not in text
    assert variables["phones"] == ["441****0000"] and variables["emails"] == ["o***@meridian.example"]
    assert variables["contacts"][0]["emails"] == ["a***@meridian.example"]
    assert variables["client_name"] == "Meridian Architects LLP"  # the rest is shown as before
    full = people["partner"].get(f"/api/process-instances/{instance['id']}").json["variables"]
    assert full["phones"] == ["+44 117 496 0000"] and full["contacts"][0]["emails"] == ["ada@meridian.example"]

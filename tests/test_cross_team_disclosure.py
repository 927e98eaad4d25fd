"""An account manager learns nothing of another team's clients through side doors: the duplicate 409,
import warnings, the approval check, the onboarding conflict findings, the instance list, an instance's
detail and history, or a `client:N` business key. People who may see those clients (partners, the
owner's team) still get everything."""

from __future__ import annotations

import io
import json

import pytest

from atrium.client_import import Table, client_rows, import_clients

from .api_helpers import client_body, deploy_firm_processes, deploy_via_api, people_in_two_teams
from .factories import make_client

# account_manager and am_tax are the "tax" team; am_audit is alone in "audit".


pytestmark = pytest.mark.app(firm=True)


@pytest.fixture
def people(app):
    people = people_in_two_teams(app)
    deploy_firm_processes(people["admin"])
    return people


@pytest.fixture
def tax_client(people) -> dict:
    """A client of the tax team, with a contact and an engagement against Castle Estates."""
    partner = people["partner"]
    client = make_client(partner, name="Harbour Logistics Ltd", owner="account_manager", status="dormant")
    assert (
        partner.post(f"/api/clients/{client['id']}/contacts", json={"name": "Jane Smith", "role": "CFO"}).status_code
        == 201
    )
    assert (
        partner.post(
            f"/api/clients/{client['id']}/engagements",
            json={"service_type": "litigation", "status": "active", "adverse_parties": ["Castle Estates"]},
        ).status_code
        == 201
    )
    return client


def never_names(body, client: dict) -> None:
    """Nothing in `body` names `client`: not its id, name, owner or status, nor its contact (as written:
    a requester's own words may match it) or the service of its engagement."""
    text = json.dumps(body)
    for secret in (
        client["name"],
        client["owner"],
        client["status"],
        "Jane Smith",
        "litigation",
        f'"client_id": {client["id"]}',
        f'"id": {client["id"]}',
    ):
        assert secret not in text, secret


# The duplicate 409 ---------------------------------------------------------------------------------


def test_a_duplicate_of_another_teams_client_is_counted_not_named(people, tax_client):
    same_phone = client_body(name="HL Group", emails=[], phones=["020 7946 0000"])
    refused = people["am_audit"].post("/api/clients", json=same_phone)
    assert refused.status_code == 409
    assert refused.json["candidates"] == []
    assert refused.json["withheld"]["count"] == 1 and refused.json["withheld"]["resolved_by"] == "partner"
    assert "partner" in refused.json["detail"]
    never_names(refused.json, tax_client)
    # Knowing one may not see it, the account manager can still go ahead.
    confirmed = people["am_audit"].post("/api/clients", json={**same_phone, "confirm_duplicate": True})
    assert confirmed.status_code == 201


def test_the_owners_team_and_partners_still_see_the_duplicates_in_full(people, tax_client):
    expected = [
        {
            "id": tax_client["id"],
            "name": "Harbour Logistics Ltd",
            "owner": "account_manager",
            "status": "dormant",
            "matched_on": ["phone"],
        }
    ]
    for who in ("am_tax", "partner"):
        refused = people[who].post(
            "/api/clients", json=client_body(name="HL Group", emails=[], phones=["020 7946 0000"])
        )
        assert refused.status_code == 409
        assert refused.json["candidates"] == expected and "withheld" not in refused.json, who


def test_own_teams_duplicates_are_named_and_other_teams_only_counted(people, tax_client):
    own = people["am_audit"].post(
        "/api/clients",
        json=client_body(name="Harbour Holdings", phones=[], emails=["info@harbour.example"], confirm_duplicate=True),
    )
    assert own.status_code == 201, own.json
    refused = people["am_audit"].post("/api/clients", json=client_body(name="Harbour Logistics"))
    assert refused.status_code == 409
    assert [(c["id"], c["matched_on"]) for c in refused.json["candidates"]] == [(own.json["id"], ["email"])]
    assert refused.json["withheld"]["count"] == 1
    never_names(refused.json, tax_client)


# Import warnings and problems ----------------------------------------------------------------------


def test_import_names_only_duplicates_the_importer_may_see(app, people, tax_client):
    """Importing is for roles that see every client today; the report is cut down all the same for
    anyone who does not, so a future role cannot read other teams' clients from it."""
    table = Table(["Name", "Phones"], [(2, ["HL Group", "020 7946 0000"])])
    mapping = {"Name": "name", "Phones": "phones"}
    engine = app.extensions["atrium.engine"]
    with engine.transaction() as session:
        rows = client_rows(session, table, mapping)
        report = import_clients(
            session,
            engine,
            rows,
            load=lambda data: (data, {}),
            actor="am_audit",
            dry_run=True,
            default_owner="am_audit",
            owners={"am_audit"},
        ).as_dict()
        [problem] = report["problems"]
        assert problem["duplicate_of"]["withheld"]["count"] == 1 and "partner" in problem["message"]
        never_names(report, tax_client)
        confirmed = import_clients(
            session,
            engine,
            client_rows(session, table, mapping),
            load=lambda data: (data, {}),
            actor="am_audit",
            dry_run=True,
            confirm_duplicates=True,
            default_owner="am_audit",
            owners={"am_audit"},
        ).as_dict()
        never_names(confirmed["warnings"], tax_client)
        session.rollback()
    # A partner's import names it.
    upload = {
        "file": (io.BytesIO(b"Name,Phones\nHL Group,020 7946 0000\n"), "clients.csv"),
        "mapping": json.dumps(mapping),
        "dry_run": "true",
    }
    shown = people["partner"].post("/api/clients/import", data=upload, content_type="multipart/form-data")
    assert shown.status_code == 200, shown.json
    assert shown.json["problems"][0]["duplicate_of"]["client_id"] == tax_client["id"]


# The approval check --------------------------------------------------------------------------------


def _approval_about(person, client_id: int) -> dict:
    started = person.post("/api/process-instances", json={"process_key": "approval"})
    assert started.status_code == 201, started.json
    [submit] = started.json["open_tasks"]
    data = {"kind": "fee", "amount": 2500, "justification": "Extra site visits", "client_id": client_id}
    done = person.post(f"/api/tasks/{submit['id']}/complete", json={"data": data})
    assert done.status_code == 200, done.json
    return person.get(f"/api/process-instances/{started.json['id']}").json


def test_an_approval_about_another_teams_client_is_refused_as_an_unknown_one(people, tax_client):
    am = people["am_audit"]
    started = am.post("/api/process-instances", json={"process_key": "approval"}).json
    [submit] = started["open_tasks"]
    answers = []
    for client_id in (tax_client["id"], 999_999):
        data = {"kind": "fee", "amount": 2500, "justification": "Extra site visits", "client_id": client_id}
        refused = am.post(f"/api/tasks/{submit['id']}/complete", json={"data": data})
        assert refused.status_code == 422, refused.json
        answers.append(refused.json["errors"])
    # The same words for another team's client as for one that does not exist.
    assert answers[0] == answers[1] == {"data.client_id": ["no such client"]}
    assert "Harbour" not in json.dumps(answers)
    assert am.get(f"/api/process-instances/{started['id']}").json["current_activities"] == ["submit"]


def test_the_approval_check_names_the_client_for_its_own_team(people, tax_client):
    mine = _approval_about(people["am_tax"], tax_client["id"])
    assert mine["current_activities"] == ["decide"] and mine["business_key"] == f"client:{tax_client['id']}"
    assert mine["variables"]["request_check"] == {"problem": None, "client_name": "Harbour Logistics Ltd"}


# Onboarding conflict findings ----------------------------------------------------------------------


def _onboarding(person, client_name: str) -> dict:
    started = person.post("/api/process-instances", json={"process_key": "client_onboarding"})
    assert started.status_code == 201, started.json
    [intake] = started.json["open_tasks"]
    data = {
        "client_name": client_name,
        "kind": "organisation",
        "contacts": [{"name": "jane smith"}],
        "engagement": {"service_type": "advisory", "adverse_parties": ["Harbour Logistics"]},
    }
    done = person.post(f"/api/tasks/{intake['id']}/complete", json={"data": data})
    assert done.status_code == 200, done.json
    return started.json


def _review(partner, instance_id: str) -> dict:
    [task] = partner.get(f"/api/tasks?instance_id={instance_id}&candidate_user=me").json["items"]
    return partner.get(f"/api/tasks/{task['id']}").json


def test_onboarding_findings_about_another_team_are_withheld_from_the_requester(people, tax_client):
    am = people["am_audit"]
    instance = _onboarding(am, "Castle Estates")
    variables = am.get(f"/api/process-instances/{instance['id']}").json["variables"]
    assert variables["requester"] == "am_audit"  # the requester still reads their own request
    [summary] = variables["conflicts"]
    assert summary["kind"] == "withheld" and summary["count"] == 3 and summary["resolved_by"] == "partner"
    never_names(variables, tax_client)

    # The partner who reviews it sees every finding in full, in the task and in the instance.
    review = _review(people["partner"], instance["id"])
    kinds = sorted(f["kind"] for f in review["data"]["conflicts"])
    assert kinds == ["adverse_party", "adverse_party_is_client", "contact"]
    assert all(f["client_id"] == tax_client["id"] for f in review["data"]["conflicts"])
    full = people["partner"].get(f"/api/process-instances/{instance['id']}").json["variables"]["conflicts"]
    assert full == review["data"]["conflicts"]


def test_the_owners_team_sees_its_own_findings_in_full_and_others_counted(people, tax_client):
    audit_client = (
        people["am_audit"]
        .post("/api/clients", json=client_body(name="Castle Estates Group", phones=[], emails=[]))
        .json
    )
    instance = _onboarding(people["am_tax"], "Castle Estates")
    conflicts = people["am_tax"].get(f"/api/process-instances/{instance['id']}").json["variables"]["conflicts"]
    shown = [f for f in conflicts if f["kind"] != "withheld"]
    assert sorted(f["kind"] for f in shown) == ["adverse_party", "adverse_party_is_client", "contact"]
    assert {f["client_name"] for f in shown} == {"Harbour Logistics Ltd"}
    assert conflicts[-1]["kind"] == "withheld" and conflicts[-1]["count"] == 1
    assert "Castle Estates Group" not in json.dumps(conflicts) and str(audit_client["id"]) not in json.dumps(
        [f.get("client_id") for f in conflicts]
    )


# Instances: the list, the detail, the history, the business key -----------------------------------


def test_instances_are_listed_and_shown_only_to_those_who_may_see_them(people, tax_client):
    about_tax = _approval_about(people["account_manager"], tax_client["id"])  # business key client:N
    private = people["account_manager"].post("/api/process-instances", json={"process_key": "approval"}).json
    own = people["am_audit"].post("/api/process-instances", json={"process_key": "approval"}).json
    # Its intake is offered to every account manager (the lane), but only its requester works on it.
    onboarding = people["account_manager"].post("/api/process-instances", json={"process_key": "client_onboarding"})
    assert people["am_audit"].get(f"/api/process-instances/{onboarding.json['id']}").status_code == 404
    assert people["account_manager"].get(f"/api/process-instances/{onboarding.json['id']}").status_code == 200

    def listed(who):
        page = people[who].get("/api/process-instances?process_key=approval").json
        assert page["total"] == len(page["items"])
        return {i["id"] for i in page["items"]}

    assert listed("am_audit") == {own["id"]}
    assert listed("am_tax") == {about_tax["id"]}  # about a client of the team; not a colleague's private one
    assert listed("account_manager") == {about_tax["id"], private["id"]}
    assert listed("partner") == listed("viewer") == {about_tax["id"], private["id"], own["id"]}
    assert people["am_audit"].get(f"/api/process-instances?business_key=client:{tax_client['id']}").json["total"] == 0

    for url in (f"/api/process-instances/{about_tax['id']}", f"/api/process-instances/{about_tax['id']}/history"):
        hidden = people["am_audit"].get(url)
        missing = people["am_audit"].get(url.replace(about_tax["id"], "00000000-0000-4000-8000-000000000000"))
        assert hidden.status_code == missing.status_code == 404
        assert people["am_tax"].get(url).status_code == 200
        assert people["partner"].get(url).status_code == 200
    # Seeing an instance about a team client is not seeing its variables: only its people do.
    assert people["am_tax"].get(f"/api/process-instances/{about_tax['id']}").json["variables"] is None


def test_a_client_business_key_must_name_a_client_the_starter_may_see(people, tax_client):
    def start(who, key):
        return people[who].post("/api/process-instances", json={"process_key": "approval", "business_key": key})

    other, unknown = start("am_audit", f"client:{tax_client['id']}"), start("am_audit", "client:999999")
    assert other.status_code == unknown.status_code == 422
    assert other.json["errors"] == unknown.json["errors"] == {"business_key": ["no such client"]}
    assert other.json["detail"].replace(str(tax_client["id"]), "N") == unknown.json["detail"].replace("999999", "N")
    assert start("am_audit", "client:abc").status_code == 422
    assert start("am_tax", f"client:{tax_client['id']}").status_code == 201
    assert start("partner", f"client:{tax_client['id']}").status_code == 201
    assert start("am_audit", "order:42").status_code == 201  # other keys are free text


def test_a_message_keyed_to_another_teams_client_is_refused_like_an_unknown_one(people, tax_client):
    def send(who, key):
        return people[who].post(
            "/api/messages", json={"name": "client_documents_received", "correlation_keys": {"business_key": key}}
        )

    other, unknown = send("am_audit", f"client:{tax_client['id']}"), send("am_audit", "client:999999")
    assert other.status_code == unknown.status_code == 422
    assert other.json["errors"] == unknown.json["errors"] == {"correlation_keys.business_key": ["no such client"]}
    # Its own team gets past the check (and is told nothing waits for such a message).
    assert send("am_tax", f"client:{tax_client['id']}").status_code == 404


def test_a_task_claimed_by_someone_in_the_lane_is_no_longer_shown_to_the_rest_of_it(people):
    """A lane offers an onboarding's tasks to every account manager; once the requester holds the intake
    (and later the welcome call), another team's account manager neither lists nor opens it."""
    started = people["account_manager"].post("/api/process-instances", json={"process_key": "client_onboarding"})
    assert started.status_code == 201, started.json
    [intake] = started.json["open_tasks"]
    assert intake["assignee"] == "account_manager" and "account_manager" in intake["candidate_groups"]
    outsider = people["am_audit"]
    assert outsider.get(f"/api/tasks/{intake['id']}").status_code == 404
    assert intake["id"] not in [t["id"] for t in outsider.get("/api/tasks?page_size=200").json["items"]]
    # A candidate who tries to claim it is told it is taken, not that it does not exist.
    taken = outsider.post(f"/api/tasks/{intake['id']}/claim")
    assert taken.status_code == 409 and "already claimed" in taken.json["detail"]
    assert people["account_manager"].get(f"/api/tasks/{intake['id']}").status_code == 200


def test_a_message_neither_reaches_nor_probes_another_teams_instances(people, tax_client):
    """Found in review: correlating by a variable answered 404 or 422 depending on whether another
    team's instance held that value, and with no keys a message moved their instance on."""
    admin, am_tax, am_audit = people["admin"], people["am_tax"], people["am_audit"]
    assert deploy_via_api(admin, "messages.bpmn").status_code == 201
    started = am_tax.post(
        "/api/process-instances",
        json={
            "process_key": "order_flow",
            "business_key": f"client:{tax_client['id']}",
            "variables": {"order_ref": "SECRET-1"},
        },
    )
    assert started.status_code == 201, started.json

    def send(who, keys, payload):
        return people[who].post(
            "/api/messages", json={"name": "payment_received", "correlation_keys": keys, "payload": payload}
        )

    right, wrong = (
        send("am_audit", {"order_ref": "SECRET-1"}, {"manager": "x"}),
        send("am_audit", {"order_ref": "WRONG"}, {"manager": "x"}),
    )
    assert right.status_code == wrong.status_code == 422 and right.json["errors"] == wrong.json["errors"]
    assert send("am_audit", {}, {"note": "from audit"}).status_code == 404
    assert send("am_audit", {"order_ref": "SECRET-1"}, {"note": "from audit"}).status_code == 404
    instance = am_tax.get(f"/api/process-instances/{started.json['id']}").json
    assert instance["current_activities"] == ["await_payment"] and "note" not in instance["variables"]
    # Its own team reaches it.
    reached = send("am_tax", {"order_ref": "SECRET-1"}, {"note": "paid"})
    assert reached.status_code == 200 and [d["instance_id"] for d in reached.json["reached"]] == [started.json["id"]]
    assert am_audit.get(f"/api/process-instances/{started.json['id']}").status_code == 404

"""Pickers for form fields naming a person (`format: atrium-user`) or a client (`format: atrium-client`):
`GET /api/choices/users` and `/clients` list whom the caller may pick, and a submission naming anyone else
(an unknown or deactivated account, one without the field's role, a client the caller may not see) is a
422 on that field."""

from __future__ import annotations

import pytest

from .api_helpers import deploy_firm_processes, password_for, people_in_two_teams
from .factories import make_account, make_client
from .process_helpers import complete, open_task


@pytest.fixture
def people(firm_app):
    people = people_in_two_teams(firm_app)
    admin = people["admin"]
    for username, name, roles in (
        ("sam", "Sam Lee", ["service_desk"]),
        ("wang", "王小明", ["service_desk"]),
        ("gone", "Gone Away", ["service_desk"]),
    ):
        make_account(admin, username, roles=roles, display_name=name)
    assert admin.post("/api/accounts/gone/deactivate").status_code == 200
    deploy_firm_processes(admin)
    return people


@pytest.fixture
def clients(people) -> dict:
    """A client of the tax team (account_manager, am_tax) and one of the audit team (am_audit)."""
    partner = people["partner"]
    return {
        "tax": make_client(
            partner,
            name="广州明德会计师集团有限公司",
            owner="account_manager",
            phones=["+86 20 8888 1234"],
            emails=["info@mingde.cn"],
        ),
        "audit": make_client(
            partner,
            name="Castle Estates plc",
            owner="am_audit",
            phones=["+44 117 496 0000"],
            emails=["office@castle.example"],
        ),
    }


def users(person, query: str = "") -> list[str]:
    got = person.get(f"/api/choices/users{query}")
    assert got.status_code == 200, got.json
    return [c["value"] for c in got.json["items"]]


def clients_found(person, q: str = "") -> list[dict]:
    got = person.get("/api/choices/clients", query_string={"q": q} if q else {})
    assert got.status_code == 200, got.json
    return got.json["items"]


def test_user_choices_are_active_accounts_found_by_name_or_username_and_narrowed_by_role(people):
    desk = people["service_desk"]
    assert desk.get("/api/choices/users?q=SAM").json == {"items": [{"value": "sam", "label": "Sam Lee (sam)"}]}
    assert users(desk, "?q=小明") == ["wang"]
    assert users(desk, "?role=service_desk") == ["sam", "service_desk", "wang"]  # not the deactivated "gone"
    assert "gone" not in users(desk, "?q=gone")
    assert users(desk, "?role=tax") == ["account_manager", "am_tax"]  # a group works as a role does
    # Wildcards are taken literally.
    assert users(desk, "?q=%25") == []
    assert users(desk, "?q=_") == ["account_manager", "am_audit", "am_tax", "service_desk"]
    assert len(users(desk)) == 10  # six role accounts, two account managers, sam and wang


def test_at_most_twenty_people_are_offered(people):
    admin = people["admin"]
    for n in range(25):
        assert (
            admin.post(
                "/api/accounts",
                json={"username": f"desk{n:02}", "roles": ["service_desk"], "password": password_for("desk")},
            ).status_code
            == 201
        )
    assert len(users(people["service_desk"], "?q=desk")) == 20


def test_an_account_manager_is_offered_only_their_teams_clients(people, clients):
    tax, audit = clients["tax"], clients["audit"]
    for who in ("account_manager", "am_tax"):
        assert clients_found(people[who]) == [{"value": tax["id"], "label": tax["name"]}]
    assert clients_found(people["am_audit"]) == [{"value": audit["id"], "label": audit["name"]}]
    assert clients_found(people["am_audit"], "明德") == [] and clients_found(people["am_audit"], "8888") == []
    # Chinese name fragments, phone digits and an email domain, as the client list searches (emails are
    # stored encrypted: found by whole address or domain, not by fragment).
    for q in ("明德", "会计", "8888 12", "mingde.cn"):
        assert [c["value"] for c in clients_found(people["account_manager"], q)] == [tax["id"]], q
    partner_sees = [c["label"] for c in clients_found(people["partner"])]
    assert partner_sees == sorted(partner_sees) and len(partner_sees) == 2


def test_only_staff_who_work_tasks_or_start_processes_get_choices(people, firm_app):
    client = firm_app.test_client()
    for path in ("/api/choices/users", "/api/choices/clients"):
        assert client.get(path).status_code == 401
        assert people["viewer"].get(path).status_code == 403
    assert people["service_desk"].get("/api/choices/users?q=" + "x" * 101).status_code == 422


def _assign_task(people, clients) -> dict:
    desk = people["service_desk"]
    made = desk.post(
        f"/api/clients/{clients['tax']['id']}/service-requests",
        json={"title": "VAT return", "content": "A question about last quarter's VAT return"},
    )
    assert made.status_code == 201, made.json
    triage = open_task(desk, made.json["instance_id"], "triage")
    assert complete(desk, triage, decision="accept", type="tax", priority="high").status_code == 200
    return open_task(desk, made.json["instance_id"], "assign")


def test_assigning_a_service_request_refuses_anyone_the_picker_would_not_offer(people, clients):
    desk = people["service_desk"]
    task = _assign_task(people, clients)
    offered = users(desk, "?role=" + task["form"]["schema"]["properties"]["assignee"]["x-atrium-role"])
    for nobody, why in (
        ("ghost", "no active account with this username"),
        ("gone", "no active account with this username"),  # deactivated
        ("am_tax", "not someone with the role or group service_desk"),
    ):
        assert nobody not in offered
        refused = complete(desk, task, assignee=nobody)
        assert refused.status_code == 422 and refused.json["errors"] == {"data.assignee": [why]}, refused.json
    assert complete(desk, task, assignee="wang").status_code == 200


def test_an_approval_naming_a_client_the_requester_may_not_see_is_refused(people, clients):
    am = people["am_audit"]
    started = am.post("/api/process-instances", json={"process_key": "approval"}).json
    [submit] = started["open_tasks"]
    data = {"kind": "fee", "amount": 2500, "justification": "Extra site visits"}
    for client_id in (clients["tax"]["id"], 999_999, "1; drop table clients"):
        refused = complete(am, submit, **data, client_id=client_id)
        assert refused.status_code == 422 and set(refused.json["errors"]) == {"data.client_id"}, refused.json
    assert clients["tax"]["id"] not in [c["value"] for c in clients_found(am)]
    assert complete(am, submit, **data, client_id=clients["audit"]["id"]).status_code == 200

"""Approval of fees, discounts and write-offs through HTTP: the decision table sends small amounts to a
manager and large ones to a partner; the approver approves, rejects with a reason or sends the request
back for rework; the requester is told the outcome."""

from __future__ import annotations

import pytest

from .api_helpers import deploy_firm_processes, events_of
from .factories import start_instance

pytestmark = pytest.mark.app(firm=True)


@pytest.fixture
def people(people):
    deploy_firm_processes(people["admin"])
    return people


def request(**changes) -> dict:
    data = {"kind": "fee", "amount": 2500, "justification": "Two extra site visits agreed with the client"}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def start_approval(person, username: str = "account_manager") -> dict:
    """Start an approval as `person`; its first task, the request form, is theirs."""
    started = start_instance(person, "approval")
    [submit] = started["open_tasks"]
    assert (submit["element_id"], submit["assignee"]) == ("submit", username)
    return started


def submitted(person, data: dict) -> dict:
    instance = start_approval(person)
    done = person.post(f"/api/tasks/{instance['open_tasks'][0]['id']}/complete", json={"data": data})
    assert done.status_code == 200, done.json
    return instance


def open_task(person, instance_id: str) -> dict:
    [task] = person.get(f"/api/process-instances/{instance_id}").json["open_tasks"]
    return task


def decide(person, task_id: str, **data):
    return person.post(f"/api/tasks/{task_id}/complete", json={"data": data})


@pytest.mark.parametrize(
    "kind, amount, approver",
    [
        ("fee", 9999.99, "manager"),
        ("fee", 10000, "partner"),
        ("discount", 1999, "manager"),
        ("discount", 2000, "partner"),
        ("write_off", 499, "manager"),
        ("write_off", 500, "partner"),
    ],
)
def test_the_decision_table_routes_by_kind_and_amount(people, kind, amount, approver):
    instance = submitted(people["account_manager"], request(kind=kind, amount=amount))
    task = open_task(people["viewer"], instance["id"])
    assert (task["element_id"], task["candidate_groups"]) == ("decide", [approver])
    inbox = people[approver].get("/api/tasks?candidate_user=me").json["items"]
    assert [t["id"] for t in inbox] == [task["id"]]


def test_manager_approves_a_small_fee_and_the_requester_is_told(people):
    am, manager = people["account_manager"], people["manager"]
    instance = submitted(am, request())
    task = open_task(manager, instance["id"])
    shown = manager.get(f"/api/tasks/{task['id']}").json["data"]
    assert shown == {
        "kind": "fee",
        "amount": 2500,
        "justification": "Two extra site visits agreed with the client",
        "requester": "account_manager",
        "approver_group": "manager",
        "request_check": {"problem": None, "client_name": None},
    }
    # A partner sees every task but this one is not offered to partners; the requester cannot see it.
    assert decide(people["partner"], task["id"], decision="approve").status_code == 403
    assert decide(am, task["id"], decision="approve").status_code == 404
    assert decide(manager, task["id"], decision="approve").status_code == 200
    final = manager.get(f"/api/process-instances/{instance['id']}").json
    assert final["status"] == "completed" and final["variables"]["outcome_notice"] == {
        "notified": "account_manager",
        "outcome": "approved",
    }
    [note] = am.get("/api/notifications?kind=outcome").json["items"]
    assert (note["kind"], note["subject"], note["body"]) == (
        "outcome",
        "Your fee of 2,500.00 was approved",
        "manager approved your fee of 2,500.00.",
    )
    [bell] = am.get("/api/me/notifications").json["items"]
    assert bell["link"] == {"kind": "instance", "id": instance["id"]}
    assert manager.get("/api/notifications?kind=outcome").json["total"] == 0
    # Without a client, the decision is its instance's event; the justification stays out (issue 15).
    [decided] = events_of(manager.client.application, "instance", instance["id"])
    assert (decided["type"], decided["aggregate"]["sequence"], decided["actor"]) == ("approval.decided", 1, "manager")
    assert decided["data"] == {
        "instance_id": instance["id"],
        "kind": "fee",
        "amount": "2500.00",
        "client_id": None,
        "decision": "approved",
        "decided_by": "manager",
    }


def test_a_rejection_needs_a_reason_which_the_requester_is_told(people):
    am, partner = people["account_manager"], people["partner"]
    instance = submitted(am, request(kind="discount", amount=5000))
    task = open_task(partner, instance["id"])
    no_reason = decide(partner, task["id"], decision="reject")
    assert no_reason.status_code == 422 and no_reason.mimetype == "application/problem+json"
    assert no_reason.json["errors"] == {"data.reason": ["'reason' is a required property"]}
    assert "data.reason" in decide(partner, task["id"], decision="reject", reason=" ").json["errors"]
    assert "data.decision" in decide(partner, task["id"], decision="later").json["errors"]
    assert decide(partner, task["id"], decision="reject", reason="Margin already below target").status_code == 200
    [note] = am.get("/api/notifications?kind=outcome").json["items"]
    assert note["subject"] == "Your discount of 5,000.00 was rejected"
    assert note["body"] == "partner rejected your discount of 5,000.00: Margin already below target"
    history = people["viewer"].get(f"/api/process-instances/{instance['id']}/history?page_size=200").json["items"]
    assert "end_rejected" in {h["element_id"] for h in history}


def test_sent_back_for_rework_the_request_returns_to_its_requester_and_is_routed_again(people):
    am, manager, partner = people["account_manager"], people["manager"], people["partner"]
    instance = submitted(am, request(amount=8000))
    first = open_task(manager, instance["id"])
    assert decide(manager, first["id"], decision="rework").json["errors"] == {
        "data.reason": ["'reason' is a required property"]
    }
    assert decide(manager, first["id"], decision="rework", reason="Include the travel costs").status_code == 200

    rework = open_task(am, instance["id"])
    assert (rework["element_id"], rework["assignee"]) == ("rework", "account_manager")
    form = am.get(f"/api/tasks/{rework['id']}").json
    assert form["data"]["rework_reason"] == "Include the travel costs" and form["data"]["amount"] == 8000
    assert decide(manager, rework["id"], **request(amount=12000)).status_code == 403  # not the requester's
    assert decide(am, rework["id"], **request(amount=-1)).json["errors"].keys() == {"data.amount"}
    assert decide(am, rework["id"], **request(amount=12000, justification="Visits plus travel")).status_code == 200

    # Now above the manager's limit: a partner decides, and the old rework note is not a reason.
    second = open_task(partner, instance["id"])
    assert (second["element_id"], second["candidate_groups"]) == ("decide", ["partner"])
    assert partner.get(f"/api/tasks/{second['id']}").json["data"]["reason"] is None
    assert decide(partner, second["id"], decision="approve").status_code == 200
    [note] = am.get("/api/notifications?kind=outcome").json["items"]
    assert note["body"] == "partner approved your fee of 12,000.00."
    history = people["viewer"].get(f"/api/process-instances/{instance['id']}/history?page_size=200").json["items"]
    assert [
        (h["element_id"], h["actor"])
        for h in history
        if h["event"] == "completed" and h["element_id"] in ("submit", "decide", "rework")
    ] == [("submit", "account_manager"), ("decide", "manager"), ("rework", "account_manager"), ("decide", "partner")]


def test_a_request_about_a_client_is_on_the_clients_timeline_and_an_unknown_client_is_refused(people):
    am, manager = people["account_manager"], people["manager"]
    client = am.post("/api/clients", json={"name": "Harbour Logistics Ltd"}).json
    instance = start_approval(am)
    submit = instance["open_tasks"][0]
    unknown = decide(am, submit["id"], **request(kind="write_off", amount=300, client_id=client["id"] + 1000))
    assert unknown.status_code == 422 and unknown.json["errors"] == {"data.client_id": ["no such client"]}
    assert decide(am, submit["id"], **request(kind="write_off", amount=300, client_id=client["id"])).status_code == 200

    task = open_task(manager, instance["id"])
    assert (
        manager.get(f"/api/tasks/{task['id']}").json["data"]["request_check"]["client_name"] == "Harbour Logistics Ltd"
    )
    found = am.get(f"/api/process-instances?business_key=client:{client['id']}").json["items"]
    assert [i["id"] for i in found] == [instance["id"]]
    assert decide(manager, task["id"], decision="approve", reason="Goodwill").status_code == 200
    [note] = am.get("/api/notifications?kind=outcome").json["items"]
    assert note["subject"] == "Your write-off of 300.00 for Harbour Logistics Ltd was approved"
    assert note["body"].endswith(": Goodwill")
    # About a client, the decision is in the client's order of events.
    found = [(e["type"], e["aggregate"]["sequence"]) for e in events_of(am.client.application, "client", client["id"])]
    assert found == [("client.created", 1), ("approval.decided", 2)]


def test_bad_requests_are_422_naming_the_field_and_viewers_cannot_ask(people):
    am = people["account_manager"]
    instance = start_approval(am)
    task_id = instance["open_tasks"][0]["id"]
    bad = decide(am, task_id, kind="gift", amount=0, client_id="seven", justification="")
    assert bad.status_code == 422
    assert {"data.kind", "data.amount", "data.client_id", "data.justification"} <= set(bad.json["errors"])
    assert decide(am, task_id, kind="fee", amount=10).json["errors"] == {
        "data.justification": ["'justification' is a required property"]
    }
    assert decide(am, task_id, **request(requester="partner")).status_code == 422  # no smuggled variables
    assert people["manager"].post(f"/api/tasks/{task_id}/complete", json={"data": request()}).status_code == 403
    assert people["viewer"].post("/api/process-instances", json={"process_key": "approval"}).status_code == 403


def test_a_requester_who_reads_chinese_is_told_the_outcome_in_chinese(people):
    # The outcome is written in the recipient's language (their account's locale), not the decider's.
    am, manager = people["account_manager"], people["manager"]
    assert am.patch("/api/me", json={"locale": "zh-CN"}).status_code == 200
    client = am.post("/api/clients", json={"name": "Harbour Logistics Ltd"}).json
    instance = start_approval(am)
    submit = instance["open_tasks"][0]
    assert decide(am, submit["id"], **request(kind="write_off", amount=300, client_id=client["id"])).status_code == 200
    task = open_task(manager, instance["id"])
    assert decide(manager, task["id"], decision="reject", reason="超出权限").status_code == 200
    [note] = am.get("/api/notifications?kind=outcome").json["items"]
    assert note["subject"] == "您的核销申请（300.00）（客户：Harbour Logistics Ltd）已驳回"
    assert note["body"] == "manager 驳回了您的核销申请（300.00）（客户：Harbour Logistics Ltd），理由：超出权限"

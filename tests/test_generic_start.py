"""The generic start, `POST /api/process-instances`: the processes a record starts are refused there with a
problem saying how they start (started by hand they lacked their record and fell into an incident), and a
process with a start form takes only that form's fields, checked as a task's completion checks them."""

from __future__ import annotations

import pytest

from atrium.record_processes import STARTED_BY_RECORDS

from .api_helpers import client_body, deploy_firm_processes, deploy_via_api, people_in_two_teams


@pytest.fixture
def people(firm_app):
    people = people_in_two_teams(firm_app)
    deploy_firm_processes(people["admin"])
    assert deploy_via_api(people["admin"], "two_tasks.bpmn", "intake-schema.json").status_code == 201
    return people


def instances(person, key: str) -> list[dict]:
    return person.get(f"/api/process-instances?process_key={key}&page_size=200").json["items"]


@pytest.mark.parametrize("key", sorted(STARTED_BY_RECORDS))
def test_a_process_a_record_starts_is_refused_by_the_generic_start_saying_how_it_starts(people, key):
    # Before, each started: the complaint fell into an incident (no acknowledgement deadline), the follow-up
    # cycle's first service failed (no client) and a service request opened triage for no request.
    manager = people["manager"]
    refused = manager.post("/api/process-instances", json={"process_key": key, "variables": {}})
    assert refused.status_code == 422 and refused.mimetype == "application/problem+json"
    assert refused.json["errors"] == {"process_key": [f"started by {STARTED_BY_RECORDS[key]}, not by hand"]}
    assert STARTED_BY_RECORDS[key] in refused.json["detail"]
    assert instances(people["admin"], key) == []
    chinese = manager.post("/api/process-instances", json={"process_key": key}, headers={"Accept-Language": "zh-CN"})
    assert chinese.status_code == 422
    assert "不能手动启动" in chinese.json["errors"]["process_key"][0] and "不能通过" in chinese.json["detail"]
    assert (
        "started by" not in chinese.json["errors"]["process_key"][0]
        and "recording" not in chinese.json["detail"]
        and "becoming" not in chinese.json["detail"]
    )


def test_records_still_start_their_processes(people):
    am = people["account_manager"]
    client = am.post("/api/clients", json=client_body(owner="account_manager"))
    assert client.status_code == 201, client.json
    client_id = client.json["id"]
    [cycle] = instances(am, "follow_up")
    assert cycle["status"] == "active" and cycle["business_key"] == f"client:{client_id}"
    complaint = people["service_desk"].post(
        f"/api/clients/{client_id}/complaints",
        json={"description": "The March invoice arrived twice", "severity": "high"},
    )
    assert complaint.status_code == 201, complaint.json
    [complaint_flow] = instances(am, "complaint")
    assert complaint_flow["status"] == "active"
    assert people["admin"].get(f"/api/process-instances/{complaint_flow['id']}").json["incidents"] == []


def test_start_variables_a_start_form_does_not_declare_are_refused_naming_each(people):
    am = people["account_manager"]
    attack = am.post(
        "/api/process-instances",
        json={
            "process_key": "approval",
            "variables": {
                "kind": "fee",
                "amount": 2500,
                "justification": "Extra site visits",
                "skip_check": True,
                "route_to": "partner",
            },
        },
    )
    assert attack.status_code == 422 and attack.mimetype == "application/problem+json"
    assert attack.json["errors"] == {
        "variables.route_to": ["not a field of this process's start form"],
        "variables.skip_check": ["not a field of this process's start form"],
    }
    assert instances(people["admin"], "approval") == []
    chinese = am.post(
        "/api/process-instances",
        headers={"Accept-Language": "zh-CN"},
        json={"process_key": "approval", "variables": {"kind": "fee", "skip_check": True}},
    )
    assert chinese.json["errors"] == {"variables.skip_check": ["不是该流程启动表单中的字段"]}


def test_start_variables_of_the_wrong_type_are_refused_naming_the_field(people):
    am = people["account_manager"]
    for variables, field in (
        ({"kind": "fee", "amount": "a lot"}, "variables.amount"),
        ({"kind": 3, "amount": 10}, "variables.kind"),
        ({"kind": "fee", "justification": ["not", "text"]}, "variables.justification"),
        ({"kind": "fee", "client_id": "7"}, "variables.client_id"),
    ):
        refused = am.post("/api/process-instances", json={"process_key": "approval", "variables": variables})
        assert refused.status_code == 422 and list(refused.json["errors"]) == [field], (variables, refused.json)
    refused = am.post("/api/process-instances", json={"process_key": "two_tasks", "variables": {"amount": -1}})
    assert refused.status_code == 422 and list(refused.json["errors"]) == ["variables.amount"]
    assert instances(people["admin"], "approval") == instances(people["admin"], "two_tasks") == []


def test_a_start_writes_only_what_its_form_lets_a_person_fill_in(people):
    am = people["account_manager"]
    # `rework_reason` is declared but read-only (the approver writes it): a start does not set it, as a
    # task's completion does not.
    started = am.post(
        "/api/process-instances",
        json={
            "process_key": "approval",
            "variables": {"kind": "fee", "amount": 2500, "rework_reason": "already approved by the partner"},
        },
    )
    assert started.status_code == 201, started.json
    variables = people["admin"].get(f"/api/process-instances/{started.json['id']}").json["variables"]
    assert "rework_reason" not in variables
    assert (variables["kind"], variables["amount"]) == ("fee", 2500)
    [submit] = started.json["open_tasks"]
    assert am.get(f"/api/tasks/{submit['id']}").json["data"] == {"kind": "fee", "amount": 2500}


def test_a_process_without_a_start_form_takes_its_start_variables_as_given(people):
    assert deploy_via_api(people["admin"], "messages.bpmn").status_code == 201
    started = people["manager"].post(
        "/api/process-instances",
        json={"process_key": "order_flow", "variables": {"order": {"lines": 3}, "note": "rush"}},
    )
    assert started.status_code == 201, started.json
    assert started.json["variables"] == {"order": {"lines": 3}, "note": "rush"}

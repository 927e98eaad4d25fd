"""What people submit to processes: a task takes only the fields its form lets them fill in, nobody
sets the variables a process routes work and finds records by, data reads back as the plain JSON it
was whatever it holds, and start variables, message payloads and task data each have a size limit."""

from __future__ import annotations

import io

import pytest

from .api_helpers import deploy_via_api
from .conftest import LONG_TOKENS
from .factories import make_client
from .process_helpers import deploy_firm_processes, employ
from .test_process_complaint import (
    complaint_now,
    complete,
    completes,
    register_complaint,
    the_task,
)

MAX_DATA_BYTES = 4096

# A form whose fields, and a message whose payload, hold dicts that look like SpiffWorkflow's tagged objects.
TAGGED_BPMN = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="Def_tagged" targetNamespace="http://atrium/tests">
  <bpmn:message id="msg_more" name="more_details" />
  <bpmn:process id="tagged" name="Data that looks like tagged objects" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="enter" />
    <bpmn:userTask id="enter" name="Enter the details">
      <bpmn:extensionElements>
        <spiffworkflow:formJsonSchemaFilename>tagged-schema.json</spiffworkflow:formJsonSchemaFilename>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="enter" targetRef="wait" />
    <bpmn:receiveTask id="wait" name="Await more details" messageRef="msg_more" />
    <bpmn:sequenceFlow id="f3" sourceRef="wait" targetRef="check" />
    <bpmn:userTask id="check" name="Check the details" />
    <bpmn:sequenceFlow id="f4" sourceRef="check" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>
"""
TAGGED_SCHEMA = b"""{"type": "object", "properties": {
  "typename": {"type": "string"}, "value": {"type": "string"}, "details": {"type": "object"},
  "workflow": {"type": "object"}, "when": {"type": "object"}}}"""


pytestmark = pytest.mark.app(firm=True, token_ttl_seconds=LONG_TOKENS, max_data_bytes=MAX_DATA_BYTES)


@pytest.fixture
def people(people):
    admin = people["admin"]
    deploy_firm_processes(admin)
    deployed = deploy_via_api(admin, "two_tasks.bpmn", "intake-schema.json", "messages.bpmn")
    assert deployed.status_code == 201, deployed.json
    files = [(io.BytesIO(TAGGED_BPMN), "tagged.bpmn"), (io.BytesIO(TAGGED_SCHEMA), "tagged-schema.json")]
    deployed = admin.post("/api/deployments", data={"files": files}, content_type="multipart/form-data")
    assert deployed.status_code == 201, deployed.json
    employ(admin, "service_desk", "manager")  # complaints the desk registers are approved by `manager`
    return people


def new_client(person, name: str) -> int:
    return make_client(person, minimal=True, name=name, tier="B", status="active")["id"]


def variables_of(person, instance_id: str) -> dict:
    got = person.get(f"/api/process-instances/{instance_id}")
    assert got.status_code == 200, got.json
    return got.json["variables"]


def start(person, process_key: str, **body):
    return person.post("/api/process-instances", json={"process_key": process_key, **body})


def task_of(person, instance_id: str, element_id: str) -> dict:
    [task] = [
        t
        for t in person.get(f"/api/process-instances/{instance_id}").json["open_tasks"]
        if t["element_id"] == element_id
    ]
    return task


def complete_task(person, task: dict, data: dict):
    return person.post(f"/api/tasks/{task['id']}/complete", json={"data": data})


# Task data -----------------------------------------------------------------------------------------------
def test_the_desk_cannot_make_itself_the_approver_nor_point_its_task_at_another_clients_complaint(people):
    desk, manager, admin = people["service_desk"], people["manager"], people["admin"]
    first = register_complaint(people, new_client(people["partner"], "Harbour Logistics Ltd"))
    second = register_complaint(people, new_client(people["partner"], "Quayside Foods plc"))

    attack = complete(
        desk,
        first,
        "acknowledge",
        {"acknowledged_via": "phone", "manager": "service_desk", "complaint_id": second["id"]},
    )
    assert attack.status_code == 422 and attack.mimetype == "application/problem+json"
    assert attack.json["errors"] == {
        "data.complaint_id": ["not a field of this task's form"],
        "data.manager": ["not a field of this task's form"],
    }
    variables = variables_of(admin, first["instance_id"])
    assert (variables["manager"], variables["complaint_id"]) == ("manager", first["id"])
    assert complaint_now(desk, first)["status"] == "registered"

    # Done honestly, the approval still goes to the registrant's manager, and only this complaint moves.
    completes(desk, first, "acknowledge", {"acknowledged_via": "phone"})
    completes(desk, first, "investigate", {"findings": "The filing reminder was missed"})
    again = complete(desk, first, "propose", {"resolution": "Refund the fine", "manager": "service_desk"})
    assert again.status_code == 422 and set(again.json["errors"]) == {"data.manager"}
    completes(desk, first, "propose", {"resolution": "Refund the fine"})
    assert the_task(manager, first, "approve")["assignee"] == "manager"
    assert complaint_now(desk, first)["status"] == "resolution_proposed"
    assert complaint_now(desk, second)["status"] == "registered"


def test_a_task_without_a_form_takes_nothing(people):
    am, manager = people["account_manager"], people["manager"]
    instance = start(am, "two_tasks", variables={"urgency": 5}).json
    assert complete_task(people["service_desk"], instance["open_tasks"][0], {"amount": 70}).status_code == 200
    approve = task_of(manager, instance["id"], "approve")
    refused = complete_task(manager, approve, {"amount": 1, "approved": True})
    assert refused.status_code == 422
    assert refused.json["errors"] == {
        "data.amount": ["this task has no form, so it takes no data"],
        "data.approved": ["this task has no form, so it takes no data"],
    }
    assert complete_task(manager, approve, {}).status_code == 200
    assert variables_of(am, instance["id"])["amount"] == 70


def test_fields_a_form_shows_but_does_not_take_are_left_out(people):
    """Read-only fields come back from a form as it showed them; a control variable a form declares is
    the starter's to fill in on the start form (approval's client), nobody else's."""
    am, manager, admin = people["account_manager"], people["manager"], people["admin"]
    client_id = new_client(am, "Meridian Architects LLP")
    request = {"kind": "fee", "amount": 2500, "justification": "Two extra site visits", "client_id": client_id}

    by_someone_else = start(am, "approval").json
    assert complete_task(admin, by_someone_else["open_tasks"][0], request).status_code == 200
    assert "client_id" not in variables_of(admin, by_someone_else["id"])

    by_the_starter = start(am, "approval").json
    assert complete_task(am, by_the_starter["open_tasks"][0], request).status_code == 200
    assert variables_of(admin, by_the_starter["id"])["client_id"] == client_id
    decide = task_of(manager, by_the_starter["id"], "decide")
    decided = complete_task(
        manager, decide, {"decision": "approve", "requester": "manager", "approver_group": "partner", "amount": 1}
    )
    assert decided.status_code == 200
    final = variables_of(admin, by_the_starter["id"])
    assert (final["requester"], final["approver_group"], final["amount"]) == ("account_manager", "manager", 2500)


# Start variables and message payloads ---------------------------------------------------------------------
def test_start_variables_may_not_set_control_variables_unless_the_start_form_asks_for_them(people):
    am = people["account_manager"]
    refused = start(
        am,
        "approval",
        variables={"manager": "account_manager", "requester": "partner", "approver_group": "manager", "amount": 5},
    )
    assert refused.status_code == 422
    assert set(refused.json["errors"]) == {"variables.manager", "variables.requester", "variables.approver_group"}
    # A process without a start form takes any start variables but these.
    refused = start(am, "order_flow", variables={"complaint_id": 2, "manager": "service_desk"})
    assert refused.status_code == 422 and set(refused.json["errors"]) == {"variables.complaint_id", "variables.manager"}
    assert people["admin"].get("/api/process-instances?page_size=100").json["total"] == 0

    # The approval's start form asks for the client: naming it when starting is the starter's input.
    client_id = new_client(am, "Meridian Architects LLP")
    started = start(am, "approval", variables={"client_id": client_id})
    assert started.status_code == 201, started.json
    assert people["admin"].get(f"/api/tasks/{started.json['open_tasks'][0]['id']}").json["data"] == {
        "client_id": client_id
    }


def test_message_payloads_and_start_keys_may_not_set_control_variables(people):
    admin = people["admin"]
    order = start(admin, "order_flow", business_key="ORD-9").json
    refused = admin.post(
        "/api/messages",
        json={
            "name": "payment_received",
            "correlation_keys": {"business_key": "ORD-9"},
            "payload": {"manager": "service_desk", "complaint_id": 2, "paid": 5},
        },
    )
    assert refused.status_code == 422
    assert set(refused.json["errors"]) == {"payload.manager", "payload.complaint_id"}
    after = admin.get(f"/api/process-instances/{order['id']}").json
    assert after["current_activities"] == ["await_payment"] and "manager" not in after["variables"]

    # A message that starts a process: its payload and the keys that become its variables alike.
    for body, field in (
        ({"payload": {"request_id": 5}}, "payload.request_id"),
        ({"correlation_keys": {"business_key": "SR-1", "client_id": 3}}, "correlation_keys.client_id"),
    ):
        refused = admin.post("/api/messages", json={"name": "new_request", **body})
        assert refused.status_code == 422 and set(refused.json["errors"]) == {field}
    assert admin.get("/api/process-instances?process_key=request_intake").json["total"] == 0
    delivered = admin.post(
        "/api/messages",
        json={"name": "payment_received", "payload": {"paid": 5}, "correlation_keys": {"business_key": "ORD-9"}},
    )
    assert delivered.status_code == 200 and variables_of(admin, order["id"])["paid"] == 5


# Data that looks like tagged objects ----------------------------------------------------------------------
def test_data_that_looks_like_serialized_objects_reads_back_as_submitted_after_a_reload(app, people):
    admin = people["admin"]
    variables = {
        "workflow": {"typename": "BpmnWorkflow", "spec": "x"},
        "when": {"typename": "datetime", "value": "2020-01-01T00:00:00"},
    }
    form_data = {
        "typename": "Decimal",
        "value": "not a number",
        "details": {"typename": "timedelta", "days": "x", "items": [{"typename": "UUID", "value": "no"}]},
    }
    payload = {"extra": {"typename": "BpmnEvent", "event_definition": None}, "undefined": {"typename": "Nope"}}

    started = start(admin, "tagged", variables=variables, business_key="TAG-1")
    assert started.status_code == 201, started.json
    assert complete_task(admin, started.json["open_tasks"][0], form_data).status_code == 200
    sent = admin.post(
        "/api/messages",
        json={"name": "more_details", "payload": payload, "correlation_keys": {"business_key": "TAG-1"}},
    )
    assert sent.status_code == 200, sent.json

    # As after a restart, or on a worker that never had it in its cache: the instance is read from its state.
    app.extensions["atrium.engine"].workflows.clear()
    loaded = admin.get(f"/api/process-instances/{started.json['id']}")
    assert loaded.status_code == 200, loaded.json
    assert loaded.json["current_activities"] == ["check"]
    assert loaded.json["variables"] == {**variables, **form_data, **payload}
    app.extensions["atrium.engine"].workflows.clear()
    done = complete_task(admin, task_of(admin, started.json["id"], "check"), {})
    assert done.status_code == 200, done.json
    app.extensions["atrium.engine"].workflows.clear()
    assert variables_of(admin, started.json["id"]) == {**variables, **form_data, **payload}


# Sizes -------------------------------------------------------------------------------------------------------
def test_start_variables_message_payloads_and_task_data_have_a_size_limit(people):
    admin, am = people["admin"], people["account_manager"]
    too_much = "x" * MAX_DATA_BYTES

    refused = start(am, "two_tasks", variables={"urgency": 5, "note": too_much})
    assert refused.status_code == 422 and set(refused.json["errors"]) == {"variables"}
    instance = start(am, "two_tasks", variables={"urgency": 5}).json
    intake = instance["open_tasks"][0]
    refused = complete_task(people["service_desk"], intake, {"amount": 1, "note": too_much})
    assert refused.status_code == 422 and set(refused.json["errors"]) == {"data"}
    order = start(admin, "order_flow", business_key="ORD-1").json
    refused = admin.post(
        "/api/messages",
        json={"name": "payment_received", "payload": {"note": too_much}, "correlation_keys": {"business_key": "ORD-1"}},
    )
    assert refused.status_code == 422 and set(refused.json["errors"]) == {"payload"}

    # A body far beyond the limit is refused before it is read, as a problem like any other.
    huge = "x" * (8 * MAX_DATA_BYTES + 20_000)
    for response in (
        start(am, "two_tasks", variables={"note": huge}),
        complete_task(people["service_desk"], intake, {"amount": 1, "note": huge}),
        admin.post("/api/messages", json={"name": "payment_received", "payload": {"note": huge}}),
    ):
        assert response.status_code == 413 and response.mimetype == "application/problem+json", response.data[:200]
        assert response.json["status"] == 413 and "this operation takes at most" in response.json["detail"]
    assert task_of(am, instance["id"], "intake")["status"] == "open"
    assert admin.get(f"/api/process-instances/{order['id']}").json["current_activities"] == ["await_payment"]


def test_data_nested_too_deeply_is_refused_not_a_server_error(people):
    """Found in review: 230 nested lists (460 bytes, well within the size limit) ran SpiffWorkflow's
    recursive serializer out of stack, a 500."""
    admin, am = people["admin"], people["account_manager"]
    deep = 1
    for _ in range(300):
        deep = [deep]
    refused = start(am, "two_tasks", variables={"urgency": 5, "deep": deep})
    assert refused.status_code == 422 and set(refused.json["errors"]) == {"variables"}
    assert "nests" in refused.json["detail"]
    start(admin, "order_flow", business_key="ORD-2")
    refused = admin.post(
        "/api/messages",
        json={"name": "payment_received", "payload": {"deep": deep}, "correlation_keys": {"business_key": "ORD-2"}},
    )
    assert refused.status_code == 422 and set(refused.json["errors"]) == {"payload"}
    # Ordinary nesting, as forms have, is fine.
    fine = start(am, "order_flow", variables={"contacts": [{"name": "Ada", "phones": ["+44 1"]}]})
    assert fine.status_code == 201, fine.json

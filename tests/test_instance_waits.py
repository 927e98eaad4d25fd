"""`GET /api/process-instances/{id}` says what an instance waits for (`waiting_for`): its open tasks, its
timers (with a cycle's repetitions, and whether the process comes back to it), the messages it waits for
with the correlation keys a sender must give, and its incidents."""

from __future__ import annotations

import io
from datetime import datetime, timedelta

import pytest

from engine.scheduler import fire_due_timers

from .api_helpers import caller, client_body, deploy_firm_processes, deploy_via_api
from .conftest import BPMN_DIR, LONG_TOKENS


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def ledger(call):
    raise RuntimeError("ledger is down")


@pytest.fixture
def people(app, services):
    services.register("ledger", ledger)  # fragile_service's service task: always failing
    client = app.test_client()
    admin = caller(client, "admin")
    assert (
        deploy_via_api(
            admin, "two_tasks.bpmn", "intake-schema.json", "timers.bpmn", "messages.bpmn", "fragile.bpmn"
        ).status_code
        == 201
    )
    return {name: caller(client, name) for name in ("admin", "manager", "account_manager", "service_desk", "viewer")}


def start(person, key: str, **body):
    started = person.post("/api/process-instances", json={"process_key": key, **body})
    assert started.status_code == 201, started.json
    return started.json


def waits(person, instance_id: str) -> dict:
    shown = person.get(f"/api/process-instances/{instance_id}")
    assert shown.status_code == 200, shown.json
    return shown.json["waiting_for"]


def test_an_instance_at_a_user_task_waits_for_whom_it_is_offered_to_until_when(people, clock):
    am = people["account_manager"]
    started = start(am, "two_tasks", variables={"urgency": 70})
    assert started["waiting_for"]["tasks"] == waits(am, started["id"])["tasks"]
    [task] = waits(am, started["id"])["tasks"]
    assert task == {
        "id": started["open_tasks"][0]["id"],
        "element_id": "intake",
        "name": "Record the request",
        "assignee": None,
        "candidate_groups": ["service_desk"],
        "candidate_users": [],
        "due": (clock.now() + timedelta(days=2)).isoformat(),
    }
    assert waits(am, started["id"]) | {"tasks": []} == {"tasks": [], "timers": [], "messages": [], "incidents": []}
    # Claimed, it waits for that person.
    assert people["service_desk"].post(f"/api/tasks/{task['id']}/claim").status_code == 200
    assert waits(am, started["id"])["tasks"][0]["assignee"] == "service_desk"


def test_timers_say_when_and_a_cycle_how_often_and_how_many_times_more(people, app, clock):
    am = people["account_manager"]
    started = start(am, "timers_demo", variables={"reminders": 0})
    start_time = clock.now()
    assert started["waiting_for"]["timers"] == [
        {
            "element_id": "wait_hour",
            "element_name": "Wait an hour",
            "kind": "duration",
            "due": (start_time + timedelta(hours=1)).isoformat(),
            "expression": "'PT1H'",
            "cycle": None,
            "recurs": False,
            "attempt": None,
        }
    ]
    assert started["waiting_for"]["tasks"] == []

    clock.advance(hours=1, seconds=1)
    assert fire_due_timers(app.extensions["atrium.engine"]) == 1
    now = waits(am, started["id"])
    assert [t["element_id"] for t in now["tasks"]] == ["work"]
    reminder, deadline = now["timers"]  # soonest first
    assert (reminder["element_id"], reminder["kind"], reminder["expression"]) == ("reminder", "cycle", "'R2/PT30M'")
    assert reminder["cycle"] == {"remaining": 2, "interval_seconds": 1800.0}
    assert _at(reminder["due"]) == clock.now() + timedelta(minutes=30)
    assert (deadline["element_id"], deadline["kind"], deadline["cycle"], deadline["expression"]) == (
        "deadline",
        "duration",
        None,
        '"PT2H"',
    )
    assert _at(deadline["due"]) == clock.now() + timedelta(hours=2)

    clock.advance(minutes=31)
    assert fire_due_timers(app.extensions["atrium.engine"]) == 1
    reminder, deadline = waits(am, started["id"])["timers"]
    assert reminder["cycle"] == {"remaining": 1, "interval_seconds": 1800.0}
    assert _at(reminder["due"]) == clock.now() - timedelta(minutes=1) + timedelta(minutes=30)


def test_messages_say_which_message_and_the_keys_a_sender_must_give(people):
    am = people["account_manager"]
    order = start(am, "order_flow", business_key="ORD-7")
    assert order["waiting_for"]["messages"] == [
        {
            "element_id": "await_payment",
            "element_name": "Await payment",
            "message_name": "payment_received",
            "correlation_keys": {"business_key": "ORD-7"},
        }
    ]
    sent = am.post("/api/messages", json={"name": "payment_received", "correlation_keys": {"business_key": "ORD-7"}})
    assert sent.status_code == 200, sent.json
    assert waits(am, order["id"])["messages"] == [
        {
            "element_id": "await_shipping",
            "element_name": "Shipped",
            "message_name": "shipped",
            "correlation_keys": {"business_key": "ORD-7"},
        }
    ]
    # An instance without a business key is reached by its variables only.
    plain = start(am, "order_flow")
    assert waits(am, plain["id"])["messages"][0]["correlation_keys"] == {}


CORRELATED = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="Def_correlated"
                  targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:message id="msg_signed" name="contract_signed" />
  <bpmn:correlationProperty id="contract_ref" name="Contract reference">
    <bpmn:correlationPropertyRetrievalExpression messageRef="msg_signed">
      <bpmn:messagePath>contract_ref</bpmn:messagePath>
    </bpmn:correlationPropertyRetrievalExpression>
  </bpmn:correlationProperty>
  <bpmn:collaboration id="collab">
    <bpmn:participant id="p" processRef="contract_flow" />
    <bpmn:correlationKey name="contract">
      <bpmn:correlationPropertyRef>contract_ref</bpmn:correlationPropertyRef>
    </bpmn:correlationKey>
  </bpmn:collaboration>
  <bpmn:process id="contract_flow" name="Contract" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="signed" />
    <bpmn:intermediateCatchEvent id="signed" name="Contract signed">
      <bpmn:messageEventDefinition messageRef="msg_signed" />
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="signed" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_correlation_properties_show_the_values_waited_for_only_to_those_who_may_see_the_data(people, app):
    admin = people["admin"]
    deployed = admin.post(
        "/api/deployments",
        data={"files": [(io.BytesIO(CORRELATED), "contract.bpmn")]},
        content_type="multipart/form-data",
    )
    assert deployed.status_code == 201, deployed.json
    client = admin.post("/api/clients", json=client_body(owner="account_manager"))
    assert client.status_code == 201, client.json
    key = f"client:{client.json['id']}"
    started = start(admin, "contract_flow", business_key=key, variables={"contract_ref": "K-2026-17"})
    [message] = started["waiting_for"]["messages"]
    assert message["message_name"] == "contract_signed"
    assert message["correlation_keys"] == {"business_key": key, "contract_ref": "K-2026-17"}
    # A viewer reads every instance's data.
    assert waits(people["viewer"], started["id"])["messages"][0]["correlation_keys"]["contract_ref"] == "K-2026-17"
    # The client's owner sees the instance (it is about their client) but not its data: they neither started
    # it nor worked on it. The value waited for is process data, so it is not shown to them either.
    owners_view = people["account_manager"].get(f"/api/process-instances/{started['id']}").json
    assert owners_view["variables"] is None
    assert owners_view["waiting_for"]["messages"][0]["correlation_keys"] == {"business_key": key, "contract_ref": None}
    # A message whose payload lacks the correlation property's value is refused naming it, not a 500,
    # and the instance still waits.
    lacking = admin.post(
        "/api/messages",
        json={
            "name": "contract_signed",
            "payload": {"signed_by": "Ms Wu"},
            "correlation_keys": {"contract_ref": "K-2026-17"},
        },
    )
    assert lacking.status_code == 422, lacking.json
    assert lacking.headers["Content-Type"] == "application/problem+json"
    assert "payload.contract_ref" in lacking.json["errors"], lacking.json
    assert waits(admin, started["id"])["messages"][0]["message_name"] == "contract_signed"
    # The message with the right value reaches it; after it, nothing is awaited any more.
    sent = admin.post(
        "/api/messages",
        json={
            "name": "contract_signed",
            "payload": {"contract_ref": "K-2026-17"},
            "correlation_keys": {"contract_ref": "K-2026-17"},
        },
    )
    assert sent.status_code == 200, sent.json
    done = admin.get(f"/api/process-instances/{started['id']}").json
    assert done["status"] == "completed"
    assert done["waiting_for"] == {"tasks": [], "timers": [], "messages": [], "incidents": []}


def test_a_failing_service_waits_for_its_retry_then_for_someone_to_fix_the_incident(people, app, clock):
    admin = people["admin"]
    started = start(admin, "fragile_service", variables={"amount": 5})
    [retry] = started["waiting_for"]["timers"]
    assert (retry["element_id"], retry["element_name"], retry["kind"], retry["attempt"]) == (
        "call",
        "Call the ledger",
        "retry",
        2,
    )
    assert _at(retry["due"]) == clock.now() + timedelta(seconds=10)
    for seconds in (11, 21):
        clock.advance(seconds=seconds)
        assert fire_due_timers(app.extensions["atrium.engine"]) == 1
    shown = admin.get(f"/api/process-instances/{started['id']}").json
    assert shown["status"] == "error"
    [incident] = shown["waiting_for"]["incidents"]
    assert (incident["element_id"], incident["element_name"], incident["attempts"]) == ("call", "Call the ledger", 3)
    assert "ledger is down" in incident["error"] and _at(incident["since"]) == clock.now()
    assert shown["waiting_for"]["timers"] == [] and shown["waiting_for"]["tasks"] == []
    assert incident["id"] == shown["incidents"][0]["id"]


def test_a_failing_script_is_an_incident_the_instance_waits_on(people):
    am = people["admin"]
    started = start(am, "fragile_script", variables={"total": 10, "parts": 0, "spin": False})
    [enter] = started["waiting_for"]["tasks"]
    assert enter["element_id"] == "enter"
    done = am.post(f"/api/tasks/{enter['id']}/complete", json={"data": {}})
    assert done.status_code == 200, done.json
    shown = waits(am, started["id"])
    [incident] = shown["incidents"]
    assert (incident["element_id"], incident["element_name"]) == ("divide", "Compute the ratio")
    assert "division by zero" in incident["error"]


def test_who_may_not_see_an_instance_learns_nothing_of_what_it_waits_for(people):
    order = start(people["account_manager"], "order_flow", business_key="ORD-8")
    refused = people["service_desk"].get(f"/api/process-instances/{order['id']}")
    assert refused.status_code == 404 and "waiting_for" not in refused.json


def test_element_names_in_waits_follow_the_request_language(people):
    am = people["account_manager"]
    translation = b'{"await_payment": "\\u7b49\\u5f85\\u4ed8\\u6b3e"}'
    deployed = people["admin"].post(
        "/api/deployments",
        data={
            "files": [
                (io.BytesIO((BPMN_DIR / "messages.bpmn").read_bytes()), "messages.bpmn"),
                (io.BytesIO(translation), "order_flow.zh-CN.json"),
            ]
        },
        content_type="multipart/form-data",
    )
    assert deployed.status_code == 201, deployed.json
    order = start(am, "order_flow", business_key="ORD-9")
    shown = am.get(f"/api/process-instances/{order['id']}", headers={"Accept-Language": "zh-CN"}).json
    assert shown["waiting_for"]["messages"][0]["element_name"] == "等待付款"


@pytest.mark.app(token_ttl_seconds=LONG_TOKENS)  # logins that outlast a month
def test_the_follow_up_cycle_waits_on_a_timer_it_comes_back_to_each_round(firm_app, clock):
    am = caller(firm_app.test_client(), "admin")
    deploy_firm_processes(am)
    client = am.post("/api/clients", json=client_body(owner="account_manager", tier="A"))
    assert client.status_code == 201, client.json
    [cycle] = am.get(f"/api/process-instances?process_key=follow_up&business_key=client:{client.json['id']}").json[
        "items"
    ]
    [due] = waits(am, cycle["id"])["timers"]
    assert (due["element_id"], due["element_name"], due["kind"], due["recurs"]) == (
        "due",
        "Follow-up due",
        "date",
        True,
    )
    assert due["expression"] == "plan['next_at']" and due["cycle"] is None
    assert _at(due["due"]) == datetime(2026, 2, 5, 9, 0, tzinfo=clock.now().tzinfo)  # tier A: P1M

    clock.advance(days=31, seconds=1)
    assert fire_due_timers(firm_app.extensions["atrium.engine"]) == 1
    now = waits(am, cycle["id"])
    [task] = now["tasks"]
    assert (task["element_id"], task["assignee"]) == ("contact_client", "account_manager")
    [overdue] = now["timers"]  # the follow-up's own deadline, once per round
    assert (overdue["element_id"], overdue["kind"], overdue["recurs"]) == ("overdue", "date", True)
    assert _at(overdue["due"]) == _at(task["due"])

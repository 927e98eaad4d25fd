"""Complaints, service requests, follow-ups, escalations and notifications: one rule each, called by the
API, the BPMN handlers and the CLI alike; due times fixed when a record is received; every change audited
by the domain function in the change's transaction."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from atrium import escalation
from reports.statistics import progress
from reports.tables import Filters
from storage.audit import AuditEntry

from .process_helpers import (
    PROCESS_APP,
    complete,
    deploy_firm_processes,
    employ,
    fire_timers,
    notifications,
    open_task,
    people_of,
)

pytestmark = PROCESS_APP


@pytest.fixture
def people(app):
    people = people_of(app.test_client(), ("exboss", "manager"))
    deploy_firm_processes(people["admin"])
    return people


def new_client(person, **fields) -> int:
    body = {"name": "Harbour Logistics Ltd", "tier": "A", "status": "prospect", "owner": "account_manager", **fields}
    made = person.post("/api/clients", json=body)
    assert made.status_code == 201, made.json
    return made.json["id"]


def register_complaint(person, client_id: int, **fields) -> dict:
    made = person.post(
        f"/api/clients/{client_id}/complaints",
        json={"description": "The VAT return was filed late", "severity": "high", **fields},
    )
    assert made.status_code == 201, made.json
    return made.json


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def audit_rows(app, **where) -> list[AuditEntry]:
    with app.extensions["atrium.engine"].transaction() as session:
        query = select(AuditEntry).order_by(AuditEntry.id)
        for name, value in where.items():
            query = query.where(getattr(AuditEntry, name) == value)
        rows = session.scalars(query).all()
        session.expunge_all()
        return rows


def test_a_person_whose_manager_is_an_inactive_account_escalates_to_the_managers_everywhere(people, app, clock):
    """The complaint process once took the registrant's manager from the employee row as it was (an inactive
    account got the approval task nobody could do) while escalations skipped inactive managers."""
    admin, desk = people["admin"], people["service_desk"]
    employ(admin, "service_desk", manager="exboss")
    assert admin.post("/api/accounts/exboss/deactivate").status_code in (200, 204)
    with app.extensions["atrium.engine"].transaction() as session:
        assert escalation.manager_of(session, "service_desk") is None
    complaint = register_complaint(desk, new_client(people["partner"]))
    instance_id = complaint["instance_id"]
    ack = open_task(desk, instance_id, "acknowledge")
    assert complete(desk, ack, acknowledged_via="phone").status_code == 200
    investigate = open_task(desk, instance_id, "investigate")
    assert complete(desk, investigate, findings="Filed a day late").status_code == 200
    propose = open_task(desk, instance_id, "propose")
    assert complete(desk, propose, resolution="Refund the penalty").status_code == 200
    approve = open_task(people["manager"], instance_id, "approve")
    assert approve["assignee"] is None and approve["candidate_groups"] == ["manager"]


def test_an_unacknowledged_complaint_of_someone_whose_manager_left_goes_to_the_managers(people, app, clock):
    admin, desk = people["admin"], people["service_desk"]
    employ(admin, "service_desk", manager="exboss")
    assert admin.post("/api/accounts/exboss/deactivate").status_code in (200, 204)
    complaint = register_complaint(desk, new_client(people["partner"]))
    clock.advance(hours=24, seconds=1)
    assert fire_timers(app) == 1
    got = desk.get(f"/api/clients/{complaint['client_id']}/complaints/{complaint['id']}").json
    assert got["escalated_to"] == "manager"
    assert notifications(admin, "exboss") == []
    [row] = audit_rows(app, action="complaint.escalate")
    assert (row.actor, row.target) == ("timer", f"client:{complaint['client_id']}/complaints/{complaint['id']}")
    assert row.detail["escalated_to"] == ["manager"]


def _engine(app):
    return app.extensions["atrium.engine"]


def _set(app, **settings) -> None:
    engine = _engine(app)
    engine.settings = dataclasses.replace(engine.settings, **settings)


def test_a_complaints_acknowledgement_deadline_is_fixed_when_received(people, app, clock, monkeypatch):
    desk = people["service_desk"]
    received = clock.now()
    complaint = register_complaint(desk, new_client(people["partner"]))
    assert _at(complaint["acknowledge_due_at"]) == received + timedelta(hours=24)
    # The window shrinks to 4 hours afterwards (in the engine and in the environment the reports read).
    _set(app, complaint_acknowledge_hours=4)
    monkeypatch.setenv("ATRIUM_COMPLAINT_ACKNOWLEDGE_HOURS", "4")
    clock.advance(hours=10)
    assert fire_timers(app) == 0  # not escalated: it is due 24 h after receipt, as it was when received
    ack = open_task(desk, complaint["instance_id"], "acknowledge")
    assert complete(desk, ack, acknowledged_via="phone").status_code == 200
    got = desk.get(f"/api/clients/{complaint['client_id']}/complaints/{complaint['id']}").json
    assert _at(got["acknowledge_due_at"]) == received + timedelta(hours=24) and got["escalated_at"] is None
    period = Filters(received.date(), (received + timedelta(days=1)).date())
    with _engine(app).transaction() as session:
        rows = progress.sla_compliance(session, period).rows
    assert rows[1] == ("Complaints acknowledged in time", 1, 1, 1.0)
    # A complaint received now is due under the new window.
    later = register_complaint(desk, complaint["client_id"])
    assert _at(later["acknowledge_due_at"]) == clock.now() + timedelta(hours=4)


def test_a_service_requests_sla_due_times_are_fixed_when_received(people, app, clock):
    desk = people["service_desk"]
    received = clock.now()
    client_id = new_client(people["account_manager"])
    made = desk.post(f"/api/clients/{client_id}/service-requests", json={"title": "Penalty notice", "content": "x"})
    assert made.status_code == 201, made.json
    request = made.json
    assert {k: _at(v) for k, v in request["sla_due_times"].items()} == {
        "urgent": received + timedelta(hours=4),
        "high": received + timedelta(days=1),
        "normal": received + timedelta(days=3),
        "low": received + timedelta(days=5),
    }
    _set(app, service_request_sla={"urgent": "PT1H", "high": "PT2H", "normal": "PT3H", "low": "PT4H"})
    clock.advance(hours=1)
    triage = open_task(desk, request["instance_id"], "triage")
    assert complete(desk, triage, decision="accept", type="tax", priority="high").status_code == 200
    got = desk.get(f"/api/clients/{client_id}/service-requests/{request['id']}").json
    assert _at(got["sla_due_at"]) == received + timedelta(days=1)  # the high SLA when it was received
    assign = open_task(desk, request["instance_id"], "assign")
    assert complete(desk, assign, assignee="service_desk").status_code == 200
    work = open_task(desk, request["instance_id"], "work")
    assert _at(work["due"]) == received + timedelta(days=1)
    clock.advance(hours=2)
    assert fire_timers(app) == 0  # the new 2 h SLA would have passed; the stored one has not
    assert complete(desk, work, resolution="Appealed").status_code == 200
    period = Filters(received.date(), (received + timedelta(days=1)).date())
    with _engine(app).transaction() as session:
        assert progress.sla_compliance(session, period).rows[0] == ("Service requests resolved within SLA", 1, 1, 1.0)


@pytest.mark.parametrize(
    "path,field,value",
    [
        ("complaints", "status", "closed"),
        ("complaints", "received_at", "2020-01-01T00:00:00+00:00"),
        ("complaints", "acknowledge_due_at", "2030-01-01T00:00:00+00:00"),
        ("service-requests", "status", "resolved"),
        ("service-requests", "sla_due_at", "2030-01-01T00:00:00+00:00"),
        ("service-requests", "sla_due_times", {"high": "2030-01-01T00:00:00+00:00"}),
    ],
)
def test_status_received_and_due_times_move_only_through_the_process(people, app, clock, path, field, value):
    desk = people["service_desk"]
    client_id = new_client(people["account_manager"])
    body = {"description": "Late filing"} if path == "complaints" else {"title": "Penalty notice"}
    record = desk.post(f"/api/clients/{client_id}/{path}", json=body).json
    before = audit_rows(app)
    clock.advance(minutes=5)
    refused = desk.patch(
        f"/api/clients/{client_id}/{path}/{record['id']}",
        json={field: value, "severity": "low"} if path == "complaints" else {field: value, "title": "Changed"},
    )
    assert refused.status_code == 422, refused.json
    assert refused.headers["Content-Type"].startswith("application/problem+json")
    assert field in refused.json["errors"]
    assert desk.get(f"/api/clients/{client_id}/{path}/{record['id']}").json == record  # nothing written
    assert [r.action for r in audit_rows(app)[len(before) :] if not r.action.startswith("PATCH")] == []


def actions(app, target: str) -> list[tuple[str, str]]:
    return [(r.action, r.actor) for r in audit_rows(app, target=target)]


def test_every_step_of_a_complaint_is_audited_with_its_actor(people, app, clock):
    admin, desk, manager = people["admin"], people["service_desk"], people["manager"]
    complaint = register_complaint(desk, new_client(people["partner"]))
    instance_id, target = complaint["instance_id"], f"client:{complaint['client_id']}/complaints/{complaint['id']}"
    assert complete(desk, open_task(desk, instance_id, "acknowledge"), acknowledged_via="phone").status_code == 200
    assert complete(desk, open_task(desk, instance_id, "investigate"), findings="Late").status_code == 200
    assert complete(desk, open_task(desk, instance_id, "propose"), resolution="Refund").status_code == 200
    assert complete(manager, open_task(manager, instance_id, "approve"), approved=True).status_code == 200
    assert complete(desk, open_task(desk, instance_id, "feedback"), satisfaction=4).status_code == 200
    assert actions(app, target) == [
        ("complaint.create", "service_desk"),
        ("complaint.acknowledge", "service_desk"),
        ("complaint.investigate", "service_desk"),
        ("complaint.propose_resolution", "service_desk"),
        ("complaint.resolve", "manager"),
        ("complaint.close", "service_desk"),
    ]
    [create] = audit_rows(app, action="complaint.create")
    assert create.detail["description"] == "changed" and create.detail["severity"] == [None, "high"]
    [feedback] = audit_rows(app, action="feedback.create")
    assert feedback.actor == "service_desk" and feedback.target.startswith(f"client:{complaint['client_id']}/feedback/")
    outcome = [r for r in audit_rows(app, action="notification.queue") if r.detail["kind"] == "outcome"]
    assert [(r.actor, r.detail["recipient"]) for r in outcome] == [("service_desk", "service_desk")]
    assert admin.get(f"/api/audit?target={target}").json["total"] == 6


def test_every_step_of_a_service_request_is_audited_with_its_actor(people, app, clock):
    admin, desk = people["admin"], people["service_desk"]
    employ(admin, "service_desk", manager="manager")
    client_id = new_client(people["account_manager"])
    request = (
        people["account_manager"]
        .post(f"/api/clients/{client_id}/service-requests", json={"title": "Penalty notice", "priority": "urgent"})
        .json
    )
    target = f"client:{client_id}/service-requests/{request['id']}"
    instance_id = request["instance_id"]
    triage = open_task(desk, instance_id, "triage")
    assert complete(desk, triage, decision="accept", type="tax", priority="urgent").status_code == 200
    assert complete(desk, open_task(desk, instance_id, "assign"), assignee="service_desk").status_code == 200
    clock.advance(hours=4, seconds=1)
    assert fire_timers(app) == 1
    assert complete(desk, open_task(desk, instance_id, "work"), resolution="Appealed").status_code == 200
    assert complete(desk, open_task(desk, instance_id, "rate"), rating=5).status_code == 200
    assert actions(app, target) == [
        ("service_request.create", "account_manager"),
        ("service_request.triage", "service_desk"),
        ("service_request.assign", "service_desk"),
        ("service_request.escalate", "timer"),
        ("service_request.resolve", "service_desk"),
        ("service_request.close", "service_desk"),
    ]
    [triaged] = audit_rows(app, action="service_request.triage")
    assert triaged.detail["status"] == ["new", "triaged"] and triaged.detail["type"] == [None, "tax"]
    [escalated] = audit_rows(app, action="service_request.escalate")
    assert escalated.detail["manager"] == "manager"
    queued = [(r.actor, r.detail["kind"], r.detail["recipient"]) for r in audit_rows(app, action="notification.queue")]
    assert queued == [
        ("timer", "escalation", "manager"),
        ("timer", "escalation", "service_desk"),
        ("service_desk", "outcome", "account_manager"),
    ]
    assert [r.actor for r in audit_rows(app, action="feedback.create")] == ["service_desk"]


def test_a_rejected_service_request_is_audited(people, app, clock):
    desk = people["service_desk"]
    client_id = new_client(people["account_manager"])
    request = people["account_manager"].post(f"/api/clients/{client_id}/service-requests", json={"title": "Spam"}).json
    triage = open_task(desk, request["instance_id"], "triage")
    assert complete(desk, triage, decision="reject", reject_reason="Duplicate").status_code == 200
    [row] = audit_rows(app, action="service_request.reject")
    assert row.actor == "service_desk" and row.detail["status"] == ["new", "cancelled"]
    assert row.detail["resolution"] == "changed"


def test_the_follow_up_cycle_is_audited_with_the_timer_and_the_owner(people, app, clock):
    admin, am = people["admin"], people["account_manager"]
    employ(admin, "account_manager", manager="exboss")
    assert admin.post("/api/accounts/exboss/deactivate").status_code in (200, 204)
    client_id = new_client(am, status="active")
    clock.advance(days=31, seconds=1)
    assert fire_timers(app) == 1
    [opened] = audit_rows(app, action="follow_up.create")
    assert opened.actor == "timer" and opened.target.startswith(f"client:{client_id}/follow-ups/")
    clock.advance(days=14, seconds=1)
    assert fire_timers(app) == 1
    [escalated] = audit_rows(app, action="follow_up.escalate")
    # The owner's manager left: the manager group is told, as for complaints and service requests.
    assert (escalated.actor, escalated.target, escalated.detail["notified"]) == ("timer", opened.target, ["manager"])
    instance_id = am.get("/api/process-instances?process_key=follow_up").json["items"][0]["id"]
    task = open_task(am, instance_id, "contact_client")
    assert complete(am, task, channel="call", outcome="needs_action", next_step="Send the forms").status_code == 200
    [done] = audit_rows(app, action="follow_up.complete")
    assert (done.actor, done.target, done.detail["outcome"]) == (
        "account_manager",
        opened.target,
        [None, "needs_action"],
    )
    [request] = audit_rows(app, action="service_request.create")
    assert request.actor == "account_manager"


def test_hand_recorded_records_are_audited_with_what_changed_personal_fields_masked(people, app, clock):
    am, admin = people["account_manager"], people["admin"]
    client_id = new_client(am)
    made = am.post(f"/api/clients/{client_id}/contacts", json={"name": "Li Wei", "phones": ["+86 138 0000 0000"]})
    assert made.status_code == 201, made.json
    target = f"client:{client_id}/contacts/{made.json['id']}"
    assert (
        am.patch(
            f"/api/clients/{client_id}/contacts/{made.json['id']}",
            json={"role": "CFO", "phones": ["+86 139 0000 0000"]},
        ).status_code
        == 200
    )
    assert am.delete(f"/api/clients/{client_id}/contacts/{made.json['id']}").status_code == 204
    rows = audit_rows(app, target=target)
    assert [(r.action, r.actor) for r in rows] == [
        ("contact.create", "account_manager"),
        ("contact.update", "account_manager"),
        ("contact.delete", "account_manager"),
    ]
    assert rows[0].detail == {"name": "changed", "phones": "changed"}
    assert rows[1].detail == {"phones": "changed", "role": [None, "CFO"]}
    feedback = am.post(f"/api/clients/{client_id}/feedback", json={"csat": 4, "comment": "Good"})
    assert feedback.status_code == 201
    [row] = audit_rows(app, action="feedback.create")
    assert row.detail["comment"] == "changed" and row.detail["csat"] == [None, 4]
    assert admin.delete(f"/api/clients/{client_id}/feedback/{feedback.json['id']}").status_code == 204
    [deleted] = audit_rows(app, action="feedback.delete")
    assert deleted.actor == "admin" and deleted.detail["soft"] is True


def test_reading_notifications_is_audited(people, app, clock):
    desk, am = people["service_desk"], people["account_manager"]
    client_id = new_client(am)
    am.post(f"/api/clients/{client_id}/service-requests", json={"title": "Spam"})
    request = am.get(f"/api/clients/{client_id}/service-requests").json["items"][0]
    triage = open_task(desk, request["instance_id"], "triage")
    assert complete(desk, triage, decision="reject", reject_reason="Duplicate").status_code == 200
    [note] = am.get("/api/me/notifications").json["items"]
    assert am.post(f"/api/me/notifications/{note['id']}/read").status_code == 200
    assert am.post(f"/api/me/notifications/{note['id']}/read").status_code == 200  # again: nothing changes
    [row] = audit_rows(app, action="notification.read")
    assert (row.actor, row.target) == ("account_manager", f"notification:{note['id']}")
    assert am.post("/api/me/notifications/read-all").status_code == 204
    assert audit_rows(app, action="notification.read_all") == []  # none was unread

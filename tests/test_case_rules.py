"""Complaints, service requests, follow-ups, escalations and notifications: one rule each, called by the
API, the BPMN handlers and the CLI alike; due times fixed when a record is received; every change audited
by the domain function in the change's transaction."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from atrium import escalation
from storage.audit import AuditEntry

from .process_helpers import (
    complete,
    deploy_firm_processes,
    employ,
    fire_timers,
    make_process_app,
    notifications,
    open_task,
    people_of,
)


@pytest.fixture
def app(db, services, clock):
    app = make_process_app(db, services)
    yield app
    app.extensions["atrium.db"].dispose()


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
    made = person.post(f"/api/clients/{client_id}/complaints",
                       json={"description": "The VAT return was filed late", "severity": "high", **fields})
    assert made.status_code == 201, made.json
    return made.json


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

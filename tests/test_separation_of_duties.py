"""Separation of duties: whoever asked for something never approves it, and a lead hands a task only
to one of its candidates (an admin may hand it to anyone, and the audit says so). The rule is a
user-task property in the BPMN (`excludedPerformer`), set on the approval, the complaint-resolution
approval and the onboarding review."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.audit import AuditEntry
from storage.db import make_session_factory

from .api_helpers import callers, deploy_firm_processes
from .factories import make_account, start_instance
from .test_process_complaint import completes, register_complaint, the_task

pytestmark = pytest.mark.app(firm=True, token_ttl_seconds=30 * 86400)


@pytest.fixture
def people(people, client):
    admin = people["admin"]
    deploy_firm_processes(admin)
    for username, roles in (
        ("manager2", ["manager"]),
        ("partner2", ["partner"]),
        ("desk_lead", ["service_desk", "manager"]),
    ):
        make_account(admin, username, roles=roles)
    return {**people, **callers(client, "partner2", "manager2", "desk_lead")}


def approval_waiting_for_decision(person, **request) -> dict:
    """`person` asks for approval of a fee (or what `request` says); returns the open `decide` task."""
    started = start_instance(person, "approval")
    [submit] = started["open_tasks"]
    data = {"kind": "fee", "amount": 2500, "justification": "Two extra site visits agreed", **request}
    done = person.post(f"/api/tasks/{submit['id']}/complete", json={"data": data})
    assert done.status_code == 200, done.json
    [decide] = person.get(f"/api/process-instances/{started['id']}").json["open_tasks"]
    assert decide["element_id"] == "decide"
    return decide


def audit_rows(app, action: str) -> list[AuditEntry]:
    with make_session_factory(app.extensions["atrium.db"])() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_a_manager_cannot_approve_their_own_fee_but_another_manager_can(people):
    manager, manager2 = people["manager"], people["manager2"]
    decide = approval_waiting_for_decision(manager)
    assert decide["candidate_groups"] == ["manager"]  # offered to managers, the requester among them

    refused = manager.post(f"/api/tasks/{decide['id']}/complete", json={"data": {"decision": "approve"}})
    assert refused.status_code == 403, refused.json
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert "separation of duties" in refused.json["detail"] and "manager" in refused.json["detail"]
    assert manager.post(f"/api/tasks/{decide['id']}/claim").status_code == 403

    approved = manager2.post(f"/api/tasks/{decide['id']}/complete", json={"data": {"decision": "approve"}})
    assert approved.status_code == 200, approved.json


def test_even_an_admin_who_requested_it_cannot_approve_it(people):
    decide = approval_waiting_for_decision(people["admin"])
    refused = people["admin"].post(f"/api/tasks/{decide['id']}/complete", json={"data": {"decision": "approve"}})
    assert refused.status_code == 403 and "separation of duties" in refused.json["detail"]


def test_a_manager_cannot_reassign_a_partners_write_off_to_themselves(people, app):
    manager, partner = people["manager"], people["partner"]
    decide = approval_waiting_for_decision(people["account_manager"], kind="write_off", amount=5000)
    assert decide["candidate_groups"] == ["partner"]

    to_self = manager.post(f"/api/tasks/{decide['id']}/assign", json={"username": "manager"})
    assert to_self.status_code == 422, to_self.json
    assert "not a candidate" in to_self.json["errors"]["username"][0]
    assert (
        manager.post(f"/api/tasks/{decide['id']}/complete", json={"data": {"decision": "approve"}}).status_code == 403
    )

    # A partner is a candidate: handing it to one is fine.
    handed = manager.post(f"/api/tasks/{decide['id']}/assign", json={"username": "partner2"})
    assert handed.status_code == 200 and handed.json["assignee"] == "partner2"
    assert partner.get(f"/api/tasks/{decide['id']}").json["assignee"] == "partner2"
    [row] = [r for r in audit_rows(app, "task.assign") if r.outcome == "success"]
    assert row.detail == {"assignee": "partner2"}


def test_an_admin_may_hand_a_task_to_a_non_candidate_and_the_audit_says_so(people, app):
    decide = approval_waiting_for_decision(people["account_manager"], kind="write_off", amount=5000)
    handed = people["admin"].post(f"/api/tasks/{decide['id']}/assign", json={"username": "manager"})
    assert handed.status_code == 200, handed.json
    [row] = [r for r in audit_rows(app, "task.assign") if r.outcome == "success"]
    assert row.actor == "admin" and row.detail == {"assignee": "manager", "not_a_candidate": True}


def test_nobody_hands_an_approval_to_the_person_who_requested_it(people):
    decide = approval_waiting_for_decision(people["manager"])
    for lead in ("manager2", "admin"):
        refused = people[lead].post(f"/api/tasks/{decide['id']}/assign", json={"username": "manager"})
        assert refused.status_code == 422, refused.json
        assert "separation of duties" in refused.json["errors"]["username"][0]


def test_the_partner_who_asked_to_onboard_a_client_does_not_approve_it(people):
    partner, partner2 = people["partner"], people["partner2"]
    started = partner.post("/api/process-instances", json={"process_key": "client_onboarding"})
    assert started.status_code == 201, started.json
    [intake] = started.json["open_tasks"]
    done = partner.post(
        f"/api/tasks/{intake['id']}/complete",
        json={
            "data": {
                "client_name": "Meridian Architects LLP",
                "kind": "organisation",
                "tier": "B",
                "owner": "account_manager",
                "engagement": {
                    "service_type": "advisory",
                    "description": "Restructuring",
                    "fee_basis": "fixed",
                    "fee_amount": 4800,
                },
            }
        },
    )
    assert done.status_code == 200, done.json
    [review] = partner.get(f"/api/process-instances/{started.json['id']}").json["open_tasks"]
    assert review["element_id"] == "review"

    refused = partner.post(f"/api/tasks/{review['id']}/complete", json={"data": {"decision": "approve"}})
    assert refused.status_code == 403 and "separation of duties" in refused.json["detail"]
    approved = partner2.post(f"/api/tasks/{review['id']}/complete", json={"data": {"decision": "approve"}})
    assert approved.status_code == 200, approved.json


def test_whoever_proposed_a_complaints_resolution_does_not_approve_it(people):
    lead, manager2 = people["desk_lead"], people["manager2"]
    complaint = register_complaint(people)
    completes(lead, complaint, "acknowledge", {"acknowledged_via": "phone"})
    completes(lead, complaint, "investigate", {"findings": "The filing reminder was missed", "root_cause": "delay"})
    completes(lead, complaint, "propose", {"resolution": "Refund the fine"})
    approve = the_task(people["admin"], complaint, "approve")
    assert approve["candidate_groups"] == ["manager"]

    refused = lead.post(f"/api/tasks/{approve['id']}/complete", json={"data": {"approved": True}})
    assert refused.status_code == 403 and "separation of duties" in refused.json["detail"]
    approved = manager2.post(f"/api/tasks/{approve['id']}/complete", json={"data": {"approved": True}})
    assert approved.status_code == 200, approved.json

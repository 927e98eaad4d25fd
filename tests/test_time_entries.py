"""Time entries on engagements: recorded at once up to ATRIUM_TIME_APPROVAL_HOURS, above it approved or
rejected by the engagement's responsible partner through the time_entry_approval process; voided by their
author or a lead until invoiced; visibility as clients; integrations with `time:write`."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.audit import AuditEntry

from .billing_helpers import billing_people, client_of, engagement_of, events_of, integration_key

pytestmark = pytest.mark.app(firm=True)


@pytest.fixture
def people(app):
    return billing_people(app)


@pytest.fixture
def engagement(people):
    client_id = client_of(people["partner"])
    return engagement_of(people["partner"], client_id, responsible="partner")


def url(engagement) -> str:
    return f"/api/engagements/{engagement['id']}/time-entries"


def entry(**changes) -> dict:
    body = {"work_date": "2026-11-27", "hours": "3.50", "description": "Fieldwork"}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def audit_actions(app, target_prefix: str) -> list[str]:
    with app.extensions["atrium.engine"].transaction() as session:
        return [
            a.action
            for a in session.scalars(
                select(AuditEntry).where(AuditEntry.target.startswith(target_prefix)).order_by(AuditEntry.id)
            )
        ]


def test_time_up_to_the_threshold_is_recorded_with_its_audit_row_and_event(app, people, engagement):
    made = people["account_manager"].post(url(engagement), json=entry(hours="8.00"))
    assert made.status_code == 201, made.json
    body = made.json
    assert (body["status"], body["person"], body["hours"], body["billable"]) == (
        "recorded",
        "account_manager",
        "8.00",
        True,
    )
    assert body["instance_id"] is None and body["recorded_by"] == "account_manager"
    assert audit_actions(app, f"client:{engagement['client_id']}/time-entries/") == ["time_entry.create"]
    [event] = events_of(app, engagement["client_id"], "time_entry")
    assert event.type == "time_entry.recorded" and event.actor == "account_manager"
    assert event.data == {
        "client_id": engagement["client_id"],
        "engagement_id": engagement["id"],
        "time_entry_id": body["id"],
        "person": "account_manager",
        "work_date": "2026-11-27",
        "hours": "8.00",
        "billable": True,
        "status": "recorded",
    }
    assert people["viewer"].get(f"{url(engagement)}/{body['id']}").json["id"] == body["id"]
    listed = people["account_manager"].get(url(engagement)).json
    assert (listed["total"], [e["id"] for e in listed["items"]]) == (1, [body["id"]])


def pending(people, engagement, hours="8.01", by="account_manager") -> dict:
    made = people[by].post(url(engagement), json=entry(hours=hours))
    assert made.status_code == 201, made.json
    assert made.json["status"] == "pending_approval" and made.json["instance_id"]
    return made.json


def approval_task(person, instance_id: str) -> dict:
    [task] = person.get(f"/api/process-instances/{instance_id}").json["open_tasks"]
    return task


def test_above_the_threshold_it_waits_for_the_responsible_partner_who_approves(app, people):
    engagement = engagement_of(people["partner"], client_of(people["partner"]), responsible="partner")
    waiting = pending(people, engagement)
    assert events_of(app, engagement["client_id"], "time_entry") == []  # not counted yet
    task = approval_task(people["partner"], waiting["instance_id"])
    assert (task["element_id"], task["assignee"]) == ("approve", "partner")
    assert "8.01" in task["subject"] and "account_manager" in task["subject"]
    done = people["partner"].post(f"/api/tasks/{task['id']}/complete", json={"data": {"approved": True}})
    assert done.status_code == 200, done.json
    after = people["account_manager"].get(f"{url(engagement)}/{waiting['id']}").json
    assert (after["status"], after["decided_by"]) == ("approved", "partner")
    [event] = events_of(app, engagement["client_id"], "time_entry")
    assert (event.type, event.data["status"], event.actor) == ("time_entry.recorded", "approved", "partner")
    assert audit_actions(app, f"client:{engagement['client_id']}/time-entries/") == [
        "time_entry.create",
        "time_entry.approve",
    ]


def test_a_rejected_entry_is_audited_and_never_announced(app, people):
    engagement = engagement_of(people["partner"], client_of(people["partner"]), responsible="partner")
    waiting = pending(people, engagement, hours="12")
    task = approval_task(people["partner"], waiting["instance_id"])
    done = people["partner"].post(
        f"/api/tasks/{task['id']}/complete", json={"data": {"approved": False, "comment": "Too long for one day"}}
    )
    assert done.status_code == 200, done.json
    after = people["partner"].get(f"{url(engagement)}/{waiting['id']}").json
    assert after["status"] == "rejected"
    assert events_of(app, engagement["client_id"], "time_entry") == []
    assert audit_actions(app, f"client:{engagement['client_id']}/time-entries/")[-1] == "time_entry.reject"


def test_without_a_responsible_the_partners_group_decides_and_the_recorder_may_not(app, people):
    client_id = client_of(people["partner"])
    engagement = engagement_of(people["partner"], client_id)
    waiting = pending(people, engagement, by="partner")
    task = approval_task(people["admin"], waiting["instance_id"])
    assert task["assignee"] is None and task["candidate_groups"] == ["partner"]
    refused = people["partner"].post(f"/api/tasks/{task['id']}/complete", json={"data": {"approved": True}})
    assert refused.status_code == 403, refused.json  # who recorded the time does not approve it


def test_voiding_takes_the_entry_away_and_announces_it_and_a_pending_one_cancels_its_approval(app, people, engagement):
    am = people["account_manager"]
    counted = am.post(url(engagement), json=entry()).json
    assert people["service_desk"].delete(f"{url(engagement)}/{counted['id']}").status_code == 403
    assert am.delete(f"{url(engagement)}/{counted['id']}").status_code == 204
    assert am.get(f"{url(engagement)}/{counted['id']}").status_code == 404
    types = [e.type for e in events_of(app, engagement["client_id"], "time_entry")]
    assert types == ["time_entry.recorded", "time_entry.voided"]
    waiting = pending(people, engagement)
    assert people["manager"].delete(f"{url(engagement)}/{waiting['id']}").status_code == 204  # a lead may
    instance = people["admin"].get(f"/api/process-instances/{waiting['instance_id']}").json
    assert instance["status"] == "cancelled" and instance["open_tasks"] == []
    actions = audit_actions(app, f"client:{engagement['client_id']}/time-entries/")
    assert actions.count("time_entry.void") == 2


def test_an_invoiced_entry_cannot_be_voided(app, people, engagement):
    made = people["account_manager"].post(url(engagement), json=entry()).json
    requested = people["partner"].post(f"/api/engagements/{engagement['id']}/invoice-requests", json={})
    assert requested.status_code == 201, requested.json
    refused = people["account_manager"].delete(f"{url(engagement)}/{made['id']}")
    assert refused.status_code == 409 and "invoice request" in refused.json["detail"]


def test_leads_and_integrations_name_the_person_staff_only_themselves(app, client, people, engagement):
    assert people["account_manager"].post(url(engagement), json=entry(person="manager")).status_code == 403
    by_lead = people["manager"].post(url(engagement), json=entry(person="account_manager"))
    assert by_lead.status_code == 201 and by_lead.json["person"] == "account_manager"
    unknown = people["manager"].post(url(engagement), json=entry(person="nobody"))
    assert unknown.status_code == 422 and "person" in unknown.json["errors"]
    timesheet = integration_key(people["admin"], client, "timesheets", "time:write")
    no_key = timesheet.post(url(engagement), json=entry(person="account_manager"))
    assert no_key.status_code == 422 and "Idempotency-Key" in no_key.json["errors"]
    headers = {"Idempotency-Key": "ts-1"}
    made = timesheet.post(url(engagement), json=entry(person="account_manager"), headers=headers)
    assert made.status_code == 201, made.json
    assert made.json["recorded_by"] == "integration:timesheets"
    again = timesheet.post(url(engagement), json=entry(person="account_manager"), headers=headers)
    assert again.status_code == 201 and again.json["id"] == made.json["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    nameless = timesheet.post(url(engagement), json=entry(), headers={"Idempotency-Key": "ts-2"})
    assert nameless.status_code == 422 and "person" in nameless.json["errors"]
    finance = integration_key(people["admin"], client, "kingdee", "invoices:write")
    assert finance.post(url(engagement), json=entry(), headers={"Idempotency-Key": "k"}).status_code == 403
    assert timesheet.get(url(engagement)).status_code == 403  # reading is for people


# Attacks ------------------------------------------------------------------------------------------------


def test_unauthenticated_callers_are_refused(client, people, engagement):
    assert client.get(url(engagement)).status_code == 401
    assert client.post(url(engagement), json=entry()).status_code == 401
    assert client.get(f"{url(engagement)}/1").status_code == 401
    assert client.delete(f"{url(engagement)}/1").status_code == 401


def test_a_viewer_may_read_but_not_record_or_void(people, engagement):
    made = people["account_manager"].post(url(engagement), json=entry()).json
    assert people["viewer"].post(url(engagement), json=entry()).status_code == 403
    assert people["viewer"].delete(f"{url(engagement)}/{made['id']}").status_code == 403
    assert people["viewer"].get(url(engagement)).status_code == 200


def test_another_team_s_engagement_is_not_found(people):
    client_id = client_of(people["partner"], owner="am_audit")
    other = engagement_of(people["partner"], client_id, responsible="partner")
    made = people["am_audit"].post(url(other), json=entry())
    assert made.status_code == 201
    for response in (
        people["am_tax"].get(url(other)),
        people["am_tax"].post(url(other), json=entry()),
        people["am_tax"].get(f"{url(other)}/{made.json['id']}"),
        people["am_tax"].delete(f"{url(other)}/{made.json['id']}"),
    ):
        assert response.status_code == 404, response.json
        assert response.json["detail"] == f"engagement {other['id']} not found"
    assert people["am_tax"].get("/api/engagements/999999/time-entries").status_code == 404


def test_an_entry_of_another_engagement_is_not_found_under_this_one(people, engagement):
    second = engagement_of(people["partner"], engagement["client_id"])
    made = people["account_manager"].post(url(second), json=entry()).json
    assert people["account_manager"].get(f"{url(engagement)}/{made['id']}").status_code == 404


@pytest.mark.parametrize(
    "body, field",
    [
        (entry(hours="-1"), "hours"),
        (entry(hours="0"), "hours"),
        (entry(hours="24.01"), "hours"),
        (entry(hours="1.005"), "hours"),
        (entry(hours="NaN"), "hours"),
        (entry(hours=None), "hours"),
        (entry(work_date="yesterday"), "work_date"),
        (entry(work_date=None), "work_date"),
        (entry(billable="perhaps"), "billable"),
        (entry(description="x" * 2001), "description"),
        (entry(status="approved"), "status"),
        (entry(invoice_request_id=1), "invoice_request_id"),
        (entry(description="nul\x00byte"), "description"),
    ],
)
def test_hostile_input_is_a_422_naming_the_field(people, engagement, body, field):
    refused = people["account_manager"].post(url(engagement), json=body)
    assert refused.status_code == 422, refused.json
    assert field in refused.json["errors"]


def test_a_cancelled_engagement_takes_no_time(people):
    client_id = client_of(people["partner"])
    cancelled = engagement_of(people["partner"], client_id, status="cancelled")
    refused = people["account_manager"].post(url(cancelled), json=entry())
    assert refused.status_code == 422 and "engagement_id" in refused.json["errors"]


def test_problems_are_in_chinese_for_a_chinese_reader(people, engagement):
    refused = people["account_manager"].post(
        url(engagement), json=entry(person="manager"), headers={"Accept-Language": "zh-CN"}
    )
    assert refused.status_code == 403 and refused.json["detail"] == "您只能登记自己的工时"
    missing = people["account_manager"].get(
        "/api/engagements/999999/time-entries", headers={"Accept-Language": "zh-CN"}
    )
    assert missing.json["detail"].startswith("未找到") and "999999" in missing.json["detail"]


@pytest.mark.app(firm=True, time_approval_hours=__import__("decimal").Decimal("4"))
def test_the_threshold_is_a_setting(people, engagement):
    assert people["account_manager"].post(url(engagement), json=entry(hours="4")).json["status"] == "recorded"
    assert people["account_manager"].post(url(engagement), json=entry(hours="4.25")).json["status"] == (
        "pending_approval"
    )


def test_a_partner_does_not_approve_a_long_day_recorded_for_them_by_someone_else(app, people):
    # Review finding: the responsible partner's own time goes to the partners' group, and they were not
    # excluded from it when a lead (or a timesheet system) recorded it for them.
    engagement = engagement_of(people["partner"], client_of(people["partner"]), responsible="partner")
    made = people["manager"].post(url(engagement), json=entry(hours="12.00", person="partner"))
    assert made.status_code == 201 and made.json["status"] == "pending_approval", made.json
    task = approval_task(people["admin"], made.json["instance_id"])
    assert task["assignee"] is None and task["candidate_groups"] == ["partner"]
    refused = people["partner"].post(f"/api/tasks/{task['id']}/complete", json={"data": {"approved": True}})
    assert refused.status_code == 403, refused.json


def test_an_approver_s_comment_is_not_written_into_the_audit_trail(app, people):
    # Review finding: audit rows cannot be altered or erased, so free text stays out of them.
    engagement = engagement_of(people["partner"], client_of(people["partner"]), responsible="partner")
    waiting = pending(people, engagement)
    task = approval_task(people["partner"], waiting["instance_id"])
    comment = {"approved": False, "comment": "Zebulon Quixote said so"}
    assert people["partner"].post(f"/api/tasks/{task['id']}/complete", json={"data": comment}).status_code == 200
    with app.extensions["atrium.engine"].transaction() as session:
        details = [str(a.detail) for a in session.scalars(select(AuditEntry))]
    assert not [d for d in details if "Zebulon" in d]

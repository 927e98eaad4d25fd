"""The complaint process through HTTP: the service desk registers and acknowledges a complaint within
24 hours (else a manager is alerted), investigates and proposes a resolution, a manager approves it
or sends it back, the client's feedback closes it, and the complaint record keeps the times."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest

from atrium.settings import PROJECT_ROOT
from engine.handlers import complaint as complaint_handlers
from engine.scheduler import fire_due_timers
from storage.accounts import ROLES

from .api_helpers import caller, callers, events_of, make_app
from .factories import make_account, make_client

COMPLAINT_FILES = [
    PROJECT_ROOT / "processes" / "complaint.bpmn",
    *sorted((PROJECT_ROOT / "forms").glob("complaint_*.json")),
]


def build_app(db, services, **settings):
    complaint_handlers.register(services)
    # Tokens that outlive the days the clock is moved by.
    app = make_app(db, services, token_ttl_seconds=30 * 86400, **settings)
    client = app.test_client()
    admin = caller(client, "admin")
    files = [(io.BytesIO(path.read_bytes()), path.name) for path in COMPLAINT_FILES]
    deployed = admin.post("/api/deployments", data={"files": files}, content_type="multipart/form-data")
    assert deployed.status_code == 201, deployed.json
    make_account(admin, "manager2", roles=["manager"])
    return app


pytestmark = pytest.mark.app(build=build_app)


def people_of(app):
    return callers(app.test_client(), *ROLES, "manager2")


@pytest.fixture
def people(app):
    return people_of(app)


@pytest.fixture
def desk_reports_to_manager(people):
    """The service desk employee's manager is `manager`: approvals and escalations go to them."""
    made = people["admin"].post(
        "/api/employees", json={"name": "Dana Desk", "username": "service_desk", "manager": "manager"}
    )
    assert made.status_code == 201, made.json


def new_client(person) -> int:
    return make_client(person, minimal=True, name="Harbour Logistics Ltd", tier="A", status="active")["id"]


def register_complaint(people, client_id: int | None = None, **fields) -> dict:
    client_id = client_id or new_client(people["partner"])
    body = {"description": "The VAT return was filed late and we were fined", "severity": "high", **fields}
    made = people["service_desk"].post(f"/api/clients/{client_id}/complaints", json=body)
    assert made.status_code == 201, made.json
    return made.json


def complaint_now(person, complaint) -> dict:
    got = person.get(f"/api/clients/{complaint['client_id']}/complaints/{complaint['id']}")
    assert got.status_code == 200, got.json
    return got.json


def open_tasks(person, complaint) -> list[dict]:
    listed = person.get(f"/api/tasks?instance_id={complaint['instance_id']}")
    assert listed.status_code == 200, listed.json
    return listed.json["items"]


def the_task(person, complaint, element_id) -> dict:
    tasks = [t for t in open_tasks(person, complaint) if t["element_id"] == element_id]
    assert len(tasks) == 1, open_tasks(person, complaint)
    return tasks[0]


def complete(person, complaint, element_id, data):
    task = the_task(person, complaint, element_id)
    return person.post(f"/api/tasks/{task['id']}/complete", json={"data": data})


def completes(person, complaint, element_id, data) -> None:
    done = complete(person, complaint, element_id, data)
    assert done.status_code == 200, done.json


def notifications(person, **filters) -> list[dict]:
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    listed = person.get(f"/api/notifications?{query}")
    assert listed.status_code == 200, listed.json
    return listed.json["items"]


def fire_timers(app) -> int:
    return fire_due_timers(app.extensions["atrium.engine"])


def statuses(complaint) -> list[str]:
    return [t["status"] for t in complaint["transitions"]]


def test_complaint_acknowledged_in_time_runs_to_closure_with_its_times_on_the_record(
    app, people, clock, desk_reports_to_manager
):
    desk, manager = people["service_desk"], people["manager"]
    received = clock.now()
    complaint = register_complaint(people)
    assert complaint["status"] == "registered" and complaint["instance_id"] is not None
    instance = people["admin"].get(f"/api/process-instances/{complaint['instance_id']}").json
    assert instance["business_key"] == f"client:{complaint['client_id']}" and instance["process_key"] == "complaint"

    acknowledge = the_task(desk, complaint, "acknowledge")
    assert acknowledge["candidate_groups"] == ["service_desk"] and acknowledge["assignee"] is None
    assert acknowledge["due"] == (received + timedelta(hours=24)).isoformat()

    clock.advance(hours=2)
    completes(desk, complaint, "acknowledge", {"acknowledged_via": "phone"})
    record = complaint_now(desk, complaint)
    assert record["status"] == "investigating" and record["seconds_to_acknowledge"] == 2 * 3600

    clock.advance(hours=30)  # well past the deadline, but it was met: nobody is alerted
    assert fire_timers(app) == 0
    assert complaint_now(desk, complaint)["escalated_at"] is None
    assert notifications(manager, kind="escalation") == []

    clock.advance(hours=4)
    completes(desk, complaint, "investigate", {"findings": "The filing reminder was missed", "root_cause": "delay"})
    completes(desk, complaint, "propose", {"resolution": "Refund the fine and waive this quarter's fee"})
    record = complaint_now(desk, complaint)
    assert record["status"] == "resolution_proposed"
    assert record["resolution"] == "Refund the fine and waive this quarter's fee"

    # The approval goes to the registrant's manager, who is told so.
    approve = the_task(manager, complaint, "approve")
    assert approve["assignee"] == "manager"
    told = notifications(manager, kind="task_assigned")
    assert [(n["subject"], n["status"]) for n in told] == [("Task assigned to you: Approve resolution", "queued")]
    assert str(approve["id"]) in told[0]["body"]

    clock.advance(hours=1)
    completes(manager, complaint, "approve", {"approved": True})
    record = complaint_now(desk, complaint)
    assert record["status"] == "resolved" and record["seconds_to_resolve"] == (2 + 30 + 4 + 1) * 3600

    clock.advance(days=2)
    completes(desk, complaint, "feedback", {"satisfaction": 4, "client_comment": "Handled fairly, if slowly"})
    record = complaint_now(desk, complaint)
    assert record["status"] == "closed" and record["satisfaction"] == 4
    assert record["closed_at"] == (received + timedelta(hours=37, days=2)).isoformat()
    # The finance system hears of it, without the complaint's or the client's words (issue 15).
    [closed] = [e for e in events_of(app, "client", record["client_id"]) if e["type"] == "complaint.closed"]
    assert closed["data"] == {
        "client_id": record["client_id"],
        "complaint_id": complaint["id"],
        "severity": record["severity"],
        "closed_at": record["closed_at"],
    }
    assert record["seconds_to_close"] == 37 * 3600 + 2 * 86400
    assert statuses(record) == [
        "registered",
        "acknowledged",
        "investigating",
        "resolution_proposed",
        "resolved",
        "closed",
    ]
    assert [t["by"] for t in record["transitions"]] == [
        "service_desk",
        "service_desk",
        "service_desk",
        "service_desk",
        "manager",
        "service_desk",
    ]
    assert record["transitions"][1]["at"] == record["acknowledged_at"]

    feedback = desk.get(f"/api/clients/{complaint['client_id']}/feedback").json["items"]
    assert [(f["csat"], f["comment"], f["subject_type"], f["subject_id"], f["created_by"]) for f in feedback] == [
        (4, "Handled fairly, if slowly", "complaint", complaint["id"], "service_desk")
    ]
    outcome = notifications(desk, kind="outcome")
    assert [n["subject"] for n in outcome] == [
        "Complaint #%d from Harbour Logistics Ltd closed, satisfaction 4/5" % complaint["id"]
    ]
    instance = people["admin"].get(f"/api/process-instances/{complaint['instance_id']}").json
    assert instance["status"] == "completed"


def test_manager_sends_the_proposed_resolution_back_to_investigation(app, people, clock, desk_reports_to_manager):
    desk, manager = people["service_desk"], people["manager"]
    complaint = register_complaint(people, severity="medium")
    completes(desk, complaint, "acknowledge", {"acknowledged_via": "email"})
    completes(desk, complaint, "investigate", {"findings": "Invoice duplicated by the billing run"})
    completes(desk, complaint, "propose", {"resolution": "Apologise"})

    without_reason = complete(manager, complaint, "approve", {"approved": False})
    assert without_reason.status_code == 422 and "data.manager_comment" in without_reason.json["errors"]
    completes(manager, complaint, "approve", {"approved": False, "manager_comment": "Also credit the duplicate"})

    record = complaint_now(desk, complaint)
    assert record["status"] == "investigating" and record["resolved_at"] is None
    assert [t["element_id"] for t in open_tasks(desk, complaint)] == ["investigate"]
    assert statuses(record) == ["registered", "acknowledged", "investigating", "resolution_proposed", "investigating"]

    completes(desk, complaint, "investigate", {"findings": "Invoice duplicated; the client paid both"})
    completes(desk, complaint, "propose", {"resolution": "Apologise and credit the duplicate invoice"})
    assert len(notifications(manager, kind="task_assigned")) == 2  # told of each approval task
    completes(manager, complaint, "approve", {"approved": True, "manager_comment": "Good"})
    record = complaint_now(desk, complaint)
    assert record["status"] == "resolved" and record["resolution"] == "Apologise and credit the duplicate invoice"
    assert [t["element_id"] for t in open_tasks(desk, complaint)] == ["feedback"]


def test_a_complaint_not_acknowledged_within_24_hours_is_escalated_to_the_registrants_manager(
    app, people, clock, desk_reports_to_manager
):
    desk, manager = people["service_desk"], people["manager"]
    received = clock.now()
    complaint = register_complaint(people)

    clock.advance(hours=23, minutes=59)
    assert fire_timers(app) == 0
    assert complaint_now(desk, complaint)["escalated_at"] is None

    clock.advance(minutes=2)
    assert fire_timers(app) == 1
    record = complaint_now(desk, complaint)
    assert record["escalated_at"] == (received + timedelta(hours=24, minutes=1)).isoformat()
    assert record["escalated_to"] == "manager" and record["status"] == "registered"
    alerts = notifications(manager, kind="escalation")
    assert [a["subject"] for a in alerts] == [
        f"Complaint #{complaint['id']} from Harbour Logistics Ltd not acknowledged in time"
    ]
    assert alerts[0]["instance_id"] == complaint["instance_id"] and alerts[0]["status"] == "queued"
    [bell] = manager.get("/api/me/notifications").json["items"]  # the web app's bell links to the client
    assert bell["subject"] == alerts[0]["subject"] and bell["link"] == {"kind": "client", "id": complaint["client_id"]}
    assert notifications(people["manager2"], kind="escalation") == []
    history = people["admin"].get(f"/api/process-instances/{complaint['instance_id']}/history").json["items"]
    assert any(h["element_id"] == "escalate" and h["event"] == "completed" for h in history)

    # The acknowledgement is still open (the timer does not interrupt it), and only one alert goes out.
    clock.advance(days=3)
    assert fire_timers(app) == 0
    completes(desk, complaint, "acknowledge", {"acknowledged_via": "letter"})
    record = complaint_now(desk, complaint)
    assert record["seconds_to_acknowledge"] == (24 + 72) * 3600 + 60
    assert record["status"] == "investigating"
    assert len(notifications(manager, kind="escalation")) == 1


def test_without_a_recorded_manager_every_manager_is_alerted_after_the_configured_time(db, services, clock):
    app = build_app(db, services, complaint_acknowledge_hours=4)
    try:
        people = people_of(app)
        complaint = register_complaint(people)
        assert (
            the_task(people["service_desk"], complaint, "acknowledge")["due"]
            == (clock.now() + timedelta(hours=4)).isoformat()
        )
        clock.advance(hours=4, seconds=1)
        assert fire_timers(app) == 1
        assert complaint_now(people["service_desk"], complaint)["escalated_to"] == "manager, manager2"
        for name in ("manager", "manager2"):
            assert len(notifications(people[name], kind="escalation")) == 1
        # With no manager of the registrant, the approval is offered to all managers, unassigned.
        desk = people["service_desk"]
        completes(desk, complaint, "acknowledge", {"acknowledged_via": "meeting"})
        completes(desk, complaint, "investigate", {"findings": "x"})
        completes(desk, complaint, "propose", {"resolution": "y"})
        approve = the_task(people["manager2"], complaint, "approve")
        assert approve["assignee"] is None and approve["candidate_groups"] == ["manager"]
        assert notifications(people["manager2"], kind="task_assigned") == []
    finally:
        app.extensions["atrium.db"].dispose()


def test_a_complaint_received_by_letter_two_days_ago_is_escalated_at_once(app, people, clock, desk_reports_to_manager):
    received = clock.now() - timedelta(days=2)
    complaint = register_complaint(people, received_at=received.isoformat())
    assert complaint["escalated_at"] == clock.now().isoformat() and complaint["received_at"] == received.isoformat()
    alerts = notifications(people["manager"], kind="escalation")
    assert [a["instance_id"] for a in alerts] == [complaint["instance_id"]]
    assert fire_timers(app) == 0 and len(notifications(people["manager"], kind="escalation")) == 1
    assert (
        the_task(people["service_desk"], complaint, "acknowledge")["due"]
        == (received + timedelta(hours=24)).isoformat()
    )


def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(app, people, clock, desk_reports_to_manager):
    desk = people["service_desk"]
    client_id = new_client(people["partner"])
    bad = desk.post(f"/api/clients/{client_id}/complaints", json={"description": "", "severity": "dire"})
    assert bad.status_code == 422 and {"description", "severity"} <= set(bad.json["errors"])
    assert desk.get(f"/api/clients/{client_id}/complaints").json["total"] == 0
    assert people["admin"].get("/api/process-instances?process_key=complaint").json["total"] == 0

    complaint = register_complaint(people, client_id)
    missing = complete(desk, complaint, "acknowledge", {})
    assert missing.status_code == 422 and "data.acknowledged_via" in missing.json["errors"]
    wrong = complete(desk, complaint, "acknowledge", {"acknowledged_via": "pigeon"})
    assert wrong.status_code == 422 and "data.acknowledged_via" in wrong.json["errors"]
    completes(desk, complaint, "acknowledge", {"acknowledged_via": "email"})
    empty = complete(desk, complaint, "investigate", {"findings": ""})
    assert empty.status_code == 422 and "data.findings" in empty.json["errors"]
    completes(desk, complaint, "investigate", {"findings": "Late filing"})
    completes(desk, complaint, "propose", {"resolution": "Refund"})
    not_bool = complete(people["manager"], complaint, "approve", {"approved": "yes"})
    assert not_bool.status_code == 422 and "data.approved" in not_bool.json["errors"]
    completes(people["manager"], complaint, "approve", {"approved": True})
    for satisfaction in (0, 6, "5", 4.5):
        refused = complete(desk, complaint, "feedback", {"satisfaction": satisfaction})
        assert refused.status_code == 422 and "data.satisfaction" in refused.json["errors"], satisfaction
    assert complaint_now(desk, complaint)["status"] == "resolved"
    assert desk.get(f"/api/clients/{complaint['client_id']}/feedback").json["total"] == 0
    completes(desk, complaint, "feedback", {"satisfaction": 5})  # the comment is optional
    record = complaint_now(desk, complaint)
    assert record["status"] == "closed" and record["satisfaction"] == 5
    feedback = desk.get(f"/api/clients/{complaint['client_id']}/feedback").json["items"]
    assert [(f["csat"], f["comment"]) for f in feedback] == [(5, None)]


def test_only_the_right_people_may_act_on_each_step(app, people, clock, desk_reports_to_manager):
    desk, manager = people["service_desk"], people["manager"]
    client_id = new_client(people["partner"])
    refused = people["viewer"].post(f"/api/clients/{client_id}/complaints", json={"description": "Rude reply"})
    assert refused.status_code == 403

    complaint = register_complaint(people, client_id)
    acknowledge = the_task(desk, complaint, "acknowledge")

    def attempt(name, task, data):
        return people[name].post(f"/api/tasks/{task['id']}/complete", json={"data": data}).status_code

    # Offered to the service desk only: a partner sees it but may not do it, a viewer may do no task,
    # and an account manager does not even see it.
    assert attempt("partner", acknowledge, {"acknowledged_via": "email"}) == 403
    assert attempt("viewer", acknowledge, {"acknowledged_via": "email"}) == 403
    assert attempt("account_manager", acknowledge, {"acknowledged_via": "email"}) == 404
    assert complaint_now(desk, complaint)["acknowledged_at"] is None
    completes(desk, complaint, "acknowledge", {"acknowledged_via": "email"})
    completes(desk, complaint, "investigate", {"findings": "Late filing"})
    completes(desk, complaint, "propose", {"resolution": "Refund"})

    approve = the_task(manager, complaint, "approve")
    # Assigned to the desk's manager: another manager may not decide it, nor may the desk.
    assert attempt("manager2", approve, {"approved": True}) == 403
    assert attempt("service_desk", approve, {"approved": True}) == 404
    assert complaint_now(desk, complaint)["status"] == "resolution_proposed"
    completes(manager, complaint, "approve", {"approved": True})
    assert complaint_now(desk, complaint)["status"] == "resolved"


def test_a_complaint_is_kept_even_when_the_process_is_not_deployed(db, services, clock):
    app = make_app(db, services)
    try:
        people = {name: caller(app.test_client(), name) for name in ("partner", "service_desk")}
        complaint = register_complaint(people)
        assert complaint["instance_id"] is None and statuses(complaint) == ["registered"]
    finally:
        app.extensions["atrium.db"].dispose()

"""The service_request process through HTTP: a request recorded by staff is triaged by the service desk,
assigned, worked with knowledge-base articles at hand, escalated when its SLA passes, resolved, rated by
the client and closed; the request record follows every step."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from .api_helpers import events_of
from .factories import make_client
from .process_helpers import (
    PROCESS_APP,
    complete,
    deploy_firm_processes,
    employ,
    fire_timers,
    make_process_app,
    notifications,
    open_elements,
    open_task,
    people_of,
)

pytestmark = PROCESS_APP


@pytest.fixture
def people(client):
    people = people_of(client, ("sam", "service_desk"), ("mia", "manager"))
    deploy_firm_processes(people["admin"])
    return people


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def new_client(person, **fields) -> int:
    body = {"name": "Harbour Logistics Ltd", "tier": "B", "status": "prospect", "owner": "account_manager", **fields}
    return make_client(person, minimal=True, **body)["id"]


def raise_request(person, client_id: int, **fields) -> dict:
    made = person.post(
        f"/api/clients/{client_id}/service-requests",
        json={
            "title": "Penalty for a late VAT return",
            "content": "The client got a penalty notice for last quarter's VAT "
            "return and asks whether we can appeal it.",
            **fields,
        },
    )
    assert made.status_code == 201, made.json
    return made.json


def request_record(person, request: dict) -> dict:
    return person.get(f"/api/clients/{request['client_id']}/service-requests/{request['id']}").json


def triage_and_assign(people, request: dict, *, priority: str, assignee: str = "sam") -> None:
    desk = people["service_desk"]
    triage = open_task(desk, request["instance_id"], "triage")
    assert complete(desk, triage, decision="accept", type="tax", priority=priority).status_code == 200
    assign = open_task(desk, request["instance_id"], "assign")
    assert complete(desk, assign, assignee=assignee).status_code == 200


def test_desk_triages_the_assignee_resolves_with_articles_at_hand_and_the_rated_request_closes(people, clock):
    admin, desk, sam = people["admin"], people["service_desk"], people["sam"]
    for title, service_type, body in [
        ("Appealing a VAT penalty", "tax", "How to appeal a penalty for a late VAT return: deadlines and forms."),
        ("VAT return deadlines", "tax", "When each VAT return is due."),
        ("Late filing of annual accounts", "audit", "Penalty for late accounts at the registry."),
        ("Resetting a portal password", "it", "Forgotten passwords and locked accounts."),
    ]:
        assert (
            desk.post(
                "/api/knowledge-articles", json={"title": title, "body": body, "service_type": service_type}
            ).status_code
            == 201
        )
    client_id = new_client(people["account_manager"])
    received_at = clock.now()
    request = raise_request(desk, client_id)
    assert request["status"] == "new" and request["instance_id"] is not None
    instance = people["viewer"].get(f"/api/process-instances/{request['instance_id']}").json
    assert instance["business_key"] == f"client:{client_id}" and instance["current_activities"] == ["triage"]

    # Only the service desk triages; the form shows the request and refuses incomplete answers.
    triage = open_task(desk, request["instance_id"], "triage")
    assert triage["candidate_groups"] == ["service_desk"] and triage["data"]["title"] == request["title"]
    assert complete(people["manager"], triage, decision="accept", type="tax", priority="high").status_code == 403
    assert complete(people["viewer"], triage, decision="accept", type="tax", priority="high").status_code == 403
    missing = complete(desk, triage, decision="accept", priority="whenever")
    assert missing.status_code == 422 and {"data.type", "data.priority"} <= set(missing.json["errors"])
    assert complete(desk, triage, decision="accept", type="tax", priority="high", request_id=1).status_code == 422
    assert complete(desk, triage, decision="accept", type="tax", priority="high").status_code == 200
    record = request_record(desk, request)
    assert (record["status"], record["type"], record["priority"]) == ("triaged", "tax", "high")
    assert _at(record["sla_due_at"]) == received_at + timedelta(days=1)  # high: one day from receipt

    # The assignee field is a picker of the service desk's people: anyone else is refused on that field.
    assign = open_task(desk, request["instance_id"], "assign")
    assert assign["form"]["schema"]["properties"]["assignee"]["format"] == "atrium-user"
    for nobody in ("ghost", "mia"):  # no account; a manager, not the service desk
        refused = complete(desk, assign, assignee=nobody)
        assert refused.status_code == 422 and set(refused.json["errors"]) == {"data.assignee"}
    assert open_task(desk, request["instance_id"], "assign")["id"] == assign["id"]
    assert request_record(desk, request)["assignee"] is None
    assert complete(desk, assign, assignee="sam").status_code == 200
    record = request_record(desk, request)
    assert (record["status"], record["assignee"]) == ("assigned", "sam")
    assert [n["subject"] for n in notifications(admin, "sam", "task_assigned")] == [
        "Task assigned to you: Work on the request"
    ]

    # The work lands with sam, due at the SLA, with the matching articles of the request's type first.
    work = open_task(sam, request["instance_id"], "work")
    assert work["assignee"] == "sam" and _at(work["due"]) == _at(record["sla_due_at"]) and work["priority"] == 70
    assert [a["title"] for a in work["data"]["suggested_articles"]] == [
        "Appealing a VAT penalty",
        "VAT return deadlines",
        "Late filing of annual accounts",
    ]
    assert (
        complete(desk, work, resolution="done").status_code == 404
    )  # sam's now: the rest of the desk no longer sees it
    assert "data.resolution" in complete(sam, work).json["errors"]
    clock.advance(hours=3)
    assert complete(sam, work, resolution="Appeal lodged; penalty waived.").status_code == 200
    record = request_record(desk, request)
    assert (record["status"], record["resolution"]) == ("resolved", "Appeal lodged; penalty waived.")
    assert _at(record["resolved_at"]) == clock.now() and record["closed_at"] is None
    assert [n["kind"] for n in notifications(admin, "service_desk")] == ["outcome"]  # the requester hears
    # The finance system hears of it: codes and identifiers, never the resolution's words (issue 15).
    resolved = [e for e in events_of(desk.client.application, "client", client_id) if e["type"] != "client.created"]
    assert [(e["type"], e["actor"]) for e in resolved] == [("service_request.resolved", "sam")]
    assert resolved[0]["data"] == {
        "client_id": client_id,
        "request_id": request["id"],
        "priority": record["priority"],
        "type": record["type"],
        "resolved_at": record["resolved_at"],
    }

    # The desk records the client's satisfaction, and the request closes with it.
    rate = open_task(desk, request["instance_id"], "rate")
    assert rate["data"]["resolution"] == "Appeal lodged; penalty waived."
    assert "data.rating" in complete(desk, rate, rating=6).json["errors"]
    assert complete(desk, rate, rating=4, rating_comment="Quick and clear").status_code == 200
    record = request_record(desk, request)
    assert (record["status"], record["rating"]) == ("closed", 4) and _at(record["closed_at"]) == clock.now()
    feedback = desk.get(f"/api/clients/{client_id}/feedback").json["items"]
    assert [(f["csat"], f["subject_type"], f["subject_id"], f["comment"]) for f in feedback] == [
        (4, "service_request", request["id"], "Quick and clear")
    ]
    assert people["viewer"].get(f"/api/process-instances/{request['instance_id']}").json["status"] == "completed"


def test_a_passed_sla_escalates_to_the_assignees_manager_while_the_work_goes_on(people, app, clock):
    admin, desk, sam, manager = people["admin"], people["service_desk"], people["sam"], people["manager"]
    employ(admin, "sam", manager="manager")
    client_id = new_client(people["account_manager"])
    request = raise_request(desk, client_id)
    triage_and_assign(people, request, priority="urgent")
    assert _at(request_record(desk, request)["sla_due_at"]) == clock.now() + timedelta(hours=4)
    assert sam.patch("/api/me", json={"locale": "zh-CN"}).status_code == 200  # each hears in their language

    clock.advance(hours=3, minutes=59)
    assert fire_timers(app) == 0
    clock.advance(minutes=2)
    assert fire_timers(app) == 1
    [escalation] = notifications(admin, "manager", "escalation")
    assert escalation["subject"] == f"SLA breached: service request #{request['id']} (urgent)"
    assert escalation["client_id"] == client_id
    assert notifications(admin, "mia") == []  # the assignee's own manager, not the whole group
    [reminder] = notifications(admin, "sam", "escalation")
    assert reminder["subject"] == f"服务请求 #{request['id']} 超出服务时限（优先级：紧急）"
    assert reminder["body"].endswith("至今未解决。")
    assert open_elements(admin, request["instance_id"]) == ["review_breach", "work"]  # the work goes on
    review = open_task(manager, request["instance_id"], "review_breach")
    assert review["assignee"] == "manager" and review["data"]["assignee"] == "sam"
    assert complete(people["mia"], review, review_note="x").status_code == 403
    assert "data.review_note" in complete(manager, review).json["errors"]
    assert complete(manager, review, review_note="Spoke to Sam; the client is informed.").status_code == 200

    work = open_task(sam, request["instance_id"], "work")
    assert complete(sam, work, resolution="Answered by phone.").status_code == 200
    assert complete(desk, open_task(desk, request["instance_id"], "rate"), rating=3).status_code == 200
    assert request_record(desk, request)["status"] == "closed"


def test_without_a_manager_on_record_the_manager_group_is_told_and_an_unrated_request_closes_after_a_week(
    db, services, clock
):
    app = make_process_app(
        db, services, service_request_sla={"urgent": "PT1H", "high": "PT2H", "normal": "PT8H", "low": "P2D"}
    )
    try:
        people = people_of(app.test_client(), ("sam", "service_desk"), ("mia", "manager"))
        deploy_firm_processes(people["admin"])
        admin, desk, sam = people["admin"], people["service_desk"], people["sam"]
        request = raise_request(desk, new_client(people["account_manager"]))
        triage_and_assign(people, request, priority="normal")
        assert _at(request_record(desk, request)["sla_due_at"]) == clock.now() + timedelta(hours=8)  # configured

        clock.advance(hours=8, seconds=1)
        assert fire_timers(app) == 1
        assert {n["recipient"] for n in admin.get("/api/notifications?kind=escalation").json["items"]} == {
            "manager",
            "mia",
            "sam",
        }
        review = open_task(people["mia"], request["instance_id"], "review_breach")
        assert review["assignee"] is None and review["candidate_groups"] == ["manager"]

        assert complete(sam, open_task(sam, request["instance_id"], "work"), resolution="Fixed.").status_code == 200
        clock.advance(days=6, hours=23)
        assert fire_timers(app) == 0
        clock.advance(hours=1, seconds=1)
        assert fire_timers(app) == 1
        record = request_record(desk, request)
        assert (record["status"], record["rating"]) == ("closed", None) and record["closed_at"] is not None
        instance = admin.get(f"/api/process-instances/{request['instance_id']}").json
        # Closing ends the process: the breach review nobody did is withdrawn.
        assert instance["status"] == "completed" and instance["open_tasks"] == []
        assert desk.get(f"/api/clients/{request['client_id']}/feedback").json["total"] == 0
    finally:
        app.extensions["atrium.db"].dispose()


def test_the_desk_turns_down_a_request_with_a_reason_and_the_requester_hears(people):
    am, desk = people["account_manager"], people["service_desk"]
    request = raise_request(am, new_client(am), title="Please water the office plants")
    triage = open_task(desk, request["instance_id"], "triage")
    assert "data.reject_reason" in complete(desk, triage, decision="reject").json["errors"]
    assert complete(desk, triage, decision="reject", reject_reason="Not a service we offer.").status_code == 200
    record = request_record(am, request)
    assert (record["status"], record["resolution"]) == ("cancelled", "Not a service we offer.")
    assert record["closed_at"] is not None and record["assignee"] is None
    assert [n["subject"] for n in am.get("/api/notifications").json["items"]] == [
        f"Service request #{request['id']} was not taken on"
    ]
    assert people["viewer"].get(f"/api/process-instances/{request['instance_id']}").json["status"] == "completed"


def test_a_requester_who_reads_chinese_hears_in_chinese(people):
    am, desk = people["account_manager"], people["service_desk"]
    assert am.patch("/api/me", json={"locale": "zh-CN"}).status_code == 200
    request = raise_request(am, new_client(am), title="Please water the office plants")
    triage = open_task(desk, request["instance_id"], "triage")
    assert complete(desk, triage, decision="reject", reject_reason="Not a service we offer.").status_code == 200
    [note] = am.get("/api/notifications").json["items"]
    assert note["subject"] == f"服务请求 #{request['id']} 未被受理"
    assert note["body"] == "Please water the office plants\n\n原因：Not a service we offer."


def test_requests_are_raised_by_staff_who_may_see_the_client_and_an_integration_uses_the_same_door(people):
    am, desk = people["account_manager"], people["service_desk"]
    client_id = new_client(am)
    assert people["viewer"].post(f"/api/clients/{client_id}/service-requests", json={"title": "x"}).status_code == 403
    missing = desk.post(f"/api/clients/{client_id}/service-requests", json={"priority": "soon"})
    assert missing.status_code == 422 and {"title", "priority"} <= set(missing.json["errors"])
    assert desk.post(f"/api/clients/{client_id + 99}/service-requests", json={"title": "x"}).status_code == 404
    from_portal = raise_request(desk, client_id, source="integration", type="it", priority="urgent")
    triage = open_task(desk, from_portal["instance_id"], "triage")
    assert (triage["data"]["type"], triage["data"]["priority"]) == ("it", "urgent")  # prefilled from the request
    listed = desk.get(f"/api/clients/{client_id}/service-requests").json["items"]
    assert [(r["source"], r["instance_id"]) for r in listed] == [("integration", from_portal["instance_id"])]

"""The "start work" page: `GET /api/process-definitions?startable=true` lists the processes the caller may
start by hand, each with its start form, and a start whose variables fill in that form is checked as the
form's task would be (422 naming `variables.<field>`)."""

from __future__ import annotations

import pytest

from .api_helpers import (
    client_body,
    deploy_firm_processes,
    deploy_via_api,
    people_in_two_teams,
)


@pytest.fixture
def people(firm_app):
    people = people_in_two_teams(firm_app)
    deploy_firm_processes(people["admin"])
    assert deploy_via_api(people["admin"], "start_timer.bpmn", "messages.bpmn").status_code == 201
    return people


def startable(person) -> dict:
    listed = person.get("/api/process-definitions?startable=true&page_size=200")
    assert listed.status_code == 200, listed.json
    assert listed.json["total"] == len(listed.json["items"])
    return {d["process_key"]: d for d in listed.json["items"]}


def test_staff_may_start_approvals_onboardings_and_plain_processes_each_with_its_start_form(people):
    shown = startable(people["account_manager"])
    # Not the flows a record starts (service requests, complaints, follow-ups), nor a timer's or a message's.
    assert sorted(shown) == ["approval", "client_onboarding", "engagement_review", "order_flow"]
    approval = shown["approval"]["start_form"]
    assert approval["name"] == "approval_request" and approval["ui_schema"] is None
    assert approval["schema"]["properties"]["client_id"]["format"] == "atrium-client"
    intake = shown["client_onboarding"]["start_form"]
    assert intake["name"] == "client_intake" and intake["ui_schema"]["ui:order"][0] == "client_name"
    assert intake["schema"]["properties"]["owner"] == {
        "type": "string",
        "title": "Proposed owner",
        "format": "atrium-user",
        "x-atrium-role": "account_manager",
        "minLength": 1,
        "maxLength": 100,
    }
    assert shown["order_flow"]["start_form"] is None
    assert startable(people["service_desk"]).keys() == shown.keys()


def test_a_viewer_may_start_nothing_but_still_reads_every_process(people, firm_app):
    client = firm_app.test_client()
    assert startable(people["viewer"]) == {}
    everything = people["viewer"].get("/api/process-definitions?page_size=200").json
    keys = {d["process_key"] for d in everything["items"]}
    assert {"complaint", "service_request", "follow_up", "hourly_report", "request_intake", "approval"} <= keys
    assert all("start_form" in d for d in everything["items"])
    assert client.get("/api/process-definitions?startable=true").status_code == 401
    assert people["viewer"].get("/api/process-definitions?startable=perhaps").status_code == 422


def test_paging_the_startable_list(people):
    first = people["manager"].get("/api/process-definitions?startable=true&page_size=3").json
    second = people["manager"].get("/api/process-definitions?startable=true&page_size=3&page=2").json
    assert first["total"] == second["total"] == 4
    assert [d["process_key"] for d in first["items"] + second["items"]] == [
        "approval",
        "client_onboarding",
        "engagement_review",
        "order_flow",
    ]


def test_start_variables_that_fill_in_the_start_form_are_checked_like_the_form(people):
    am = people["account_manager"]
    bad = am.post(
        "/api/process-instances",
        json={
            "process_key": "approval",
            "variables": {"kind": "gift", "amount": -5, "justification": "Extra site visits"},
        },
    )
    assert bad.status_code == 422 and set(bad.json["errors"]) == {"variables.kind", "variables.amount"}
    good = am.post(
        "/api/process-instances", json={"process_key": "approval", "variables": {"kind": "fee", "amount": 2500}}
    )
    assert good.status_code == 201, good.json
    [submit] = good.json["open_tasks"]
    # The start form's task opens for the starter with what was given; the rest is theirs to add.
    shown = am.get(f"/api/tasks/{submit['id']}").json
    assert (shown["assignee"], shown["data"]["kind"], shown["data"]["amount"]) == ("account_manager", "fee", 2500)


def test_a_start_naming_a_client_the_starter_may_not_see_is_refused_on_that_field(people):
    tax_client = people["partner"].post("/api/clients", json=client_body(owner="account_manager")).json
    for client_id in (tax_client["id"], 999_999):
        refused = people["am_audit"].post(
            "/api/process-instances",
            json={
                "process_key": "approval",
                "variables": {
                    "kind": "fee",
                    "amount": 2500,
                    "justification": "Extra site visits",
                    "client_id": client_id,
                },
            },
        )
        assert refused.status_code == 422 and refused.json["errors"] == {"variables.client_id": ["no such client"]}
    mine = people["am_tax"].post(
        "/api/process-instances",
        json={
            "process_key": "approval",
            "variables": {
                "kind": "fee",
                "amount": 2500,
                "justification": "Extra site visits",
                "client_id": tax_client["id"],
            },
        },
    )
    assert mine.status_code == 201, mine.json
    refused = people["am_tax"].post(
        "/api/process-instances", json={"process_key": "client_onboarding", "variables": {"owner": "partner"}}
    )
    assert refused.status_code == 422 and set(refused.json["errors"]) == {"variables.owner"}

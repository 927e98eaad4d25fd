"""Scenarios through HTTP: deploy, start, inbox per role, claim, complete, conflicts, 403, 422, cancel, retry, messages."""

from __future__ import annotations

import io

import pytest

from .api_helpers import caller, deploy_via_api, make_app


@pytest.fixture
def services(services):
    services.register("ledger", lambda call: {"posted": call.params["amount"]})
    return services


@pytest.fixture
def deployed(people):
    response = deploy_via_api(
        people["admin"], "two_tasks.bpmn", "intake-schema.json", "fragile.bpmn", "messages.bpmn", "parallel.bpmn"
    )
    assert response.status_code == 201, response.json
    return response.json


def test_deploy_reports_versions_and_rejects_bad_files_with_located_problems(people, deployed):
    assert {(d["process_key"], d["version"], d["created"]) for d in deployed["definitions"]} >= {("two_tasks", 1, True)}
    again = deploy_via_api(people["admin"], "two_tasks.bpmn", "intake-schema.json")
    assert again.status_code == 201 and again.json["definitions"] == [
        {"process_key": "two_tasks", "version": 1, "created": False}
    ]
    bad = people["admin"].post(
        "/api/deployments",
        data={"files": [(io.BytesIO(b"<bpmn:definitions"), "cut.bpmn")]},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json"
    assert bad.json["errors"][0]["file"] == "cut.bpmn" and bad.json["errors"][0]["line"] == 1
    assert deploy_via_api(people["manager"], "two_tasks.bpmn").status_code == 403


def test_definitions_are_listed_with_versions_and_xml(people, deployed):
    listed = people["viewer"].get("/api/process-definitions?page_size=200")
    assert "two_tasks" in {d["process_key"] for d in listed.json["items"]}
    one = people["viewer"].get("/api/process-definitions/two_tasks")
    assert one.json["version"] == 1 and [v["version"] for v in one.json["versions"]] == [1]
    xml = people["viewer"].get("/api/process-definitions/two_tasks/xml")
    assert xml.mimetype == "application/xml" and b'id="two_tasks"' in xml.data
    assert people["viewer"].get("/api/process-definitions/nope").status_code == 404


def _start(person, key="two_tasks", **body):
    return person.post("/api/process-instances", json={"process_key": key, **body})


def test_start_complete_and_finish_through_the_inbox(people, deployed):
    started = _start(people["account_manager"], variables={"urgency": 70}, business_key="REQ-7")
    assert started.status_code == 201
    instance = started.json
    assert instance["status"] == "active" and instance["current_activities"] == ["intake"]
    assert instance["variables"] == {"urgency": 70}
    [intake] = instance["open_tasks"]
    assert intake["candidate_groups"] == ["service_desk"] and intake["priority"] == 70

    desk = people["service_desk"]
    inbox = desk.get("/api/tasks?candidate_user=me&sort=due")
    assert [t["id"] for t in inbox.json["items"]] == [intake["id"]]
    assert desk.get("/api/tasks/count?candidate_user=me").json == {"count": 1}
    assert people["account_manager"].get("/api/tasks?candidate_user=me").json["total"] == 0

    detail = desk.get(f"/api/tasks/{intake['id']}")
    # The form starts from what the starter gave for it.
    assert detail.json["form"]["schema"]["required"] == ["amount"] and detail.json["data"] == {"urgency": 70}

    assert desk.post(f"/api/tasks/{intake['id']}/claim").json["assignee"] == "service_desk"
    assert desk.get("/api/tasks?assignee=me").json["total"] == 1
    assert desk.get("/api/tasks?candidate_user=me").json["total"] == 0  # claimed: no longer offered
    assert desk.post(f"/api/tasks/{intake['id']}/unclaim").status_code == 200
    assert desk.get("/api/tasks/count?candidate_user=me").json == {"count": 1}
    assert desk.post(f"/api/tasks/{intake['id']}/claim").status_code == 200
    invalid = desk.post(f"/api/tasks/{intake['id']}/complete", json={"data": {"amount": "lots"}})
    assert invalid.status_code == 422 and "data.amount" in invalid.json["errors"]
    done = desk.post(f"/api/tasks/{intake['id']}/complete", json={"data": {"amount": 70}})
    assert done.status_code == 200 and done.json["status"] == "completed"
    assert desk.post(f"/api/tasks/{intake['id']}/complete", json={"data": {"amount": 70}}).status_code == 409

    manager = people["manager"]
    [approve] = manager.get(f"/api/tasks?instance_id={instance['id']}").json["items"]
    assert approve["element_id"] == "approve"
    assert manager.post(f"/api/tasks/{approve['id']}/complete", json={"data": {}}).status_code == 200
    final = people["viewer"].get(f"/api/process-instances/{instance['id']}").json
    assert final["status"] == "completed" and final["open_tasks"] == [] and final["variables"]["score"] == 140
    history = people["viewer"].get(f"/api/process-instances/{instance['id']}/history").json
    assert [h["event"] for h in history["items"]][-1] == "instance_completed"
    assert history["items"][3]["actor"] == "service_desk"


def test_claims_conflict_and_tasks_not_offered_are_forbidden(people, deployed):
    instance = _start(people["account_manager"], variables={"urgency": 1}).json
    task_id = instance["open_tasks"][0]["id"]
    assert people["account_manager"].post(f"/api/tasks/{task_id}/claim").status_code == 404  # not visible to them
    assert people["partner"].post(f"/api/tasks/{task_id}/claim").status_code == 403  # visible, not offered
    assert people["service_desk"].post(f"/api/tasks/{task_id}/claim").status_code == 200
    taken = people["admin"].post(f"/api/tasks/{task_id}/claim")
    assert taken.status_code == 409 and "service_desk" in taken.json["detail"]
    assert people["viewer"].post(f"/api/tasks/{task_id}/complete", json={"data": {"amount": 1}}).status_code == 403
    # A lead hands a task only to its candidates; an admin to anyone.
    not_a_candidate = people["manager"].post(f"/api/tasks/{task_id}/assign", json={"username": "account_manager"})
    assert not_a_candidate.status_code == 422 and "username" in not_a_candidate.json["errors"]
    assigned = people["admin"].post(f"/api/tasks/{task_id}/assign", json={"username": "account_manager"})
    assert assigned.status_code == 200 and assigned.json["assignee"] == "account_manager"
    assert people["manager"].post(f"/api/tasks/{task_id}/assign", json={"username": "ghost"}).status_code == 422
    # Claimed by someone else, the task is no longer the desk's to see.
    assert (
        people["service_desk"].post(f"/api/tasks/{task_id}/complete", json={"data": {"amount": 1}}).status_code == 404
    )
    assert people["account_manager"].post(f"/api/tasks/{task_id}/unclaim").json["assignee"] is None


def test_bad_start_requests_are_422_or_404_naming_the_field(people, deployed):
    bad = people["manager"].post(
        "/api/process-instances", json={"process_key": "two_tasks", "variables": "x", "version": 0}
    )
    assert bad.status_code == 422 and {"variables", "version"} <= set(bad.json["errors"])
    assert _start(people["manager"], key="nope").status_code == 404
    assert _start(people["viewer"]).status_code == 403
    not_json = people["manager"].post("/api/process-instances", data="{", content_type="application/json")
    assert not_json.status_code in (400, 422) and not_json.mimetype == "application/problem+json"


def test_instances_are_filtered_and_variables_hidden_from_outsiders(people, deployed):
    mine = _start(people["account_manager"], variables={"urgency": 1, "note": "fee 900"}, business_key="A").json
    _start(people["manager"], variables={"urgency": 2}, business_key="B")
    listed = people["viewer"].get("/api/process-instances?started_by=account_manager").json
    assert [i["business_key"] for i in listed["items"]] == ["A"]
    assert people["viewer"].get("/api/process-instances?business_key=B&status=active").json["total"] == 1
    # An instance one neither started, worked on, nor is about a client one sees is not there at all
    # (instances about visible clients are shown without their variables: test_cross_team_disclosure.py).
    assert people["service_desk"].get(f"/api/process-instances/{mine['id']}").status_code == 404
    assert people["service_desk"].get("/api/process-instances").json["total"] == 0
    assert people["account_manager"].get(f"/api/process-instances/{mine['id']}").json["variables"]["note"] == "fee 900"
    assert people["viewer"].get("/api/process-instances?status=nonsense").status_code == 422


def test_cancel_and_retry_through_the_api(people, deployed, services):
    instance = _start(people["manager"], key="parallel_review").json
    assert people["account_manager"].post(f"/api/process-instances/{instance['id']}/cancel").status_code == 403
    cancelled = people["manager"].post(f"/api/process-instances/{instance['id']}/cancel")
    assert (
        cancelled.status_code == 200 and cancelled.json["status"] == "cancelled" and cancelled.json["open_tasks"] == []
    )
    assert people["manager"].post(f"/api/process-instances/{instance['id']}/cancel").status_code == 409

    services.register("ledger", lambda call: (_ for _ in ()).throw(ConnectionError("ledger down")))
    failing = _start(people["manager"], key="fragile_service", variables={"amount": 2}).json
    assert failing["status"] == "active"  # retry scheduled
    assert people["manager"].post(f"/api/process-instances/{failing['id']}/retry").status_code == 409


def test_messages_reach_waiting_instances_or_404(people, deployed):
    order = _start(people["manager"], key="order_flow", business_key="ORD-1").json
    # A message reaches only instances its sender may see: not the desk, which cannot see this one.
    message = {"name": "payment_received", "correlation_keys": {"business_key": "ORD-1"}, "payload": {"paid": 5}}
    assert people["service_desk"].get(f"/api/process-instances/{order['id']}").status_code == 404
    assert people["service_desk"].post("/api/messages", json=message).status_code == 404
    reached = people["manager"].post("/api/messages", json=message)
    assert reached.status_code == 200 and reached.json["reached"][0]["instance_id"] == order["id"]
    nobody = people["service_desk"].post(
        "/api/messages", json={"name": "payment_received", "correlation_keys": {"business_key": "none"}}
    )
    assert nobody.status_code == 404 and nobody.mimetype == "application/problem+json"
    assert people["viewer"].post("/api/messages", json={"name": "x"}).status_code == 403


def test_forms_are_served_by_name(people, deployed):
    form = people["viewer"].get("/api/forms/intake")
    assert form.status_code == 200 and form.json["schema"]["title"] == "Request intake" and form.json["version"] == 1
    assert people["viewer"].get("/api/forms/none").status_code == 404


def test_every_change_and_login_is_audited_in_the_same_transaction(people, deployed, client):
    from .api_helpers import login

    instance = _start(people["account_manager"], variables={"urgency": 1}).json
    people["viewer"].post(f"/api/process-instances/{instance['id']}/cancel")  # denied
    login(client, "viewer", "wrong-password-x")
    rows = people["admin"].get("/api/audit?page_size=200").json["items"]
    seen = {(r["actor"], r["action"], r["outcome"]) for r in rows}
    assert ("account_manager", "instance.start", "success") in seen
    assert ("admin", "deployment.create", "success") in seen
    assert ("viewer", "login", "denied") in seen
    assert ("viewer", "POST /api/process-instances/<uuid:instance_id>/cancel", "denied") in seen
    assert all(r["client_address"] for r in rows)
    assert people["manager"].get("/api/audit").status_code == 403
    only_denied = people["admin"].get("/api/audit?outcome=denied").json
    assert only_denied["total"] == 2


def test_metrics_count_requests_and_work(people, deployed):
    _start(people["manager"], variables={"urgency": 1})
    text = people["admin"].get("/metrics").get_data(as_text=True)
    assert "atrium_open_tasks 1.0" in text and "atrium_running_instances 1.0" in text
    assert 'atrium_http_requests_total{endpoint="/api/process-instances",method="POST",status="201"}' in text
    assert people["viewer"].get("/metrics").status_code == 403


def test_concurrent_completions_of_one_task_one_wins_the_other_gets_409(pg, services, clock):
    import threading

    app = make_app(pg, services)
    try:
        client = app.test_client()
        admin = caller(client, "admin")
        assert deploy_via_api(admin, "parallel.bpmn").status_code == 201
        outcomes = []
        for _ in range(3):
            instance = admin.post("/api/process-instances", json={"process_key": "parallel_review"}).json
            task_id = instance["open_tasks"][0]["id"]
            barrier = threading.Barrier(2)
            statuses = []

            def complete(task_id=task_id, barrier=barrier, statuses=statuses):
                person = caller(app.test_client(), "admin")
                barrier.wait()
                statuses.append(person.post(f"/api/tasks/{task_id}/complete", json={"data": {}}).status_code)

            threads = [threading.Thread(target=complete) for _ in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            outcomes.append(sorted(statuses))
        assert outcomes == [[200, 409]] * 3
    finally:
        app.extensions["atrium.db"].dispose()


def test_the_indexed_inbox_page_matches_the_general_query(people, deployed, clock):
    for minutes in (5, 1, 3, 2, 4):
        clock.advance(minutes=minutes)
        _start(people["manager"], variables={"urgency": minutes})
    desk = people["service_desk"]
    fast = desk.get("/api/tasks?candidate_user=me&sort=due&page_size=2&page=2").json
    assert "total" in fast, fast
    general = desk.get("/api/tasks?candidate_user=me&sort=due&page_size=2&page=2&priority_min=-1000").json
    assert fast["total"] == general["total"] == 5
    assert [t["id"] for t in fast["items"]] == [t["id"] for t in general["items"]]
    assert [t["priority"] for t in fast["items"]] == [3, 2]  # due = start + 2 days, so start order


def test_nul_characters_are_refused_naming_the_field(people, deployed):
    response = people["admin"].post(
        "/api/accounts",
        json={"username": "ok", "password": "long-enough-pw", "roles": ["viewer"], "display_name": "a\u0000b"},
    )
    assert response.status_code == 422 and response.json["errors"] == {
        "display_name": ["must not contain NUL characters"]
    }
    started = _start(people["manager"], variables={"urgency": 1, "notes": ["x\u0000"]})
    assert started.status_code == 422 and "variables.notes.0" in started.json["errors"]
    query = people["viewer"].get("/api/process-instances?business_key=a%00b")
    assert query.status_code == 422


def test_inbox_pages_are_exactly_what_the_task_schema_documents(people, deployed, app):
    from api.tasks import TaskSchema, localized_texts, task_document
    from storage.tasks import task_rows

    _start(people["manager"], variables={"urgency": 1})
    page = people["service_desk"].get("/api/tasks?candidate_user=me&sort=due").json
    engine = app.extensions["atrium.engine"]
    with engine.transaction() as session:
        [row] = task_rows(session, task_ids=[__import__("uuid").UUID(page["items"][0]["id"])])
    assert task_document(row, "en") == TaskSchema().dump({**row, **localized_texts(row, "en")}) == page["items"][0]


def _start_in_engine(app, key: str, variables: dict, actor: str = "admin"):
    """Start as domain code does (its variables not a person's start-form input): camunda_approval's first
    task is the reviewer's, so its form, which the generic start holds start variables to, takes none of these."""
    engine = app.extensions["atrium.engine"]
    with engine.transaction() as session:
        return engine.start_instance(session, process_key=key, variables=variables, actor=actor)


def test_a_started_instance_shows_its_open_tasks_as_they_are_stored(people, services, clock, app):
    """The start response builds open_tasks from the rows it wrote; they must read back the same."""
    from api.tasks import task_document
    from storage.tasks import open_task_rows

    services.register("notify", lambda call: {})
    admin = people["admin"]
    deployed = deploy_via_api(admin, "camunda_approval.bpmn", "parallel.bpmn", "two_tasks.bpmn", "intake-schema.json")
    assert deployed.status_code == 201, deployed.json
    due = clock.now().replace(microsecond=123456).isoformat()
    instance = _start_in_engine(
        app,
        "camunda_approval",
        {"preparer": "carol", "reviewers": ["erin", "dave"], "due": due, "prio": 70, "amount": 500},
    )
    [review] = [task_document(row, "en") for row in instance.opened_tasks]
    assert review["candidate_users"] == ["dave", "erin"] and review["assignee"] == "carol"
    with app.extensions["atrium.engine"].transaction() as session:
        stored = [task_document(row, "en") for row in open_task_rows(session, instance_id=instance.id)]
    assert [review] == stored == admin.get(f"/api/process-instances/{instance.id}").json["open_tasks"]

    started = _start(admin, variables={"urgency": 7})
    assert started.status_code == 201, started.json
    assert started.json["open_tasks"] == admin.get(f"/api/process-instances/{started.json['id']}").json["open_tasks"]

    parallel = admin.post("/api/process-instances", json={"process_key": "parallel_review"}).json
    assert len(parallel["open_tasks"]) > 1
    assert parallel["open_tasks"] == admin.get(f"/api/process-instances/{parallel['id']}").json["open_tasks"]


def test_task_lists_keep_their_sort_order_and_candidates_across_pages(people, services, clock, app):
    services.register("notify", lambda call: {})
    admin = people["admin"]
    assert deploy_via_api(admin, "camunda_approval.bpmn").status_code == 201
    soon = clock.now().isoformat()
    for prio, due in ((10, soon), (90, None), (50, soon), (70, None), (30, soon)):
        _start_in_engine(
            app,
            "camunda_approval",
            {"preparer": "carol", "reviewers": ["erin", "dave"], "due": due, "prio": prio, "amount": 1},
        )

    def page(sort, number):
        items = admin.get(f"/api/tasks?process_key=camunda_approval&sort={sort}&page_size=2&page={number}").json
        assert items["total"] == 5
        return items["items"]

    by_priority = [t["priority"] for n in (1, 2, 3) for t in page("-priority", n)]
    assert by_priority == [90, 70, 50, 30, 10]
    assert [t["priority"] for n in (1, 2, 3) for t in page("priority", n)] == [10, 30, 50, 70, 90]
    by_due = [t["due"] is None for n in (1, 2, 3) for t in page("due", n)]
    assert by_due == [False, False, False, True, True]  # no due date sorts last
    assert all(
        t["candidate_groups"] == ["manager", "partner"] and t["candidate_users"] == ["dave", "erin"]
        for t in page("-priority", 1)
    )


def test_a_task_completed_without_a_claim_leaves_the_candidates_inbox(people, deployed):
    started = _start(people["account_manager"], variables={"urgency": 5}).json
    [intake] = started["open_tasks"]
    desk = people["service_desk"]
    assert desk.get("/api/tasks/count?candidate_user=me").json == {"count": 1}
    assert desk.post(f"/api/tasks/{intake['id']}/complete", json={"data": {"amount": 1}}).status_code == 200
    assert desk.get("/api/tasks/count?candidate_user=me").json == {"count": 0}
    assert desk.get("/api/tasks?candidate_user=me&sort=due").json["items"] == []

"""The inbox's tabs: assigned to me, offered to me (by name or through my roles and groups), and all
open tasks for roles that may see them, each with its count (`GET /api/tasks/counts`), and the same
sets listed by `GET /api/tasks?view=...` with the other filters, sorting and paging."""

from __future__ import annotations

import pytest

from .api_helpers import deploy_via_api
from .factories import start_instance

# account_manager is in the "tax" group (tests/api_helpers.make_app).


@pytest.fixture
def people(people):
    assert deploy_via_api(people["admin"], "inbox_tabs.bpmn", "two_tasks.bpmn", "intake-schema.json").status_code == 201
    return people


def start(person, key: str = "inbox_tabs", **variables) -> dict:
    return start_instance(person, key, variables=variables)


def elements(response) -> list[str]:
    assert response.status_code == 200, response.json
    return [t["element_id"] for t in response.json["items"]]


def test_the_tabs_count_what_is_assigned_and_offered_to_me_and_never_another_teams_task(people):
    am, partner = people["account_manager"], people["partner"]
    start(partner)
    start(partner)
    assert am.get("/api/tasks/counts").json == {"assigned": 2, "offered": 4, "all": None}
    # The partner sees every open task; none is assigned or offered to partners.
    assert partner.get("/api/tasks/counts").json == {"assigned": 0, "offered": 0, "all": 8}
    # Once a teammate claims the team's task, it is no longer offered to me.
    teammate_claims = next(t for t in am.get("/api/tasks?view=offered").json["items"] if t["element_id"] == "team")
    assert (
        people["admin"].post(f"/api/tasks/{teammate_claims['id']}/assign", json={"username": "admin"}).status_code
        == 200
    )
    assert am.get("/api/tasks/counts").json == {"assigned": 2, "offered": 3, "all": None}


def test_each_view_lists_exactly_the_set_its_tab_counts(people):
    am, viewer = people["account_manager"], people["viewer"]
    start(people["partner"])
    assert elements(am.get("/api/tasks?view=assigned")) == ["mine"]
    assert elements(am.get("/api/tasks?view=offered&sort=due")) == ["team", "named"]
    assert sorted(elements(viewer.get("/api/tasks?view=all"))) == ["mine", "named", "other_team", "team"]
    counts = am.get("/api/tasks/counts").json
    for view in ("assigned", "offered"):
        assert am.get(f"/api/tasks/count?view={view}").json == {"count": counts[view]}
        assert am.get(f"/api/tasks?view={view}").json["total"] == counts[view]
    assert viewer.get("/api/tasks/count?view=all").json == {"count": viewer.get("/api/tasks/counts").json["all"]}


def test_views_compose_with_the_process_filter_sorting_and_paging(people):
    am, desk = people["account_manager"], people["service_desk"]
    start(people["partner"])
    start(people["partner"])
    start(am, "two_tasks", urgency=50)  # its intake is offered to the service desk, not to account managers
    assert am.get("/api/tasks?view=offered&process_key=two_tasks").json["total"] == 0
    assert desk.get("/api/tasks?view=offered&process_key=two_tasks").json["total"] == 1
    assert desk.get("/api/tasks?view=offered&process_key=inbox_tabs").json["total"] == 0
    first = am.get("/api/tasks?view=offered&sort=-due&page_size=3")
    second = am.get("/api/tasks?view=offered&sort=-due&page_size=3&page=2")
    assert first.json["total"] == second.json["total"] == 4
    assert elements(first) == ["named", "named", "team"] and elements(second) == ["team"]
    assert elements(am.get("/api/tasks?view=assigned&process_key=inbox_tabs&sort=-created")) == ["mine", "mine"]


def test_a_task_offered_to_another_group_never_reaches_my_tabs(people):
    am, audit = people["account_manager"], people["service_desk"]
    instance = start(people["partner"])
    other = next(t for t in instance["open_tasks"] if t["element_id"] == "other_team")
    for view in ("assigned", "offered"):
        assert other["id"] not in [t["id"] for t in am.get(f"/api/tasks?view={view}&page_size=200").json["items"]]
    # Nor does naming another person's inbox in the filters show it: a tab is always your own.
    assert elements(am.get("/api/tasks?view=offered&candidate_user=service_desk&sort=due")) == ["team", "named"]
    assert elements(am.get("/api/tasks?view=assigned&assignee=admin")) == ["mine"]
    assert audit.get("/api/tasks/counts").json == {"assigned": 0, "offered": 0, "all": None}


def test_only_roles_that_read_all_tasks_get_the_all_tab(people, client):
    start(people["partner"])
    for role in ("account_manager", "service_desk"):
        assert people[role].get("/api/tasks/counts").json["all"] is None
        refused = people[role].get("/api/tasks?view=all")
        assert refused.status_code == 403 and "tasks:read_all" in refused.json["detail"]
        assert people[role].get("/api/tasks/count?view=all").status_code == 403
    for role in ("admin", "partner", "manager", "viewer"):
        assert people[role].get("/api/tasks/counts").json["all"] == 4
    assert people["viewer"].get("/api/tasks?view=everything").status_code == 422
    assert client.get("/api/tasks/counts").status_code == 401

"""The follow_up process through HTTP: every active client has one follow-up cycle; each round, one tier
interval after the last follow-up, the client's owner is asked to call or visit, records the outcome (a
client who needs action gets a service request), and an overdue follow-up goes to the owner's manager."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from atrium.follow_up_cycles import start_missing_cycles
from storage.clients import Client
from storage.instances import ProcessInstance

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
def people(people):
    deploy_firm_processes(people["admin"])
    return people


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


_NAMES = iter(f"Client {n}" for n in range(10_000))


def new_client(person, **fields) -> int:
    body = {"name": next(_NAMES), "tier": "A", "status": "active", "owner": "account_manager", **fields}
    return make_client(person, minimal=True, **body)["id"]


def cycles(person, client_id: int, status: str = "active") -> list[dict]:
    return person.get(
        f"/api/process-instances?process_key=follow_up&business_key=client:{client_id}&status={status}"
    ).json["items"]


def the_cycle(person, client_id: int) -> str:
    [instance] = cycles(person, client_id)
    return instance["id"]


def follow_ups(person, client_id: int) -> list[dict]:
    return person.get(f"/api/clients/{client_id}/follow-ups").json["items"]


def test_the_owner_follows_an_a_client_up_monthly_and_a_client_needing_action_gets_a_service_request(
    people, app, clock
):
    am, admin = people["account_manager"], people["admin"]
    client_id = new_client(am, tier="A")
    instance_id = the_cycle(admin, client_id)
    assert open_elements(admin, instance_id) == []

    clock.advance(days=30)  # 5 January + P1M is 5 February
    assert fire_timers(app) == 0
    clock.advance(days=1, seconds=1)
    assert fire_timers(app) == 1
    task = open_task(am, instance_id, "contact_client")
    assert task["assignee"] == "account_manager" and task["data"] == {}
    assert _at(task["due"]) == clock.now() + timedelta(days=14)
    [planned] = follow_ups(am, client_id)
    assert planned["done_at"] is None and _at(planned["planned_at"]) == clock.now()
    assert planned["instance_id"] == instance_id

    # Only the owner records it, and the form says what is missing.
    assert complete(people["partner"], task, channel="call", outcome="ok").status_code == 403
    assert complete(people["viewer"], task, channel="call", outcome="ok").status_code == 403
    bad = complete(am, task, channel="pigeon", outcome="needs_action")
    assert bad.status_code == 422 and {"data.channel", "data.next_step"} <= set(bad.json["errors"])
    clock.advance(days=2)
    done_at = clock.now()
    assert complete(am, task, channel="visit", outcome="ok", content="Happy with the audit.").status_code == 200
    [first] = follow_ups(am, client_id)
    assert (first["channel"], first["outcome"], first["content"], first["done_by"]) == (
        "visit",
        "ok",
        "Happy with the audit.",
        "account_manager",
    )
    assert _at(first["done_at"]) == done_at

    # The next round is one month after that visit, and its form starts empty.
    clock.advance(days=27)
    assert fire_timers(app) == 0
    clock.advance(days=4)
    assert fire_timers(app) == 1
    task = open_task(am, instance_id, "contact_client")
    assert task["data"] == {}
    assert (
        complete(
            am,
            task,
            channel="call",
            outcome="needs_action",
            content="Asks about a VAT penalty.",
            next_step="Appeal the VAT penalty",
        ).status_code
        == 200
    )
    [request] = am.get(f"/api/clients/{client_id}/service-requests").json["items"]
    assert (request["title"], request["content"], request["created_by"], request["status"]) == (
        "Appeal the VAT penalty",
        "Asks about a VAT penalty.",
        "account_manager",
        "new",
    )
    triage = open_task(people["service_desk"], request["instance_id"], "triage")
    assert triage["data"]["title"] == "Appeal the VAT penalty"
    assert [f["outcome"] for f in follow_ups(am, client_id)] == ["needs_action", "ok"]
    assert the_cycle(admin, client_id) == instance_id  # the cycle goes on


@pytest.mark.parametrize("tier, months", [("B", 3), ("C", 6)])
def test_b_clients_are_followed_up_quarterly_and_c_clients_half_yearly(people, app, clock, tier, months):
    am = people["account_manager"]
    client_id = new_client(am, tier=tier)
    instance_id = the_cycle(am, client_id)
    due = clock.now().replace(month=1 + months)
    clock.set(due - timedelta(minutes=1))
    assert fire_timers(app) == 0 and open_elements(am, instance_id) == []
    clock.set(due + timedelta(seconds=1))
    assert fire_timers(app) == 1 and open_elements(am, instance_id) == ["contact_client"]


def test_intervals_and_the_follow_up_period_are_settings(db, services, clock):
    app = make_process_app(
        db, services, follow_up_intervals={"A": "P7D", "B": "P14D", "C": "P28D"}, follow_up_due="P2D"
    )
    try:
        people = people_of(app.test_client())
        deploy_firm_processes(people["admin"])
        am = people["account_manager"]
        instance_id = the_cycle(am, new_client(am, tier="B"))
        clock.advance(days=14, seconds=1)
        assert fire_timers(app) == 1
        task = open_task(am, instance_id, "contact_client")
        assert _at(task["due"]) == clock.now() + timedelta(days=2)
    finally:
        app.extensions["atrium.db"].dispose()


def test_an_overdue_follow_up_goes_to_the_owners_manager_while_the_owner_can_still_do_it(people, app, clock):
    am, admin, manager = people["account_manager"], people["admin"], people["manager"]
    employ(admin, "account_manager", manager="manager")
    client_id = new_client(am, tier="A")
    instance_id = the_cycle(am, client_id)
    clock.advance(days=31, seconds=1)
    assert fire_timers(app) == 1
    clock.advance(days=14, seconds=-1)
    assert fire_timers(app) == 0
    clock.advance(seconds=2)
    assert fire_timers(app) == 1
    [note] = notifications(admin, "manager", "escalation")
    assert note["subject"].startswith("Overdue follow-up of Client") and "account_manager" in note["body"]
    assert note["client_id"] == client_id
    assert open_elements(admin, instance_id) == ["chase", "contact_client"]
    chase = open_task(manager, instance_id, "chase")
    assert chase["assignee"] == "manager"
    assert complete(people["partner"], chase, chase_note="x").status_code == 403
    assert "data.chase_note" in complete(manager, chase).json["errors"]
    assert complete(manager, chase, chase_note="Reminded them at the team meeting.").status_code == 200
    task = open_task(am, instance_id, "contact_client")
    assert complete(am, task, channel="call", outcome="no_contact").status_code == 200
    assert [f["outcome"] for f in follow_ups(am, client_id)] == ["no_contact"]


def test_a_client_without_owner_or_manager_is_offered_to_account_managers_and_escalated_to_all_managers(
    people, app, clock
):
    admin = people["admin"]
    client_id = new_client(admin, owner=None, tier="A")
    instance_id = the_cycle(admin, client_id)
    clock.advance(days=31, seconds=1)
    fire_timers(app)
    task = open_task(people["account_manager"], instance_id, "contact_client")
    assert task["assignee"] is None and task["candidate_groups"] == ["account_manager"]
    clock.advance(days=14, seconds=1)
    assert fire_timers(app) == 1
    assert [n["recipient"] for n in admin.get("/api/notifications?kind=escalation").json["items"]] == ["manager"]
    chase = open_task(people["manager"], instance_id, "chase")
    assert chase["assignee"] is None and chase["candidate_groups"] == ["manager"]
    assert complete(people["account_manager"], task, channel="email", outcome="ok").status_code == 200
    assert follow_ups(admin, client_id)[0]["done_by"] == "account_manager"


def test_the_cycle_follows_the_clients_status_and_ends_before_a_delete(people, app, clock):
    am, admin = people["account_manager"], people["admin"]
    client_id = new_client(am, status="prospect")
    assert cycles(admin, client_id) == []
    assert am.patch(f"/api/clients/{client_id}", json={"status": "active"}).status_code == 200
    first = the_cycle(admin, client_id)
    assert am.patch(f"/api/clients/{client_id}", json={"tier": "B"}).status_code == 200
    assert the_cycle(admin, client_id) == first  # still one cycle
    assert am.patch(f"/api/clients/{client_id}", json={"status": "dormant"}).status_code == 200
    assert cycles(admin, client_id) == [] and [i["id"] for i in cycles(admin, client_id, "cancelled")] == [first]
    clock.advance(days=200)
    assert fire_timers(app) == 0  # its timer went with it
    assert am.patch(f"/api/clients/{client_id}", json={"status": "active"}).status_code == 200
    second = the_cycle(admin, client_id)
    assert second != first
    assert am.delete(f"/api/clients/{client_id}").status_code == 204
    assert {i["id"] for i in cycles(admin, client_id, "cancelled")} == {first, second}
    restored = admin.post(f"/api/clients/{client_id}/restore")
    assert restored.status_code == 200 and len(cycles(admin, client_id)) == 1


def test_a_client_no_longer_active_when_the_follow_up_is_due_ends_its_cycle(people, app, clock):
    am, admin = people["account_manager"], people["admin"]
    client_id = new_client(am, tier="A")
    instance_id = the_cycle(admin, client_id)
    # A change made behind Atrium's back (SQL by hand) leaves the cycle running; it notices when due.
    with app.extensions["atrium.engine"].transaction() as session:
        session.execute(update(Client).where(Client.id == client_id).values(status="former"))
    clock.advance(days=31, seconds=1)
    assert fire_timers(app) == 1
    instance = admin.get(f"/api/process-instances/{instance_id}").json
    assert instance["status"] == "completed" and follow_ups(admin, client_id) == []


def test_existing_active_clients_get_their_cycles_once_follow_up_is_deployed(db, services, clock):
    app = make_process_app(db, services)
    try:
        people = people_of(app.test_client())
        am = people["account_manager"]
        active = [new_client(am, tier="A"), new_client(am, tier="C")]
        new_client(am, status="former")
        assert am.get("/api/process-instances?process_key=follow_up").json["total"] == 0  # not deployed yet
        deploy_firm_processes(people["admin"])
        engine = app.extensions["atrium.engine"]
        assert start_missing_cycles(engine, actor="cli:someone", batch_size=1) == 2
        assert start_missing_cycles(engine, actor="cli:someone") == 0
        assert all(len(cycles(am, client_id)) == 1 for client_id in active)
    finally:
        app.extensions["atrium.db"].dispose()


def test_atrium_follow_ups_start_says_how_many_cycles_it_started(tmp_path, monkeypatch, clock, capsys, services):
    from atrium import audit
    from atrium.cli import main
    from atrium.clients import create_client
    from atrium.settings import PROJECT_ROOT
    from storage.db import make_engine

    from .conftest import make_process_engine

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("ATRIUM_DATABASE_URL", url)
    monkeypatch.setenv("ATRIUM_FORMS_DIR", str(PROJECT_ROOT / "forms"))
    assert main(["migrate"]) == 0
    engine = make_engine(url)
    process_engine = make_process_engine(engine, services)
    with process_engine.transaction() as session:  # active before follow_up is deployed: no cycle yet
        create_client(
            session, process_engine, data={"name": "Meridian Legal", "status": "active", "tier": "B"}, actor="import"
        )
    engine.dispose()
    capsys.readouterr()
    assert main(["follow-ups", "start"]) == 1
    assert "the 'follow_up' process is not deployed; run atrium deploy first" in capsys.readouterr().err
    assert main(["deploy", str(PROJECT_ROOT / "processes")]) == 0
    capsys.readouterr()
    assert main(["follow-ups", "start"]) == 0
    assert capsys.readouterr().out.strip() == "Started the follow-up cycle of 1 active client(s) that had none."
    assert main(["follow-ups", "start"]) == 0
    assert "of 0 active client(s)" in capsys.readouterr().out
    engine = make_engine(url)
    with make_process_engine(engine, services).transaction() as session:
        started_by = session.scalars(
            select(ProcessInstance.started_by).where(ProcessInstance.process_key == "follow_up")
        ).all()
    engine.dispose()
    assert started_by == [audit.cli_actor()]  # the cycle was started by whoever ran the command

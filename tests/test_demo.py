"""The demo seed, as someone trying Atrium for the first time meets it: a believable firm, passwords
shown once, nothing twice, nothing at all in production."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine.demo import PROCESS_SEEDS, seed_demo
from engine.demo_firm import ACCOUNT_MANAGERS, CLIENT_COUNT, DEMO_PEOPLE
from storage.accounts import ROLES, Account
from storage.client_records import Complaint, Engagement, Feedback, FollowUp, ServiceRequest
from storage.clients import Client, Contact
from storage.employees import Employee
from storage.instances import ProcessInstance
from storage.knowledge import KnowledgeArticle

from .api_helpers import login, make_app
from .conftest import make_process_engine

SEEDED = (
    Account,
    Employee,
    Client,
    Contact,
    Engagement,
    FollowUp,
    ServiceRequest,
    Complaint,
    Feedback,
    KnowledgeArticle,
    ProcessInstance,
)
PASSWORD_LINE = re.compile(r"^Created demo account (\S+) \(.*\), password (\S+)$")


def count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def seeded(process_engine) -> list[str]:
    with process_engine.transaction() as session:
        return seed_demo(process_engine, session)


def test_the_demo_firm_has_people_in_two_teams_clients_and_a_history(process_engine, clock):
    lines = seeded(process_engine)
    with process_engine.transaction() as session:
        accounts = {a.username: a for a in session.scalars(select(Account))}
        assert set(accounts) == {p.username for p in DEMO_PEOPLE}
        assert {role for a in accounts.values() for role in a.roles} == set(ROLES)
        teams = {a.username: a.groups for a in accounts.values() if "account_manager" in a.roles}
        assert sorted(g for groups in teams.values() for g in groups) == ["north"] * 3 + ["south"] * 3
        employees = {e.username: e for e in session.scalars(select(Employee))}
        assert set(employees) == set(accounts)
        for username in ACCOUNT_MANAGERS:  # each account manager escalates to their team's manager
            manager = accounts[employees[username].manager]
            assert "manager" in manager.roles and manager.groups == accounts[username].groups

        clients = list(session.scalars(select(Client)))
        assert len(clients) == CLIENT_COUNT and {c.owner for c in clients} == set(ACCOUNT_MANAGERS)
        chinese = [c for c in clients if not c.name.isascii()]
        assert 0.3 < len(chinese) / CLIENT_COUNT < 0.7
        assert {c.kind for c in clients} == {"person", "organisation"} and {c.tier for c in clients} == {"A", "B", "C"}
        now = clock.now()
        assert all(now - timedelta(days=550) <= c.created_at <= now for c in clients)
        assert min(c.created_at for c in clients) < now - timedelta(days=365)
        assert count(session, Contact) >= CLIENT_COUNT // 2
        assert count(session, Engagement) >= CLIENT_COUNT // 2
        assert count(session, Engagement, Engagement.status == "active") > 0
        assert count(session, FollowUp, FollowUp.done_at.is_not(None)) >= CLIENT_COUNT
        assert count(session, FollowUp, FollowUp.planned_at > now) > 0  # the next calls, planned
        assert count(session, ServiceRequest) > 20
        assert count(session, ServiceRequest, ServiceRequest.status.in_(("new", "assigned", "in_progress"))) > 0
        assert 3 <= count(session, Complaint) <= 40
        assert count(session, Feedback) > 10
        history = [
            *session.scalars(select(FollowUp.created_at)),
            *session.scalars(select(ServiceRequest.created_at)),
            *session.scalars(select(Complaint.received_at)),
            *session.scalars(select(Feedback.created_at)),
        ]
        assert all(now - timedelta(days=550) <= at <= now for at in history)
        assert count(session, KnowledgeArticle) >= 4
    assert any(line.startswith("Created the demo firm: 200 clients") for line in lines)


def test_each_account_gets_its_own_random_password_shown_once_and_it_works(db, services, clock):
    app = make_app(db, services)  # the API's own test accounts, admin ... viewer, exist already
    engine = app.extensions["atrium.engine"]
    with engine.transaction() as session:
        session.query(Account).delete()  # start from an empty firm, as `make run` does
    with engine.transaction() as session:
        first = seed_demo(engine, session)
    passwords = dict(m.groups() for m in map(PASSWORD_LINE.match, first) if m)
    assert set(passwords) == {p.username for p in DEMO_PEOPLE}
    assert len(set(passwords.values())) == len(passwords) and all(len(p) >= 16 for p in passwords.values())
    assert not any("demo-" in p for p in passwords.values())
    client = app.test_client()
    assert login(client, "am", passwords["am"]).status_code == 200
    assert login(client, "am", passwords["desk"]).status_code == 401
    with engine.transaction() as session:
        again = seed_demo(engine, session)
    assert not any("password" in line for line in again)
    assert not any(p in "\n".join(again) for p in passwords.values())
    app.extensions["atrium.db"].dispose()


def test_a_second_run_creates_nothing(process_engine, clock):
    seeded(process_engine)
    with process_engine.transaction() as session:
        before = {model.__name__: count(session, model) for model in SEEDED}
    clock.advance(days=3)
    lines = seeded(process_engine)
    with process_engine.transaction() as session:
        after = {model.__name__: count(session, model) for model in SEEDED}
    assert after == before
    assert not any(line.startswith(("Created", "Added", "Started")) for line in lines)
    assert "The demo firm's 200 clients already exist." in lines


def test_the_same_firm_every_time(db, services, clock, tmp_path):
    """Seeded random: two empty databases get the same clients."""
    from storage.db import make_engine
    from storage.migrate import upgrade_to_head

    other = make_engine(f"sqlite:///{tmp_path / 'other.db'}")
    upgrade_to_head(other)
    firms = []
    for database in (db, other):
        engine = make_process_engine(database, services)
        seeded(engine)
        with engine.transaction() as session:
            firms.append(
                [
                    (c.name, c.owner, c.tier, c.phones, c.created_at)
                    for c in session.scalars(select(Client).order_by(Client.id))
                ]
            )
    other.dispose()
    assert firms[0] == firms[1]


def test_production_seeds_nothing(db, services, clock):
    engine = make_process_engine(db, services, env="production", secret_key="s" * 32)
    with engine.transaction() as session:
        lines = seed_demo(engine, session)
    assert lines == ["ATRIUM_ENV=production: no demo data or demo accounts are seeded."]
    with engine.transaction() as session:
        assert count(session, Account) == count(session, Client) == count(session, Employee) == 0


def test_processes_are_seeded_only_once_deployed_and_about_demo_clients(process_engine, clock):
    from atrium.settings import PROJECT_ROOT
    from engine.definitions import SourceFile
    from engine.deployments import deploy

    assert [p.process_key for p in PROCESS_SEEDS] == [
        "engagement_review",
        "client_onboarding",
        "approval",
        "service_request",
        "complaint",
        "follow_up",
        "care",
        "time_entry_approval",
    ]
    lines = seeded(process_engine)
    assert "engagement_review is not deployed: run `atrium deploy` first; no demo instances of it." in lines
    paths = [PROJECT_ROOT / "processes" / "engagement_review.bpmn", *sorted((PROJECT_ROOT / "forms").glob("*.json"))]
    files = [SourceFile(path.name, path.read_bytes()) for path in paths]
    with process_engine.transaction() as session:
        deploy(process_engine, session, files)
    lines = seeded(process_engine)
    assert sum(line.startswith("Started engagement_review client:") for line in lines) == 3
    with process_engine.transaction() as session:
        keys = list(session.scalars(select(ProcessInstance.business_key)))
        ids = {c.id for c in session.scalars(select(Client))}
    assert len(set(keys)) == 3 and all(key.startswith("client:") and int(key.split(":")[1]) in ids for key in keys)
    assert sum("already exists" in line for line in seeded(process_engine)) == 3


@pytest.mark.parametrize("username", ["am", "li.na"])
def test_account_managers_see_their_own_teams_clients(db, services, clock, username):
    app = make_app(db, services)
    engine = app.extensions["atrium.engine"]
    with engine.transaction() as session:
        session.query(Account).delete()
    with engine.transaction() as session:
        passwords = dict(m.groups() for m in map(PASSWORD_LINE.match, seed_demo(engine, session)) if m)
    client = app.test_client()
    token = login(client, username, passwords[username]).json["access_token"]
    listed = client.get("/api/clients?page_size=200", headers={"Authorization": f"Bearer {token}"}).json
    team = {p.team for p in DEMO_PEOPLE if p.username == username}
    team_members = {p.username for p in DEMO_PEOPLE if p.team in team and "account_manager" in p.roles}
    assert 0 < listed["total"] < CLIENT_COUNT and {c["owner"] for c in listed["items"]} == team_members
    app.extensions["atrium.db"].dispose()


def test_every_business_process_has_demo_instances_waiting_on_the_right_people(db, services, clock):
    from engine.handlers import register_all
    from engine.scheduler import fire_due_timers
    from storage.billing import Invoice
    from storage.tasks import OPEN, Task

    from .api_helpers import caller, deploy_firm_processes

    register_all(services)
    app = make_app(db, services)
    try:
        deploy_firm_processes(caller(app.test_client(), "admin"))
        engine = app.extensions["atrium.engine"]
        with engine.transaction() as session:
            seed_demo(engine, session)
        fire_due_timers(engine)  # the care tasks of birthdays in the coming days: their timers are due
        with engine.transaction() as session:
            open_steps = sorted(session.execute(select(Task.process_key, Task.element_id).where(Task.status == OPEN)))
            care_cycles = count(session, ProcessInstance, ProcessInstance.process_key == "care")
            cycles = count(session, ProcessInstance, ProcessInstance.process_key == "follow_up")
            active = count(session, Client, Client.status == "active")
        assert ("client_onboarding", "intake") in open_steps and ("client_onboarding", "review") in open_steps
        assert open_steps.count(("approval", "decide")) == 2
        assert open_steps.count(("service_request", "triage")) == 2 and ("service_request", "assign") in open_steps
        assert ("complaint", "acknowledge") in open_steps and ("complaint", "investigate") in open_steps
        assert cycles == active > 0
        assert care_cycles == active and open_steps.count(("care", "prepare_care")) >= 4
        assert open_steps.count(("time_entry_approval", "approve")) == 1
        with engine.transaction() as session:
            invoices = session.scalars(select(Invoice)).all()
            states = {"paid": 0, "partly": 0, "overdue": 0}
            for invoice in invoices:
                if invoice.paid_amount == invoice.total_amount:
                    states["paid"] += 1
                elif invoice.paid_amount > 0:
                    states["partly"] += 1
                elif invoice.due_date < clock.now().date():
                    states["overdue"] += 1
            assert len(invoices) == 6 and min(states.values()) >= 1, states
        with engine.transaction() as session:
            again = seed_demo(engine, session)
            assert count(session, ProcessInstance, ProcessInstance.process_key == "follow_up") == cycles
        assert {
            "Demo onboardings already exist.",
            "Demo approvals already exist.",
            "Demo service requests already exist.",
            "Demo complaints already exist.",
            "The demo clients' follow-up cycles already run.",
            "Demo care dates exist and care is on already.",
            "Demo time entries exist already.",
        } <= set(again)
    finally:
        app.extensions["atrium.db"].dispose()

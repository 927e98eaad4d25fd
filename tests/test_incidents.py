"""Failing scripts and services: restricted execution, incidents, retries with backoff, retry after a fix."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from atrium.errors import Conflict
from engine.scheduler import fire_due_timers
from engine.scripting import RestrictedEnvironment, ScriptTimeout
from storage.history import instance_history
from storage.instances import Incident, ProcessInstance, open_incidents
from storage.tasks import open_tasks
from storage.timers import Timer

from .conftest import deploy_files


@pytest.mark.parametrize(
    "script, error",
    [
        ("import os", SyntaxError),
        ("from os import path", SyntaxError),
        ("x = (1).__class__", SyntaxError),
        ("x = getattr(1, '__class__')", NameError),
        ("x = open('/etc/passwd')", NameError),
        ("x = __import__('os')", SyntaxError),
        ("while True:\n    pass", ScriptTimeout),
        ("x = [i for i in range(10**12)]", ScriptTimeout),
        ("def f(n):\n    return f(n + 1)\nf(0)", RecursionError),
    ],
)
def test_scripts_cannot_escape_or_run_forever(script, error):
    env = RestrictedEnvironment(timeout_seconds=0.2)
    with pytest.raises(error):
        env.execute(script, {})


def test_a_failed_script_leaves_task_data_untouched():
    env = RestrictedEnvironment()
    data = {"items": [1, 2]}
    with pytest.raises(ZeroDivisionError):
        env.execute("items.append(3)\nx = 1 / 0", data)
    assert data == {"items": [1, 2]}
    env.execute("items.append(3)\ntotal = sum(items)", data)
    assert data == {"items": [1, 2, 3], "total": 6}


def _start_script_instance(engine, figures):
    with engine.transaction() as session:
        instance = engine.start_instance(session, process_key="fragile_script", variables=figures)
        [task] = open_tasks(session, instance_id=instance.id)
    with engine.transaction() as session:  # the task has no form: it takes no data
        instance = engine.complete_task(session, task_id=task.id, data={}, actor="ann")
    return instance


def test_script_error_opens_an_incident_and_keeps_the_completed_work(process_engine, services):
    services.register("ledger", lambda call: {})
    deploy_files(process_engine, "fragile.bpmn")
    instance = _start_script_instance(process_engine, {"total": 10, "parts": 0, "spin": False})
    assert instance.status == "error"
    with process_engine.transaction() as session:
        [incident] = open_incidents(session, instance_id=instance.id)
        assert incident.element_id == "divide"
        assert "ZeroDivisionError" in incident.message
        events = [(h.element_id, h.event) for h in instance_history(session, instance_id=instance.id)]
    # The user's completion is kept; the script is what failed.
    assert ("enter", "completed") in events and ("divide", "incident") in events


def test_runaway_script_becomes_an_incident(process_engine, services):
    services.register("ledger", lambda call: {})
    deploy_files(process_engine, "fragile.bpmn")
    instance = _start_script_instance(process_engine, {"total": 10, "parts": 2, "spin": True})
    assert instance.status == "error"
    with process_engine.transaction() as session:
        [incident] = open_incidents(session, instance_id=instance.id)
    assert "longer than" in incident.message and incident.element_id == "divide"


def test_failing_service_is_retried_with_backoff_then_becomes_an_incident_then_retried_by_hand(
    process_engine, services, clock
):
    attempts = []
    broken = {"on": True}

    def ledger(call):
        attempts.append(clock.now())
        if broken["on"]:
            raise ConnectionError("ledger unreachable")
        return {"posted": call.params["amount"]}

    services.register("ledger", ledger)
    deploy_files(process_engine, "fragile.bpmn")
    with process_engine.transaction() as session:
        instance = process_engine.start_instance(session, process_key="fragile_service", variables={"amount": 21})
    assert instance.status == "active"  # first failure: a retry is scheduled, no incident yet
    assert len(attempts) == 1

    clock.advance(seconds=9)
    assert fire_due_timers(process_engine) == 0
    clock.advance(seconds=2)  # backoff 10 s
    assert fire_due_timers(process_engine) == 1
    assert len(attempts) == 2
    clock.advance(seconds=19)
    assert fire_due_timers(process_engine) == 0
    clock.advance(seconds=2)  # backoff 20 s
    assert fire_due_timers(process_engine) == 1
    assert len(attempts) == 3  # first try + 2 retries

    with process_engine.transaction() as session:
        current = session.get(ProcessInstance, instance.id)
        assert current.status == "error"
        [incident] = open_incidents(session, instance_id=instance.id)
        assert incident.element_id == "call" and "ledger unreachable" in incident.message
        assert incident.attempts == 3
        assert session.scalars(select(Timer)).all() == []

    broken["on"] = False
    with process_engine.transaction() as session:
        current = process_engine.retry_instance(session, instance_id=instance.id, actor="admin")
        assert current.status == "active"
        [task] = open_tasks(session, instance_id=instance.id)
        assert task.element_id == "review"
        assert process_engine.instance_variables(session, current)["ledger_result"] == {"posted": 42}
        assert open_incidents(session, instance_id=instance.id) == []
        assert session.scalars(select(Incident.resolved_at)).one() is not None


def test_retry_without_an_incident_is_a_conflict(process_engine):
    deploy_files(process_engine, "parallel.bpmn")
    with process_engine.transaction() as session:
        instance = process_engine.start_instance(session, process_key="parallel_review")
    with pytest.raises(Conflict):
        with process_engine.transaction() as session:
            process_engine.retry_instance(session, instance_id=instance.id)


def test_pre_and_post_scripts_run_around_a_user_task(process_engine):
    deploy_files(process_engine, "scripts.bpmn")
    with process_engine.transaction() as session:
        instance = process_engine.start_instance(
            session, process_key="pre_post", variables={"client": "Ms Lin", "hours": 3, "signature": "A. Partner"}
        )
        [greet] = open_tasks(session, instance_id=instance.id)
        assert process_engine.instance_variables(session, instance)["greeting"] == "Dear Ms Lin"
    with process_engine.transaction() as session:
        instance = process_engine.complete_task(session, task_id=greet.id, data={})
        assert process_engine.instance_variables(session, instance)["signed"] == "Dear Ms Lin, A. Partner"


def test_an_incident_on_one_branch_keeps_the_instance_in_error_while_the_other_moves(process_engine):
    deploy_files(process_engine, "scripts.bpmn")
    with process_engine.transaction() as session:
        instance = process_engine.start_instance(
            session, process_key="pre_post", variables={"client": "Ms Lin", "hours": 3, "signature": "A."}
        )
        [greet] = open_tasks(session, instance_id=instance.id)
    with process_engine.transaction() as session:
        instance = process_engine.complete_task(session, task_id=greet.id, data={})
        assert instance.status == "error"
        [other] = open_tasks(session, instance_id=instance.id)
    with process_engine.transaction() as session:
        instance = process_engine.complete_task(session, task_id=other.id, data={})
        assert instance.status == "error"
        [incident] = open_incidents(session, instance_id=instance.id)
        assert incident.element_id == "broken" and "rate" in incident.message


@pytest.mark.parametrize("script, path", [("tags = set([1])", "tags"), ("x = {'a': [1, set()]}", "x.a[1]")])
def test_a_script_that_makes_unstorable_data_fails_with_the_path(script, path):
    with pytest.raises(TypeError, match=path.replace("[", r"\[")):
        RestrictedEnvironment().execute(script, {})


def test_dates_and_decimals_survive_a_round_trip_through_stored_state(process_engine, clock):
    from datetime import date
    from decimal import Decimal

    deploy_files(process_engine, "parallel.bpmn")
    with process_engine.transaction() as session:
        instance = process_engine.start_instance(
            session,
            process_key="parallel_review",
            variables={"signed_on": date(2026, 3, 1), "fee": Decimal("1200.50"), "due": clock.now()},
        )
    process_engine.workflows.clear()  # force a load from the stored state
    with process_engine.transaction() as session:
        variables = process_engine.instance_variables(session, instance)
    assert variables["signed_on"] == date(2026, 3, 1) and variables["fee"] == Decimal("1200.50")
    assert variables["due"] == clock.now()

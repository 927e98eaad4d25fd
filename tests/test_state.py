"""Stored state: small, constant for long-lived loops, and untouched when a step fails midway."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import undefer

from atrium.errors import Conflict
from engine import steps
from engine.scheduler import fire_due_timers
from storage.history import HistoryEntry
from storage.instances import ProcessInstance
from storage.step_writes import task_with_instance
from storage.tasks import Task, open_tasks
from storage.timers import Timer

from .conftest import deploy_files


def _state_size(engine, instance_id) -> int:
    with engine.transaction() as session:
        row = session.scalars(
            select(ProcessInstance).options(undefer(ProcessInstance.state)).where(ProcessInstance.id == instance_id)
        ).one()
        return len(row.state)


def test_two_user_task_flow_stores_well_under_4_kb(process_engine):
    deploy_files(process_engine, "two_tasks.bpmn", "intake-schema.json")
    with process_engine.transaction() as session:
        instance = process_engine.start_instance(session, process_key="two_tasks", variables={"urgency": 1})
        [task] = open_tasks(session, instance_id=instance.id)
    with process_engine.transaction() as session:
        process_engine.complete_task(session, task_id=task.id, data={"amount": 70})
    assert _state_size(process_engine, instance.id) < 4096


def test_a_long_loop_keeps_state_size_constant_and_history_complete(process_engine, clock):
    deploy_files(process_engine, "loop.bpmn")
    with process_engine.transaction() as session:
        instance = process_engine.start_instance(session, process_key="loop_timer", variables={"count": 0, "limit": 60})
    sizes = {}
    for iteration in range(1, 61):
        with process_engine.transaction() as session:
            [task] = open_tasks(session, instance_id=instance.id)
            process_engine.complete_task(session, task_id=task.id, data={})
        sizes[iteration] = _state_size(process_engine, instance.id)
        clock.advance(minutes=1, seconds=1)
        fire_due_timers(process_engine)
    with process_engine.transaction() as session:
        current = session.get(ProcessInstance, instance.id)
        checks = session.scalar(
            select(func.count())
            .select_from(HistoryEntry)
            .where(
                HistoryEntry.instance_id == instance.id,
                HistoryEntry.element_id == "check",
                HistoryEntry.event == "completed",
            )
        )
    assert current.status == "completed"
    assert checks == 60
    assert sizes[50] <= sizes[5] * 1.1, sizes


def test_a_failure_mid_step_leaves_the_database_exactly_as_before(process_engine, monkeypatch):
    deploy_files(process_engine, "loop.bpmn")
    with process_engine.transaction() as session:
        instance = process_engine.start_instance(session, process_key="loop_timer", variables={"count": 0, "limit": 5})
        [task] = open_tasks(session, instance_id=instance.id)

    def snapshot():
        with process_engine.transaction() as session:
            row = session.scalars(
                select(ProcessInstance).options(undefer(ProcessInstance.state)).where(ProcessInstance.id == instance.id)
            ).one()
            return (
                row.state,
                row.lock_version,
                row.status,
                session.scalar(select(func.count()).select_from(HistoryEntry)),
                sorted((t.element_id, t.status) for t in session.scalars(select(Task))),
                session.scalar(select(func.count()).select_from(Timer)),
            )

    before = snapshot()

    def crash(*args, **kwargs):
        raise RuntimeError("disk on fire")

    # The step has run and written history and inbox changes into the session when this fails.
    monkeypatch.setattr(steps, "sync_waits", crash)
    with pytest.raises(RuntimeError):
        with process_engine.transaction() as session:
            process_engine.complete_task(session, task_id=task.id, data={})
    assert snapshot() == before

    monkeypatch.undo()
    with process_engine.transaction() as session:
        process_engine.complete_task(session, task_id=task.id, data={})
    assert snapshot()[1] == before[1] + 1


def test_an_instance_read_without_its_state_loads_it_at_that_version_or_conflicts(process_engine):
    """Completion reads the instance without its state (the cache usually has the workflow);
    on a cache miss the state is read at the version first read, and a newer one is a conflict."""
    deploy_files(process_engine, "two_tasks.bpmn", "intake-schema.json")
    with process_engine.transaction() as session:
        instance = process_engine.start_instance(session, process_key="two_tasks", variables={"urgency": 1})
        [task] = open_tasks(session, instance_id=instance.id)
    process_engine.workflows.clear()
    with process_engine.transaction() as session:
        row, header = task_with_instance(session, task_id=task.id)
        assert header.state is None and header.lock_version == 1
        process_engine.complete_task(session, task_id=task.id, data={"amount": 70}, task_row=row, instance=header)
    with process_engine.transaction() as session:
        [approve] = open_tasks(session, instance_id=instance.id)
        _, stale = task_with_instance(session, task_id=approve.id)
    stale.lock_version = 1  # as if read before the completion above committed
    process_engine.workflows.clear()
    with pytest.raises(Conflict), process_engine.transaction() as session:
        process_engine.complete_task(session, task_id=approve.id, data={}, instance=stale)

"""User tasks become inbox rows; completing one validates its form, merges data and advances."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from atrium.errors import Conflict, InvalidInput, NotFound
from storage.history import instance_history
from storage.instances import ProcessInstance
from storage.tasks import Task, open_tasks

from .conftest import deploy_files


def _start(engine, key, **kwargs):
    with engine.transaction() as session:
        instance = engine.start_instance(session, process_key=key, **kwargs)
        return instance, open_tasks(session, instance_id=instance.id)


def _complete(engine, task_id, data=None, actor="ann"):
    with engine.transaction() as session:
        instance = engine.complete_task(session, task_id=task_id, data=data, actor=actor)
        return instance, open_tasks(session, instance_id=instance.id)


def test_spiff_user_task_gets_lane_group_priority_due_date_and_form(process_engine, clock):
    deploy_files(process_engine, "two_tasks.bpmn", "intake-schema.json")
    instance, tasks = _start(process_engine, "two_tasks", variables={"urgency": 80}, business_key="REQ-1", actor="ann")
    assert instance.status == "active" and instance.business_key == "REQ-1"
    [task] = tasks
    assert (task.name, task.element_id, task.process_key) == ("Record the request", "intake", "two_tasks")
    assert task.candidate_groups == ["service_desk"]
    assert task.priority == 80
    assert task.due_at == clock.now() + timedelta(days=2)
    assert task.form_id is not None


def test_form_violations_are_rejected_with_field_paths_and_nothing_changes(process_engine):
    deploy_files(process_engine, "two_tasks.bpmn", "intake-schema.json")
    instance, [task] = _start(process_engine, "two_tasks", variables={"urgency": 1})
    with pytest.raises(InvalidInput) as caught:
        _complete(process_engine, task.id, {"amount": -5, "note": "x" * 300})
    assert set(caught.value.errors) == {"data.amount", "data.note"}
    with pytest.raises(InvalidInput) as caught:
        _complete(process_engine, task.id, {})
    assert set(caught.value.errors) == {"data.amount"}
    with process_engine.transaction() as session:
        assert session.get(Task, task.id).status == "open"
        assert session.get(ProcessInstance, instance.id).lock_version == instance.lock_version


def test_completing_tasks_runs_script_and_gateway_to_the_end_with_history(process_engine):
    deploy_files(process_engine, "two_tasks.bpmn", "intake-schema.json")
    instance, [intake] = _start(process_engine, "two_tasks", variables={"urgency": 1}, actor="ann")
    instance, [approve] = _complete(process_engine, intake.id, {"amount": 70}, actor="ann")
    assert approve.element_id == "approve" and approve.candidate_groups == ["manager"]
    instance, remaining = _complete(process_engine, approve.id, {}, actor="bob")
    assert instance.status == "completed" and remaining == [] and instance.ended_at is not None
    with process_engine.transaction() as session:
        events = [(h.element_id, h.event, h.actor) for h in instance_history(session, instance_id=instance.id)]
        assert process_engine.instance_variables(session, instance)["score"] == 140
    assert events == [
        (None, "instance_started", "ann"),
        ("start", "completed", "ann"),
        ("intake", "ready", "ann"),
        ("intake", "completed", "ann"),
        ("score", "completed", "ann"),
        ("route", "completed", "ann"),
        ("approve", "ready", "ann"),
        ("approve", "completed", "bob"),
        ("end", "completed", "bob"),
        (None, "instance_completed", "bob"),
    ]


def test_small_amount_takes_the_default_flow(process_engine):
    deploy_files(process_engine, "two_tasks.bpmn", "intake-schema.json")
    _, [intake] = _start(process_engine, "two_tasks", variables={"urgency": 1})
    instance, remaining = _complete(process_engine, intake.id, {"amount": 10})
    assert instance.status == "completed" and remaining == []


def test_a_completed_task_cannot_be_completed_again(process_engine):
    deploy_files(process_engine, "two_tasks.bpmn", "intake-schema.json")
    _, [intake] = _start(process_engine, "two_tasks", variables={"urgency": 1})
    _complete(process_engine, intake.id, {"amount": 70})
    with pytest.raises(Conflict):
        _complete(process_engine, intake.id, {"amount": 70})


def test_unknown_process_and_task_are_not_found(process_engine):
    import uuid

    with pytest.raises(NotFound):
        _start(process_engine, "nope")
    with pytest.raises(NotFound):
        _complete(process_engine, uuid.uuid4(), {})


def test_camunda_attributes_are_evaluated_on_task_data(process_engine, services, clock):
    calls = []
    services.register("notify", lambda call: calls.append(call.params) or {"sent": True})
    deploy_files(process_engine, "camunda_approval.bpmn")
    due = (clock.now() + timedelta(hours=5)).isoformat()
    instance, [review] = _start(
        process_engine,
        "camunda_approval",
        variables={"preparer": "carol", "reviewers": ["dave", "erin"], "due": due, "prio": 70, "amount": 500},
    )
    assert review.assignee == "carol"
    assert sorted(review.candidate_groups) == ["manager", "partner"]
    assert review.candidate_users == ["dave", "erin"]
    assert review.due_at == clock.now() + timedelta(hours=5)
    assert review.priority == 70
    with pytest.raises(InvalidInput) as caught:
        _complete(process_engine, review.id, {"reason": "ok"})
    assert "data.approved" in caught.value.errors
    instance, _ = _complete(process_engine, review.id, {"approved": True, "level": "high"})
    assert instance.status == "completed"
    assert calls == [{"to": "carol", "subject": "Fee approved"}]
    with process_engine.transaction() as session:
        assert process_engine.instance_variables(session, instance)["spiff__notify_result"] == {"sent": True}


def test_rejection_path_skips_the_service(process_engine, services):
    calls = []
    services.register("notify", lambda call: calls.append(call) or {})
    deploy_files(process_engine, "camunda_approval.bpmn")
    _, [review] = _start(
        process_engine,
        "camunda_approval",
        variables={"preparer": "carol", "reviewers": None, "due": None, "prio": None, "amount": 500},
    )
    assert review.priority == 50 and review.due_at is None and review.candidate_users == []
    instance, _ = _complete(process_engine, review.id, {"approved": False})
    assert instance.status == "completed" and calls == []


def test_dmn_decision_routes_the_task_to_a_group(process_engine):
    deploy_files(process_engine, "decision.bpmn", "fee_route.dmn")
    _, [small] = _start(process_engine, "fee_decision", variables={"amount": 200})
    _, [large] = _start(process_engine, "fee_decision", variables={"amount": 5000})
    assert small.candidate_groups == ["manager"]
    assert large.candidate_groups == ["partner"]


def test_parallel_branches_join_and_embedded_subprocess_runs(process_engine):
    deploy_files(process_engine, "parallel.bpmn")
    instance, tasks = _start(process_engine, "parallel_review")
    assert sorted(t.element_id for t in tasks) == ["finance", "legal"]
    _, tasks = _complete(process_engine, tasks[0].id, {f"{tasks[0].element_id}_ok": True})
    assert len(tasks) == 1
    _, [sign] = _complete(process_engine, tasks[0].id, {f"{tasks[0].element_id}_ok": True})
    assert sign.element_id == "sign"
    instance, _ = _complete(process_engine, sign.id, {})
    assert instance.status == "completed"
    with process_engine.transaction() as session:
        variables = process_engine.instance_variables(session, instance)
    assert variables["legal_ok"] and variables["finance_ok"]


def test_cancel_closes_tasks_and_records_history(process_engine):
    deploy_files(process_engine, "parallel.bpmn")
    instance, tasks = _start(process_engine, "parallel_review")
    with process_engine.transaction() as session:
        process_engine.cancel_instance(session, instance_id=instance.id, actor="admin")
    with process_engine.transaction() as session:
        assert session.get(ProcessInstance, instance.id).status == "cancelled"
        statuses = set(session.scalars(select(Task.status).where(Task.instance_id == instance.id)))
        assert statuses == {"cancelled"}
        events = [(h.element_id, h.event) for h in instance_history(session, instance_id=instance.id)]
        assert ("legal", "cancelled") in events and (None, "instance_cancelled") in events
    with pytest.raises(Conflict):
        with process_engine.transaction() as session:
            process_engine.cancel_instance(session, instance_id=instance.id)
    with pytest.raises(Conflict):
        _complete(process_engine, tasks[0].id, {})

"""Separation of duties in the engine, as Camunda Modeler writes it: a `camunda:property` named
`excludedPerformer` lists the variables whose people may not complete the task, whoever calls."""

from __future__ import annotations

import pytest

from atrium.errors import Forbidden
from storage.tasks import open_tasks

from .conftest import deploy_files


def test_the_people_named_by_excluded_performer_may_not_complete_the_task(process_engine):
    deploy_files(process_engine, "camunda_separation.bpmn")
    with process_engine.transaction() as session:
        instance = process_engine.start_instance(
            session, process_key="camunda_separation", actor="lin", variables={"claimant": "lin", "booked_by": "wu"}
        )
        [task] = open_tasks(session, instance_id=instance.id)
    for person in ("lin", "wu"):
        with pytest.raises(Forbidden, match="separation of duties"), process_engine.transaction() as session:
            process_engine.complete_task(session, task_id=task.id, actor=person)
    with process_engine.transaction() as session:
        done = process_engine.complete_task(session, task_id=task.id, actor="zhao")
    assert done.status == "completed"


def test_a_variable_not_set_excludes_nobody(process_engine):
    deploy_files(process_engine, "camunda_separation.bpmn")
    with process_engine.transaction() as session:
        instance = process_engine.start_instance(session, process_key="camunda_separation", variables={})
        [task] = open_tasks(session, instance_id=instance.id)
    with process_engine.transaction() as session:
        assert process_engine.complete_task(session, task_id=task.id, actor="lin").status == "completed"

"""Deploying BPMN: versions per key, no-op redeploys, and whole-set rejection with located problems."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from atrium.errors import DefinitionInvalid
from engine.definitions import SourceFile
from engine.deployments import deploy
from storage.definitions import Form, ProcessDefinition
from storage.instances import ProcessInstance

from .conftest import BPMN_DIR, deploy_files, source_files


def _count(engine, model):
    with engine.transaction() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_identical_content_is_a_no_op_and_changed_content_makes_a_new_version(process_engine):
    first = deploy_files(process_engine, "two_tasks.bpmn", "intake-schema.json")
    assert [(d.process_key, d.version, d.created) for d in first.definitions] == [("two_tasks", 1, True)]

    again = deploy_files(process_engine, "two_tasks.bpmn", "intake-schema.json")
    assert [(d.version, d.created) for d in again.definitions] == [(1, False)]
    assert _count(process_engine, ProcessDefinition) == 1

    changed = (BPMN_DIR / "two_tasks.bpmn").read_text().replace("score = amount * 2", "score = amount * 3")
    with process_engine.transaction() as session:
        result = deploy(process_engine, session, [SourceFile("two_tasks.bpmn", changed.encode())])
    assert [(d.version, d.created) for d in result.definitions] == [(2, True)]


def test_running_instances_stay_on_the_version_they_started_on(process_engine):
    deploy_files(process_engine, "two_tasks.bpmn", "intake-schema.json")
    with process_engine.transaction() as session:
        old = process_engine.start_instance(session, process_key="two_tasks", variables={"urgency": 1})
    changed = (BPMN_DIR / "two_tasks.bpmn").read_text().replace("score = amount * 2", "score = amount * 100")
    with process_engine.transaction() as session:
        deploy(process_engine, session, [SourceFile("two_tasks.bpmn", changed.encode())])
        new = process_engine.start_instance(session, process_key="two_tasks", variables={"urgency": 1})
    with process_engine.transaction() as session:
        versions = {
            row.id: session.get(ProcessDefinition, row.definition_id).version
            for row in session.scalars(select(ProcessInstance))
        }
        assert versions == {old.id: 1, new.id: 2}
        task = process_engine_open_task(session, old.id)
        process_engine.complete_task(session, task_id=task, data={"amount": 2})
        # Version 1's script doubles: score 4 is below the gateway's limit, so it ended.
        assert process_engine.instance_variables(session, session.get(ProcessInstance, old.id))["score"] == 4


def process_engine_open_task(session, instance_id):
    from storage.tasks import open_tasks

    return open_tasks(session, instance_id=instance_id)[0].id


def test_a_changed_form_makes_a_new_version_that_pins_it(process_engine):
    deploy_files(process_engine, "two_tasks.bpmn", "intake-schema.json")
    schema = (BPMN_DIR / "intake-schema.json").read_text().replace('"maxLength": 200', '"maxLength": 20')
    with process_engine.transaction() as session:
        result = deploy(
            process_engine,
            session,
            source_files("two_tasks.bpmn") + [SourceFile("intake-schema.json", schema.encode())],
        )
        assert [(d.version, d.created) for d in result.definitions] == [(2, True)]
        v1, v2 = session.scalars(select(ProcessDefinition).order_by(ProcessDefinition.version)).all()
        assert v1.form_ids["intake"] != v2.form_ids["intake"]
        assert session.get(Form, v2.form_ids["intake"]).schema["properties"]["note"]["maxLength"] == 20


def _problems(process_engine, files):
    with pytest.raises(DefinitionInvalid) as caught:
        with process_engine.transaction() as session:
            deploy(process_engine, session, files)
    return caught.value.problems


BROKEN_SCRIPT = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <bpmn:process id="broken" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="hack" />
    <bpmn:scriptTask id="hack" name="Hack">
      <bpmn:script>import os</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="hack" targetRef="call" />
    <bpmn:serviceTask id="call" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" camunda:type="external" camunda:topic="no_such_handler" />
    <bpmn:sequenceFlow id="f3" sourceRef="call" targetRef="wait" />
    <bpmn:intermediateCatchEvent id="wait">
      <bpmn:timerEventDefinition><bpmn:timeDuration>"soon"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f4" sourceRef="wait" targetRef="form_task" />
    <bpmn:userTask id="form_task" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" camunda:formKey="missing_form" />
    <bpmn:sequenceFlow id="f5" sourceRef="form_task" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_every_problem_is_reported_with_file_line_and_element(process_engine):
    problems = _problems(process_engine, [SourceFile("broken.bpmn", BROKEN_SCRIPT.encode())])
    by_element = {p.element_id: p for p in problems}
    assert set(by_element) == {"hack", "call", "wait", "form_task"}
    assert "imports are not allowed" in by_element["hack"].message
    assert by_element["hack"].line == 6
    assert "no_such_handler" in by_element["call"].message
    assert "not an ISO-8601" in by_element["wait"].message
    assert "missing_form" in by_element["form_task"].message
    assert str(by_element["hack"]).startswith("broken.bpmn:6: hack: ")


def test_malformed_and_schema_invalid_files_are_located(process_engine):
    problems = _problems(
        process_engine,
        [
            SourceFile(
                "cut.bpmn",
                b"<?xml version='1.0'?>\n<bpmn:definitions xmlns:bpmn='http://www.omg.org/spec/BPMN/20100524/MODEL'>\n<bpmn:process id='p'>",
            ),
            SourceFile(
                "bad.bpmn",
                b"""<?xml version="1.0"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <bpmn:process id="p2" isExecutable="true">
    <bpmn:startEvent id="s" bogus="1" />
  </bpmn:process>
</bpmn:definitions>""",
            ),
        ],
    )
    cut = [p for p in problems if p.file == "cut.bpmn"]
    bad = [p for p in problems if p.file == "bad.bpmn"]
    assert cut and "not well-formed" in cut[0].message and cut[0].line == 3
    assert bad and bad[0].line == 4 and bad[0].element_id == "s" and "bogus" in bad[0].message


def test_one_bad_file_rejects_the_whole_set(process_engine):
    files = source_files("two_tasks.bpmn", "intake-schema.json") + [SourceFile("broken.bpmn", BROKEN_SCRIPT.encode())]
    _problems(process_engine, files)
    assert _count(process_engine, ProcessDefinition) == 0
    assert _count(process_engine, Form) == 0


def test_camunda_form_data_becomes_a_generated_json_schema(process_engine, services):
    services.register("notify", lambda call: {"sent": True})
    deploy_files(process_engine, "camunda_approval.bpmn")
    with process_engine.transaction() as session:
        form = session.scalars(select(Form).where(Form.name == "camunda_approval.review")).one()
    assert form.schema["required"] == ["approved"]
    assert form.schema["properties"]["approved"] == {"type": "boolean", "title": "Approve?"}
    assert form.schema["properties"]["reason"]["maxLength"] == 50
    assert form.schema["properties"]["level"]["enum"] == ["low", "high"]

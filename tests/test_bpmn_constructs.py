"""BPMN as the modelers write it: constructs Camunda runs either run here as BPMN 2.0 specifies, or are
refused at deploy with a problem naming the file, line and element (never a 500, never a Python class name)."""

from __future__ import annotations

import re
import shutil

import pytest
from sqlalchemy import select

from atrium.cli import main
from atrium.errors import DefinitionInvalid
from engine.messages import correlate_message
from storage.history import HistoryEntry
from storage.step_writes import load_instance
from storage.tasks import open_tasks

from .api_helpers import caller, deploy_via_api
from .conftest import BPMN_DIR, deploy_files


def _open(engine, instance_id) -> list[str]:
    with engine.transaction() as session:
        return sorted(t.element_id for t in open_tasks(session, instance_id=instance_id))


def _complete(engine, instance_id, element_id) -> None:
    with engine.transaction() as session:
        task = next(t for t in open_tasks(session, instance_id=instance_id) if t.element_id == element_id)
        engine.complete_task(session, task_id=task.id, data={})


def _status(engine, instance_id) -> str:
    with engine.transaction() as session:
        return load_instance(session, instance_id=instance_id, with_state=False).status


def _start(engine, key):
    with engine.transaction() as session:
        return engine.start_instance(session, process_key=key).id


def _history(engine, instance_id) -> list[tuple[str, str]]:
    with engine.transaction() as session:
        return [
            (h.element_id, h.event)
            for h in session.scalars(
                select(HistoryEntry).where(HistoryEntry.instance_id == instance_id).order_by(HistoryEntry.id)
            )
        ]


def _problems(engine, *names) -> list[str]:
    with pytest.raises(DefinitionInvalid) as caught:
        deploy_files(engine, *names)
    return [str(p) for p in caught.value.problems]


def test_flows_out_of_a_task_without_conditions_split_and_a_task_with_several_incoming_runs_once_per_token(
    process_engine,
):
    # Before: refused with "Multiple outgoing flows are not supported for tasks of type".
    deploy_files(process_engine, "implicit_split.bpmn")
    instance = _start(process_engine, "implicit_split")
    _complete(process_engine, instance, "review")
    assert _open(process_engine, instance) == ["finance", "legal"]  # both flows got a token
    _complete(process_engine, instance, "legal")
    # BPMN 2.0 (10.5.1): without a gateway the merge is uncontrolled: the first token starts the task...
    assert _open(process_engine, instance) == ["archive", "finance"]
    _complete(process_engine, instance, "finance")
    # ...and the second starts it again; the process ends when both have reached the end.
    assert _open(process_engine, instance) == ["archive", "archive"]
    _complete(process_engine, instance, "archive")
    assert _status(process_engine, instance) == "active"
    _complete(process_engine, instance, "archive")
    assert _status(process_engine, instance) == "completed"


def test_sub_processes_and_paths_without_end_events_complete_when_no_token_is_left(process_engine):
    # Before: refused with "A SubWorkflow Must contain an End event"; and a process path without an end
    # event never completed.
    deploy_files(process_engine, "open_ends.bpmn")
    instance = _start(process_engine, "open_ends")
    assert _open(process_engine, instance) == ["sign"]
    with process_engine.transaction() as session:  # the event sub-process's message start listens
        deliveries = correlate_message(process_engine, session, name="escalate", payload={"reason": "late"})
    assert [(d.instance_id, d.started) for d in deliveries] == [(instance, False)]
    assert _open(process_engine, instance) == ["note", "sign"]
    _complete(process_engine, instance, "sign")
    assert _open(process_engine, instance) == ["file", "note"]  # the sub-process ended with its last task
    _complete(process_engine, instance, "file")
    assert _status(process_engine, instance) == "active"  # the event sub-process still holds a token
    _complete(process_engine, instance, "note")
    assert _status(process_engine, instance) == "completed"
    with process_engine.transaction() as session:  # once completed nothing listens any more
        with pytest.raises(Exception, match="no process instance or start event is waiting"):
            correlate_message(process_engine, session, name="escalate")


def test_a_process_with_a_none_and_a_message_start_starts_at_the_one_that_fired(process_engine):
    deploy_files(process_engine, "two_starts.bpmn")
    by_hand = _start(process_engine, "two_starts")
    assert ("by_hand", "completed") in _history(process_engine, by_hand)
    with process_engine.transaction() as session:
        started = correlate_message(process_engine, session, name="intake_received", payload={"source": "mail"})
    by_message = started[0].instance_id
    history = _history(process_engine, by_message)
    # Before: the none start ran first and cancelled the message start, dropping the message.
    assert ("by_message", "completed") in history and ("by_hand", "completed") not in history
    assert _open(process_engine, by_message) == ["triage"]
    with process_engine.transaction() as session:
        assert (
            process_engine.instance_variables(session, load_instance(session, instance_id=by_message))["source"]
            == "mail"
        )
    _complete(process_engine, by_message, "triage")
    assert _status(process_engine, by_message) == "completed"


def test_a_process_without_a_start_event_is_refused_naming_it(process_engine):
    assert _problems(process_engine, "no_start.bpmn") == ["no_start.bpmn:3: no_start: No start event found"]


def test_broken_references_are_refused_naming_file_line_and_element(process_engine):
    problems = _problems(process_engine, "broken_refs.bpmn")
    assert problems == [
        "broken_refs.bpmn:11: f2: a condition on a flow out of 'check', which is not a gateway, is not supported: "
        "put an exclusive or inclusive gateway after it and the condition on its flow",
        "broken_refs.bpmn:6: wait_reply: messageRef 'Message_gone' names no bpmn:message in this file",
        "broken_refs.bpmn:14: fail: errorRef 'Error_gone' names no bpmn:error in this file",
    ]
    # Before: `TypeError("NodeParser.raise_validation_exception() got an unexpected keyword argument 'node'")`.
    assert not any(re.search(r"\w+(Error|Exception)\(", p) for p in problems)


@pytest.mark.parametrize(
    "change, expected",
    [
        # Before: every start of it failed with a database error (a subscription without a message name).
        (
            '<bpmn:messageEventDefinition messageRef="Message_gone" />',
            "broken.bpmn:6: wait_reply: its messageEventDefinition needs a messageRef naming a bpmn:message",
        ),
        # Before: the deploy itself failed with an AttributeError.
        (
            "<bpmn:timerEventDefinition><bpmn:timeDuration /></bpmn:timerEventDefinition>",
            "broken.bpmn:6: wait_reply: the timer has no date, duration or cycle",
        ),
    ],
)
def test_events_missing_what_they_wait_for_are_refused(process_engine, change, expected):
    text = (BPMN_DIR / "broken_refs.bpmn").read_text()
    text = text.replace(
        '<bpmn:messageEventDefinition messageRef="Message_gone" />', change.replace(' messageRef="Message_gone"', "")
    )
    text = re.sub(r"\s*<bpmn:sequenceFlow id=\"f2\".*?</bpmn:sequenceFlow>", "", text, flags=re.S)
    text = text.replace('<bpmn:errorEventDefinition errorRef="Error_gone" />', "")
    text = re.sub(r"\s*<bpmn:callActivity.*?/>\s*<bpmn:sequenceFlow id=\"f3\"[^>]*/>", "", text, flags=re.S)
    from engine.definitions import SourceFile
    from engine.deployments import deploy

    with pytest.raises(DefinitionInvalid) as caught:
        with process_engine.transaction() as session:
            deploy(process_engine, session, [SourceFile("broken.bpmn", text.encode())])
    assert [str(p) for p in caught.value.problems] == [expected]


def test_a_call_activity_whose_process_is_missing_is_named_with_its_line(process_engine):
    # Before: "0: -: The process 'billing' was not found", with no element or line.
    assert _problems(process_engine, "call_missing.bpmn") == [
        "call_missing.bpmn:6: call_billing: calls process 'billing', which is in none of the files deployed with "
        "it (deploy the file that defines it in the same deployment)"
    ]
    deploy_files(process_engine, "call_missing.bpmn", "billing.bpmn")
    instance = _start(process_engine, "call_missing")
    assert _open(process_engine, instance) == ["invoice"]
    _complete(process_engine, instance, "invoice")  # the called process has no end event either
    assert _status(process_engine, instance) == "completed"


def test_over_http_the_constructs_deploy_and_run_and_refusals_are_problems(app):
    client = app.test_client()
    admin = caller(client, "admin")
    refused = deploy_via_api(admin, "no_start.bpmn")
    assert refused.status_code == 422 and refused.mimetype == "application/problem+json"
    assert refused.json["errors"] == [
        {"file": "no_start.bpmn", "line": 3, "element_id": "no_start", "message": "No start event found"}
    ]
    refused = deploy_via_api(admin, "broken_refs.bpmn")
    assert refused.status_code == 422
    assert {e["element_id"] for e in refused.json["errors"]} == {"f2", "wait_reply", "fail"}

    deployed = deploy_via_api(admin, "implicit_split.bpmn", "two_starts.bpmn")
    assert deployed.status_code == 201, deployed.json
    # A process with a none start among several start events is one a person may start.
    startable = admin.get("/api/process-definitions?startable=true").json["items"]
    assert {d["process_key"] for d in startable} >= {"implicit_split", "two_starts"}
    started = admin.post("/api/process-instances", json={"process_key": "two_starts"})
    assert started.status_code == 201 and [t["element_id"] for t in started.json["open_tasks"]] == ["triage"]
    started = admin.post("/api/process-instances", json={"process_key": "implicit_split"})
    assert started.status_code == 201
    review = started.json["open_tasks"][0]
    done = admin.post(f"/api/tasks/{review['id']}/complete", json={"data": {}})
    assert done.status_code == 200, done.json
    detail = admin.get(f"/api/process-instances/{started.json['id']}").json
    assert sorted(detail["current_activities"]) == ["finance", "legal"]


def test_validate_takes_called_processes_and_forms_from_the_same_folder(tmp_path, monkeypatch, capsys, clock):
    monkeypatch.setenv("ATRIUM_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("ATRIUM_FORMS_DIR", str(tmp_path / "no-forms"))
    folder = tmp_path / "processes"
    folder.mkdir()
    for name in ("call_missing.bpmn", "billing.bpmn", "two_tasks.bpmn", "intake-schema.json"):
        shutil.copy(BPMN_DIR / name, folder / name)
    # Before: the call activity's process and the form beside the file were not found.
    assert main(["validate", str(folder / "call_missing.bpmn"), str(folder / "two_tasks.bpmn")]) == 0, (
        capsys.readouterr()
    )
    assert "OK: 3 process(es) valid (call_missing, billing, two_tasks)" in capsys.readouterr().out
    assert main(["validate", str(folder)]) == 0
    (folder / "billing.bpmn").unlink()
    assert main(["validate", str(folder / "call_missing.bpmn")]) == 1
    assert "call_missing.bpmn:6: call_billing: calls process 'billing'" in capsys.readouterr().out


def test_validate_of_the_firm_processes_file_by_file(monkeypatch, capsys, clock):
    from atrium.settings import PROJECT_ROOT

    files = sorted(str(p) for p in (PROJECT_ROOT / "processes").glob("*.bpmn"))
    assert main(["validate", *files]) == 0, capsys.readouterr()

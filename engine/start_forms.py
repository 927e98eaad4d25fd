"""What a person needs to start a process by hand: whether it has a plain (none) start event, and its start form;
and what of a person's start variables that form lets in."""

from __future__ import annotations

from SpiffWorkflow.bpmn.specs.control import BpmnStartTask, StartEventSplit
from SpiffWorkflow.bpmn.specs.event_definitions.simple import NoneEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.util.task import TaskState

from .form_references import check_references
from .forms import validate_fields
from .submissions import check_declared, writable_fields


def has_plain_start_event(spec) -> bool:
    """Whether the process has a start event with no trigger: one a person (or code) starts directly,
    not only a timer or a message."""
    return any(isinstance(task_spec.event_definition, NoneEventDefinition) for task_spec in start_events(spec))


def start_events(spec) -> list:
    """The start events of a process (behind SpiffWorkflow's split when it has several)."""
    outputs = list(spec.start.outputs)
    for task_spec in list(outputs):
        if isinstance(task_spec, StartEventSplit):
            outputs.extend(task_spec.outputs)
    return [t for t in outputs if isinstance(t, StartEvent)]


def begin_at(workflow, element_id: str) -> None:
    """Start `workflow` at one of its start events (a timer or message start that fired): run it up to its
    start events and cancel the others, so a process with several start events (BPMN 2.0 10.5.2: each is an
    alternative way in) does not also take its none start event. The caller then fires `element_id`."""
    for _ in range(2):  # the process's start, then the split in front of several start events
        for task in workflow.get_tasks(state=TaskState.READY):
            if task.workflow is workflow and isinstance(task.task_spec, (BpmnStartTask, StartEventSplit)):
                task.run()
    for task in workflow.get_tasks(state=TaskState.READY | TaskState.WAITING):
        if (
            task.workflow is workflow
            and isinstance(task.task_spec, StartEvent)
            and isinstance(task.parent.task_spec, (BpmnStartTask, StartEventSplit))
            and task.task_spec.bpmn_id != element_id
        ):
            task.cancel()


NOT_IN_START_FORM = "not a field of this process's start form"


def start_form_variables(engine, session, definition_id: int, variables: dict, references) -> dict:
    """The start variables a person's start writes, checked as a task's submission is (engine.submissions):
    when the process has a start form (its first user task's form), a variable it does not declare is
    refused naming `variables.<name>`, those that fill in its fields are checked against its JSON Schema
    and the people and clients they name (`references`: what the starter may choose), and only the fields
    a person may fill in are written (not `readOnly` ones). A start need not fill in the whole form: its
    task opens for the starter with what was given. Without a start form the variables stay as given."""
    form_ids = sorted(engine.start_form(session, definition_id)[0])
    if not form_ids:
        return variables
    schemas = [engine.form(session, form_id).schema for form_id in form_ids]
    declared = {name: True for schema in schemas for name in (schema.get("properties") or {})}
    check_declared(
        {"properties": declared},
        variables,
        field="variables",
        form="the process's start form",
        not_in_form=NOT_IN_START_FORM,
    )
    writable: set[str] = set()
    for schema in schemas:
        fields = writable_fields(schema)
        writable |= fields
        given = {name: value for name, value in variables.items() if name in fields}
        if given:
            validate_fields(schema, given, prefix="variables")
            check_references(schema, given, references, prefix="variables")
    return {name: value for name, value in variables.items() if name in writable}

"""Event sub-processes started by a message (BPMN 2.0 10.3.5): while the process runs, each such start
event is a subscription of the instance, so a message correlated to it starts the sub-process.

SpiffWorkflow keeps these start events on the process's start ("trigger specs") rather than as waiting
tasks; the subscription row names a task id derived from the instance's root task and the element.
"""

from __future__ import annotations

import uuid

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.util.task import TaskState


def _message_starts(workflow):
    for name in getattr(workflow.spec.start, "trigger_specs", []):
        sp_spec = workflow.subprocess_specs.get(name)
        for start in getattr(sp_spec, "bpmn_start_events", []):
            if isinstance(start.event_definition, MessageEventDefinition):
                yield start


def _subscription_id(workflow, start) -> uuid.UUID:
    return uuid.uuid5(workflow.task_tree.id, start.bpmn_id)


def _running(workflow) -> bool:
    return not workflow.completed and workflow.task_tree.has_state(TaskState.COMPLETED)


def message_triggers(workflow) -> dict:
    """task id -> (element id, message name) of the event sub-processes a message would start now."""
    if not _running(workflow):
        return {}
    return {_subscription_id(workflow, s): (s.bpmn_id, s.event_definition.name) for s in _message_starts(workflow)}


def trigger_for(workflow, task_id):
    """The message start event of an event sub-process that `task_id` subscribes to, or None."""
    if not _running(workflow):
        return None
    return next((s for s in _message_starts(workflow) if _subscription_id(workflow, s) == task_id), None)


def deliver_to_trigger(workflow, start, payload) -> None:
    """Start the event sub-process of `start` with the message's payload (its fields become variables of
    the sub-process, as for a catch event without a message variable) and run until it waits."""
    definition = start.event_definition
    correlations = definition.calculate_correlations(
        workflow.script_engine, definition.correlation_properties, payload or {}
    )
    workflow.catch(BpmnEvent(definition, payload, correlations))
    if isinstance(payload, dict) and getattr(definition, "message_var", None) is None:
        for task in workflow.get_tasks(spec_name=start.name, state=TaskState.READY | TaskState.WAITING):
            task.data.update(payload)
    workflow.do_engine_steps()

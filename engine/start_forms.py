"""What a person needs to start a process by hand: whether it has a plain (none) start event, and its start form."""
from __future__ import annotations

from SpiffWorkflow.bpmn.specs.control import BpmnStartTask, StartEventSplit
from SpiffWorkflow.bpmn.specs.event_definitions.simple import NoneEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.util.task import TaskState


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
        if (task.workflow is workflow and isinstance(task.task_spec, StartEvent)
                and isinstance(task.parent.task_spec, (BpmnStartTask, StartEventSplit))
                and task.task_spec.bpmn_id != element_id):
            task.cancel()

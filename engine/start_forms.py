"""What a person needs to start a process by hand: whether it has a plain (none) start event, and its start form."""
from __future__ import annotations

from SpiffWorkflow.bpmn.specs.event_definitions.simple import NoneEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent


def has_plain_start_event(spec) -> bool:
    """Whether the process has a start event with no trigger: one a person (or code) starts directly,
    not only a timer or a message (spec.start's outputs are the process's start events)."""
    return any(isinstance(task_spec, StartEvent) and isinstance(task_spec.event_definition, NoneEventDefinition)
               for task_spec in spec.start.outputs)

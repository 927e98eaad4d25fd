"""What an instance waits for: its open tasks, timers, message subscriptions and incidents.

Read from what the engine stored (the inbox rows, the timer and subscription rows that each step
keeps in step with the workflow, the open incidents), with the details only the workflow holds
(a timer's kind, expression and cycle, a message's correlation properties) read from the waiting
task of the instance's state. Nothing here changes the instance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.instances import ERROR, open_incidents
from storage.messages import MessageSubscription
from storage.step_writes import InstanceRow
from storage.tasks import open_task_rows
from storage.timers import RETRY, Timer

# A timer's kind, by its BPMN definition (a service task's scheduled retry is `retry`).
_TIMER_KINDS = (
    (CycleTimerEventDefinition, "cycle"),
    (DurationTimerEventDefinition, "duration"),
    (TimeDateEventDefinition, "date"),
)


@dataclass
class Waits:
    """What an instance waits for; task rows as storage.tasks reads them, incidents as stored."""

    tasks: list[dict] = field(default_factory=list)
    timers: list[dict] = field(default_factory=list)
    messages: list[dict] = field(default_factory=list)
    incidents: list = field(default_factory=list)


def instance_waits(
    engine, session: Session, instance: InstanceRow, *, tasks: list[dict] | None = None, variables: dict | None = None
) -> Waits:
    """What `instance` waits for now.

    `tasks`: its open inbox rows when the caller has them (read otherwise). `variables`: the process
    data the caller may see (None: none), from which the values a message's correlation properties
    wait for are shown; the business key is shown always, as the instance itself shows it."""
    waits = Waits(tasks=tasks if tasks is not None else open_task_rows(session, instance_id=instance.id))
    if instance.status == ERROR:  # only an instance in error has open incidents
        waits.incidents = open_incidents(session, instance_id=instance.id)
    timers = list(
        session.scalars(select(Timer).where(Timer.instance_id == instance.id).order_by(Timer.due_at, Timer.id))
    )
    subscriptions = list(
        session.scalars(
            select(MessageSubscription)
            .where(MessageSubscription.instance_id == instance.id)
            .order_by(MessageSubscription.id)
        )
    )
    if not timers and not subscriptions:
        return waits
    task_of = _waiting_tasks(engine, session, instance)
    spec = engine.spec_for(session, instance.definition_id)[0]
    for timer in timers:
        waits.timers.append(_timer(timer, task_of(timer.task_id), spec))
    for subscription in subscriptions:
        waits.messages.append(_message(subscription, task_of(subscription.task_id), instance, variables))
    return waits


def _waiting_tasks(engine, session: Session, instance: InstanceRow) -> Callable[[object], object]:
    """task id -> the workflow's task (or None), reading the workflow only when first asked: the one this
    transaction already holds (the detail view reads it for the variables), else the stored state."""
    loaded = []

    def task_of(task_id):
        if task_id is None:
            return None
        if not loaded:
            workflow = engine.workflows.take_staged(session, instance.id, instance.lock_version)
            if workflow is None:
                workflow = engine._load_workflow(session, instance)
                # Cached only if this transaction commits, as engine.instance_view does.
                engine.workflows.stage(session, instance.id, instance.lock_version, workflow)
            loaded.append(workflow)
        return loaded[0].get_task_from_id(task_id)

    return task_of


def _element_name(spec, element_id: str) -> str | None:
    task_spec = spec.task_specs.get(element_id)
    return getattr(task_spec, "bpmn_name", None) if task_spec is not None else None


def _timer(row: Timer, task, spec) -> dict:
    wait = {
        "element_id": row.element_id or None,
        "element_name": _element_name(spec, row.element_id),
        "kind": "retry" if row.kind == RETRY else None,
        "due": row.due_at,
        "expression": None,
        "cycle": None,
        "recurs": False,
        "attempt": None,
    }
    if row.kind == RETRY:
        wait["attempt"] = (row.cycle or {}).get("attempt")
        return wait
    definition = getattr(task.task_spec, "event_definition", None) if task is not None else None
    if definition is None:
        return wait
    wait["kind"] = next((kind for cls, kind in _TIMER_KINDS if isinstance(definition, cls)), None)
    wait["expression"] = definition.expression
    if isinstance(definition, CycleTimerEventDefinition):
        value = task._get_internal_data("event_value") or {}
        cycles = value.get("cycles")
        wait["cycle"] = {
            "remaining": None if cycles is None or cycles < 0 else cycles,
            "interval_seconds": value.get("duration"),
        }
    wait["recurs"] = _on_a_loop(task.task_spec)
    return wait


def _on_a_loop(task_spec) -> bool:
    """Whether the flow after this element can come back to it: a timer that waits again each round
    (the follow-up cycle's `due`), though written as a date or a duration rather than a cycle. A boundary
    event comes back with the activity it is attached to (the follow-up's `overdue`)."""
    if isinstance(task_spec, BoundaryEvent) and task_spec.inputs:
        task_spec = task_spec.inputs[0]  # the split that starts the activity and its boundary events
    seen, stack = set(), list(task_spec.outputs)
    while stack:
        current = stack.pop()
        if current is task_spec:
            return True
        if current.name in seen:
            continue
        seen.add(current.name)
        stack.extend(current.outputs)
    return False


def _message(row: MessageSubscription, task, instance: InstanceRow, variables: dict | None) -> dict:
    """A message subscription: the message, and the correlation keys a sender's `correlation_keys` must
    match (POST /api/messages): the business key, and the variables the catch event's correlation
    properties name, with the values this instance holds (None where the caller may not see them)."""
    keys: dict = {}
    if instance.business_key is not None:
        keys["business_key"] = instance.business_key
    definition = getattr(task.task_spec, "event_definition", None) if task is not None else None
    for prop in getattr(definition, "correlation_properties", None) or []:
        keys[prop.name] = (variables or {}).get(prop.name)
    name = getattr(task.task_spec, "bpmn_name", None) if task is not None else None
    return {
        "element_id": row.element_id,
        "element_name": name,
        "message_name": row.message_name,
        "correlation_keys": keys,
    }

"""What one engine step changes besides the state: history, inbox rows, timers, subscriptions.

Each function compares the workflow after the step with the workflow before it and
records the difference as rows in `StepWrites`; storage writes them together with the
state. Rows in the database always mirror the committed state, so the state before the
step says which rows exist without reading them back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.util.task import TaskState

from storage.notifications import task_assigned_row
from storage.step_writes import StepWrites
from storage.tasks import OPEN
from storage.timers import EVENT

from .event_subprocesses import message_triggers
from .task_metadata import describe_user_task
from .timers import waiting_timer_due
from .translations import task_texts

_LOGGED_STATES = {
    TaskState.WAITING: "waiting",
    TaskState.READY: "ready",
    TaskState.STARTED: "started",
    TaskState.COMPLETED: "completed",
    TaskState.ERROR: "error",
    TaskState.CANCELLED: "cancelled",
}


@dataclass
class StepContext:
    instance_id: UUID
    process_key: str
    now: datetime
    actor: str | None
    writes: StepWrites = field(default_factory=StepWrites)
    # The inbox row the caller closes in this step (the task being completed).
    settled_task_ids: frozenset = frozenset()


@dataclass(frozen=True)
class Snapshot:
    """One walk of the task tree (subprocesses included), taken before or after a step.

    Walking the tree is much of a step's own cost, so each side of the step walks it once."""

    tasks: list
    states: dict[UUID, int]  # as they were when the snapshot was taken
    ready_user_tasks: dict  # id -> task, for the user and manual tasks that were ready


def snapshot(workflow) -> Snapshot:
    tasks = list(workflow.get_tasks())
    ready = {t.id: t for t in tasks if t.state == TaskState.READY and getattr(t.task_spec, "manual", False)}
    return Snapshot(tasks, {t.id: t.state for t in tasks}, ready)


def write_history(ctx: StepContext, after: Snapshot, before: Snapshot, *, user_task_actor: str | None = None) -> None:
    """One row per BPMN element whose task changed state in this step, in tree order."""
    for task in after.tasks:
        spec = task.task_spec
        if getattr(spec, "bpmn_id", None) is None or before.states.get(task.id) == task.state:
            continue
        event = _LOGGED_STATES.get(task.state)
        if event is None:
            continue
        manual = getattr(spec, "manual", False)
        actor = (user_task_actor if manual and event == "completed" else None) or ctx.actor
        ctx.writes.history.append(
            _history_row(
                ctx, spec.bpmn_id, event, actor=actor, element_name=spec.bpmn_name, element_type=type(spec).__name__
            )
        )


def add_instance_event(ctx: StepContext, event: str, detail: dict | None = None, element_id: str | None = None) -> None:
    ctx.writes.history.append(_history_row(ctx, element_id, event, detail=detail))


def _history_row(ctx: StepContext, element_id, event, *, actor=None, element_name=None, element_type=None, detail=None):
    return {
        "instance_id": ctx.instance_id,
        "element_id": element_id,
        "element_name": element_name,
        "element_type": element_type,
        "event": event,
        "actor": actor or ctx.actor,
        "at": ctx.now,
        "detail": detail,
    }


def sync_user_tasks(
    ctx: StepContext,
    after: Snapshot,
    before: Snapshot,
    evaluate,
    form_ids: dict[str, int],
    translations=lambda process_id: {},
) -> None:
    """Open an inbox row per newly ready user/manual task, cancel rows whose task is no longer
    ready. A task opened with an assignee tells them so by a notification, unless they are
    the one whose action opened it. `translations(process_id)` gives a process's translation
    files (locale -> content) for the task's texts."""
    ready, ready_before = after.ready_user_tasks, before.ready_user_tasks
    ctx.writes.cancelled_task_ids.extend(
        task_id for task_id in ready_before if task_id not in ready and task_id not in ctx.settled_task_ids
    )
    for task_id, task in ready.items():
        if task_id in ready_before:
            continue
        fields = describe_user_task(task, evaluate)
        texts, search = _task_texts(ctx, task, fields, translations)
        ctx.writes.new_tasks.append(
            {
                "id": task_id,
                "instance_id": ctx.instance_id,
                "process_key": ctx.process_key,
                "element_id": task.task_spec.bpmn_id,
                "name": fields.name,
                "lane": fields.lane,
                "assignee": fields.assignee,
                "priority": fields.priority,
                "due_at": fields.due_at,
                "form_id": form_ids.get(task.task_spec.bpmn_id),
                "status": OPEN,
                "created_at": ctx.now,
                "completed_at": None,
                "completed_by": None,
                "properties": fields.properties,
                "excluded_users": fields.excluded_users or None,
                "texts": texts,
                "subject_search": search,
            }
        )
        if fields.assignee is not None and fields.assignee != ctx.actor:
            ctx.writes.new_notifications.append(
                task_assigned_row(
                    task_id=task_id,
                    task_name=fields.name,
                    process_key=ctx.process_key,
                    instance_id=ctx.instance_id,
                    assignee=fields.assignee,
                    now=ctx.now,
                )
            )
        offered = fields.assignee is None
        ctx.writes.new_candidates.extend(
            [
                {"task_id": task_id, "kind": "group", "name": g, "offered": offered, "due_at": fields.due_at}
                for g in dict.fromkeys(fields.candidate_groups)
            ]
            + [
                {"task_id": task_id, "kind": "user", "name": u, "offered": offered, "due_at": fields.due_at}
                for u in dict.fromkeys(fields.candidate_users)
            ]
        )


def _task_texts(ctx: StepContext, task, fields, translations) -> tuple[dict, str]:
    """Name, subject and process name in every language. A task of a called process is named by
    that process's translations, then by those of the process the instance runs."""
    top = task.workflow.top_workflow.spec
    own_id = task.workflow.spec.name
    merged = {}
    for locale, content in translations(ctx.process_key).items():
        merged[locale] = dict(content)
    if own_id != ctx.process_key:
        for locale, content in translations(own_id).items():
            merged[locale] = {**merged.get(locale, {}), **{k: v for k, v in content.items() if k != own_id}}
    return task_texts(
        element_id=task.task_spec.bpmn_id,
        name=fields.name,
        subject=fields.subject,
        process_id=ctx.process_key,
        process_name=top.description,
        translations=merged,
        data=task.data,
    )


@dataclass(frozen=True)
class Waits:
    """What an instance waits for: timers (task id -> (element, due)) and messages (task id -> (element, name))."""

    timers: dict
    messages: dict


def waiting_events(workflow) -> Waits:
    timers, messages = {}, {}
    for task in workflow.event_manager.tasks.values():
        if not task.has_state(TaskState.WAITING):
            continue
        definition = getattr(task.task_spec, "event_definition", None)
        if isinstance(definition, TimerEventDefinition):
            due = waiting_timer_due(task)
            if due is not None:
                timers[task.id] = (task.task_spec.bpmn_id, due)
        elif isinstance(definition, MessageEventDefinition):
            messages[task.id] = (task.task_spec.bpmn_id, definition.name)
    messages.update(message_triggers(workflow))
    return Waits(timers, messages)


def sync_waits(ctx: StepContext, before: Waits, after: Waits) -> None:
    """Record the timer and subscription rows to add, move and drop so they match `after`."""
    writes = ctx.writes
    writes.gone_timer_task_ids.extend(task_id for task_id in before.timers if task_id not in after.timers)
    for task_id, (element_id, due) in after.timers.items():
        previous = before.timers.get(task_id)
        if previous is None:
            writes.new_timers.append(
                {
                    "kind": EVENT,
                    "instance_id": ctx.instance_id,
                    "definition_id": None,
                    "task_id": task_id,
                    "element_id": element_id,
                    "due_at": due,
                    "cycle": None,
                }
            )
        elif previous[1] != due:
            writes.moved_timers[task_id] = due
    writes.gone_subscription_task_ids.extend(task_id for task_id in before.messages if task_id not in after.messages)
    for task_id, (element_id, name) in after.messages.items():
        if task_id not in before.messages:
            writes.new_subscriptions.append(
                {
                    "message_name": name,
                    "instance_id": ctx.instance_id,
                    "definition_id": None,
                    "task_id": task_id,
                    "element_id": element_id,
                }
            )

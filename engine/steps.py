"""What one engine step writes besides the state: history rows, inbox rows, timers, subscriptions.

Each function compares the workflow after the step with what the database holds for the
instance and writes only the difference, inside the caller's transaction.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import delete, insert, update
from sqlalchemy.orm import Session

from storage.history import HistoryEntry
from storage.messages import MessageSubscription
from storage.tasks import CANCELLED, OPEN, Task, TaskCandidate
from storage.timers import EVENT, Timer

from .task_metadata import describe_user_task
from .timers import waiting_timer_due

_LOGGED_STATES = {
    TaskState.WAITING: "waiting",
    TaskState.READY: "ready",
    TaskState.STARTED: "started",
    TaskState.COMPLETED: "completed",
    TaskState.ERROR: "error",
    TaskState.CANCELLED: "cancelled",
}


def snapshot(workflow) -> dict[UUID, int]:
    """Task id -> state for every task, subprocesses included."""
    return {task.id: task.state for task in workflow.get_tasks()}


def _is_bpmn_element(task) -> bool:
    return getattr(task.task_spec, "bpmn_id", None) is not None


@dataclass
class StepContext:
    session: Session
    instance_id: UUID
    process_key: str
    now: datetime
    actor: str | None
    # Inbox rows the caller already closed in this step (the task being completed).
    settled_task_ids: frozenset = frozenset()


def write_history(ctx: StepContext, workflow, before: dict[UUID, int], *, user_task_actor: str | None = None) -> None:
    """One row per BPMN element whose task changed state in this step, in tree order."""
    rows = []
    for task in workflow.get_tasks():
        if not _is_bpmn_element(task) or before.get(task.id) == task.state:
            continue
        event = _LOGGED_STATES.get(task.state)
        if event is None:
            continue
        spec = task.task_spec
        manual = getattr(spec, "manual", False)
        rows.append(_history_row(
            ctx, element_id=spec.bpmn_id, element_name=spec.bpmn_name, element_type=type(spec).__name__, event=event,
            actor=(user_task_actor if manual and event == "completed" else None) or ctx.actor,
        ))
    _pending_history(ctx.session).extend(rows)


def add_instance_event(ctx: StepContext, event: str, detail: dict | None = None, element_id: str | None = None) -> None:
    _pending_history(ctx.session).append(_history_row(ctx, element_id=element_id, event=event, detail=detail))


def _history_row(ctx: StepContext, *, element_id=None, element_name=None, element_type=None, event, actor=None,
                 detail=None) -> dict:
    return {"instance_id": ctx.instance_id, "element_id": element_id, "element_name": element_name,
            "element_type": element_type, "event": event, "actor": actor or ctx.actor, "at": ctx.now, "detail": detail}


_HISTORY_KEY = "atrium_pending_history"


def _pending_history(session: Session) -> list[dict]:
    return session.info.setdefault(_HISTORY_KEY, [])


def flush_history(session: Session) -> None:
    """Insert the history rows recorded so far in one statement (after the instance row exists)."""
    rows = session.info.pop(_HISTORY_KEY, None)
    if rows:
        session.execute(insert(HistoryEntry), rows)


def ready_user_task_ids(workflow) -> set[UUID]:
    return {t.id for t in workflow.get_tasks(state=TaskState.READY, manual=True)}


def sync_user_tasks(ctx: StepContext, workflow, ready_before: set[UUID], evaluate, form_ids: dict[str, int]) -> None:
    """Open an inbox row per newly ready user/manual task; cancel rows whose task is no longer ready.

    Open rows always equal the ready manual tasks of the committed state, so the ready set
    before the step says which rows exist without reading them back.
    """
    ready = {t.id: t for t in workflow.get_tasks(state=TaskState.READY, manual=True)}
    gone = [task_id for task_id in ready_before if task_id not in ready and task_id not in ctx.settled_task_ids]
    if gone:
        ctx.session.execute(
            update(Task)
            .where(Task.id.in_(gone), Task.status == OPEN)
            .values(status=CANCELLED, completed_at=ctx.now)
            .execution_options(synchronize_session="fetch")
        )
    for task_id, task in ready.items():
        if task_id in ready_before:
            continue
        fields = describe_user_task(task, evaluate)
        row = Task(
            id=task_id,
            instance_id=ctx.instance_id,
            process_key=ctx.process_key,
            element_id=task.task_spec.bpmn_id,
            name=fields.name,
            lane=fields.lane,
            assignee=fields.assignee,
            priority=fields.priority,
            due_at=fields.due_at,
            form_id=form_ids.get(task.task_spec.bpmn_id),
            status=OPEN,
            created_at=ctx.now,
            properties=fields.properties,
        )
        row.candidates = [TaskCandidate(kind="group", name=g) for g in dict.fromkeys(fields.candidate_groups)] + [
            TaskCandidate(kind="user", name=u) for u in dict.fromkeys(fields.candidate_users)
        ]
        ctx.session.add(row)


@dataclass(frozen=True)
class Waits:
    """What an instance waits for: timers (task id -> (element, due)) and messages (task id -> (element, name))."""

    timers: dict
    messages: dict

    def __bool__(self) -> bool:
        return bool(self.timers or self.messages)


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
    return Waits(timers, messages)


def sync_waits(ctx: StepContext, before: Waits, after: Waits) -> None:
    """Make the instance's timer and subscription rows match `after`, given they matched `before`."""
    session = ctx.session
    gone = [task_id for task_id in before.timers if task_id not in after.timers]
    if gone:
        session.execute(delete(Timer).where(Timer.instance_id == ctx.instance_id, Timer.kind == EVENT,
                                            Timer.task_id.in_(gone)))
    for task_id, (element_id, due) in after.timers.items():
        previous = before.timers.get(task_id)
        if previous is None:
            session.add(Timer(kind=EVENT, instance_id=ctx.instance_id, task_id=task_id, element_id=element_id, due_at=due))
        elif previous[1] != due:
            session.execute(update(Timer).where(Timer.instance_id == ctx.instance_id, Timer.kind == EVENT,
                                                Timer.task_id == task_id).values(due_at=due))
    gone = [task_id for task_id in before.messages if task_id not in after.messages]
    if gone:
        session.execute(delete(MessageSubscription).where(MessageSubscription.instance_id == ctx.instance_id,
                                                          MessageSubscription.task_id.in_(gone)))
    for task_id, (element_id, name) in after.messages.items():
        if task_id not in before.messages:
            session.add(MessageSubscription(message_name=name, instance_id=ctx.instance_id, task_id=task_id,
                                            element_id=element_id))


def clear_waits(session: Session, instance_id: UUID) -> None:
    session.execute(delete(Timer).where(Timer.instance_id == instance_id))
    session.execute(delete(MessageSubscription).where(MessageSubscription.instance_id == instance_id))

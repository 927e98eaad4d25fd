"""Everything one engine step writes, applied in foreign-key order with Core statements.

The engine collects the step's changes as plain rows; this module writes them. Core
statements instead of ORM objects keep a step to a handful of round trips and little
Python, and the instance update carries the optimistic-lock check.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, fields
from datetime import datetime

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from .history import HistoryEntry
from .instances import Incident, ProcessInstance
from .messages import MessageSubscription
from .notifications import Notification
from .tasks import CANCELLED, COMPLETED, OPEN, Task, TaskCandidate, group_candidates, mark_offered, with_candidates
from .timers import EVENT, Timer

instances = ProcessInstance.__table__
tasks = Task.__table__
candidates = TaskCandidate.__table__
timers = Timer.__table__
subscriptions = MessageSubscription.__table__
history = HistoryEntry.__table__
incidents = Incident.__table__
notifications = Notification.__table__


@dataclass
class InstanceRow:
    """A process instance as a step reads and writes it."""

    id: uuid.UUID
    definition_id: int
    process_key: str
    business_key: str | None
    status: str
    lock_version: int
    started_by: str | None
    started_at: datetime
    updated_at: datetime
    ended_at: datetime | None = None
    state: bytes | None = None
    # Inbox rows the last step opened (as storage.tasks.task_rows reads them), so a caller
    # can go straight to the next task without reading them back.
    opened_tasks: list[dict] = field(default_factory=list)


_INSTANCE_COLUMNS = [c for c in instances.c if c.name != "state"]
_INSERTED_FIELDS = [f.name for f in fields(InstanceRow) if f.name not in ("state", "opened_tasks")]

# Built once: building a statement per call (operators, coercions, a fresh cache key) costs
# more Python than executing a cached one, and steps run these on every request.
_LOAD_INSTANCE = {
    with_state: select(*_INSTANCE_COLUMNS, *([instances.c.state] if with_state else [])).where(
        instances.c.id == bindparam("instance_id")
    )
    for with_state in (True, False)
}
_LOAD_STATE = select(instances.c.state).where(
    instances.c.id == bindparam("instance_id"), instances.c.lock_version == bindparam("lock_version")
)
# A task to complete and its instance (without the state) in one round trip.
_TASK_WITH_INSTANCE = (
    with_candidates(tasks.c.id == bindparam("task_id"))
    .join(instances, instances.c.id == tasks.c.instance_id)
    .add_columns(*[c.label(f"instance__{c.name}") for c in _INSTANCE_COLUMNS])
)
_INSERT_INSTANCE = insert(instances)
# SET takes the columns given at execution; the WHERE carries the optimistic-lock check.
_UPDATE_INSTANCE = update(instances).where(
    instances.c.id == bindparam("b_id"), instances.c.lock_version == bindparam("b_lock_version")
)
_COMPLETE_TASK = update(tasks).where(tasks.c.id == bindparam("b_id"), tasks.c.status == OPEN)
# PostgreSQL does both in one statement (a data-modifying WITH runs whether or not it is read).
_completed = (
    _COMPLETE_TASK.values(status=COMPLETED, completed_at=bindparam("b_at"), completed_by=bindparam("b_by"))
    .returning(tasks.c.id)
    .cte("completed")
)
_COMPLETE_AND_UNOFFER_TASK = (
    select(func.count())
    .select_from(_completed)
    .add_cte(
        update(candidates)
        .where(candidates.c.task_id.in_(select(_completed.c.id)))
        .values(offered=False)
        .cte("unoffered")
    )
)


def load_instance(session: Session, *, instance_id: uuid.UUID, with_state: bool = True) -> InstanceRow | None:
    row = session.execute(_LOAD_INSTANCE[with_state], {"instance_id": instance_id}).first()
    return InstanceRow(**row._mapping) if row is not None else None


def load_state(session: Session, *, instance_id: uuid.UUID, lock_version: int) -> bytes | None:
    """The state stored at `lock_version`; None if the instance has moved on since."""
    return session.execute(_LOAD_STATE, {"instance_id": instance_id, "lock_version": lock_version}).scalar()


def task_with_instance(session: Session, *, task_id: uuid.UUID) -> tuple[dict, InstanceRow] | None:
    """A task (as storage.tasks.task_rows reads it) and its instance, without the state."""
    result = session.execute(_TASK_WITH_INSTANCE, {"task_id": task_id}).all()
    if not result:
        return None
    head = result[0]._mapping
    instance = InstanceRow(**{c.name: head[f"instance__{c.name}"] for c in _INSTANCE_COLUMNS})
    return group_candidates(result)[task_id], instance


@dataclass
class StepWrites:
    history: list[dict] = field(default_factory=list)
    new_tasks: list[dict] = field(default_factory=list)
    new_candidates: list[dict] = field(default_factory=list)
    completed_task: tuple[uuid.UUID, str | None] | None = None
    cancelled_task_ids: list[uuid.UUID] = field(default_factory=list)
    new_timers: list[dict] = field(default_factory=list)
    moved_timers: dict[uuid.UUID, datetime] = field(default_factory=dict)
    gone_timer_task_ids: list[uuid.UUID] = field(default_factory=list)
    new_subscriptions: list[dict] = field(default_factory=list)
    gone_subscription_task_ids: list[uuid.UUID] = field(default_factory=list)
    clear_waits: bool = False
    new_incidents: list[dict] = field(default_factory=list)
    resolve_incidents: bool = False
    # Outbox rows the step sends (e.g. "task assigned to you"), mailed after the commit.
    new_notifications: list[dict] = field(default_factory=list)


def save_step(
    session: Session, instance: InstanceRow, *, new: bool, state: bytes, writes: StepWrites, now: datetime
) -> bool:
    """Write the instance and the step's rows; False (and nothing written) if the instance
    or the completed task was changed by someone else since it was read."""
    if new:
        values = {name: getattr(instance, name) for name in _INSERTED_FIELDS}
        values.update(state=state, lock_version=1)
        session.execute(_INSERT_INSTANCE, values)
        instance.lock_version = 1
    else:
        result = session.execute(
            _UPDATE_INSTANCE,
            {
                "b_id": instance.id,
                "b_lock_version": instance.lock_version,
                "status": instance.status,
                "state": state,
                "lock_version": instance.lock_version + 1,
                "updated_at": instance.updated_at,
                "ended_at": instance.ended_at,
            },
        )
        if result.rowcount != 1:
            return False
        instance.lock_version += 1
    instance.state = state
    if writes.completed_task is not None:
        if not _complete_task(session, *writes.completed_task, now=now):
            return False
    if writes.cancelled_task_ids:
        session.execute(
            update(tasks)
            .where(tasks.c.id.in_(writes.cancelled_task_ids), tasks.c.status == OPEN)
            .values(status=CANCELLED, completed_at=now)
        )
        mark_offered(session, task_ids=writes.cancelled_task_ids, offered=False)
    if writes.new_tasks:
        session.execute(insert(tasks), writes.new_tasks)
    if writes.new_candidates:
        session.execute(insert(candidates), writes.new_candidates)
    if writes.clear_waits:
        session.execute(delete(timers).where(timers.c.instance_id == instance.id))
        session.execute(delete(subscriptions).where(subscriptions.c.instance_id == instance.id))
    if writes.gone_timer_task_ids:
        session.execute(
            delete(timers).where(
                timers.c.instance_id == instance.id,
                timers.c.kind == EVENT,
                timers.c.task_id.in_(writes.gone_timer_task_ids),
            )
        )
    for task_id, due in writes.moved_timers.items():
        session.execute(
            update(timers)
            .where(timers.c.instance_id == instance.id, timers.c.kind == EVENT, timers.c.task_id == task_id)
            .values(due_at=due)
        )
    if writes.new_timers:
        session.execute(insert(timers), writes.new_timers)
    if writes.gone_subscription_task_ids:
        session.execute(
            delete(subscriptions).where(
                subscriptions.c.instance_id == instance.id,
                subscriptions.c.task_id.in_(writes.gone_subscription_task_ids),
            )
        )
    if writes.new_subscriptions:
        session.execute(insert(subscriptions), writes.new_subscriptions)
    if writes.resolve_incidents:
        session.execute(
            update(incidents)
            .where(incidents.c.instance_id == instance.id, incidents.c.resolved_at.is_(None))
            .values(resolved_at=now)
        )
    if writes.new_incidents:
        session.execute(insert(incidents), writes.new_incidents)
    if writes.history:
        session.execute(insert(history), writes.history)
    if writes.new_notifications:
        session.execute(insert(notifications), writes.new_notifications)
    return True


def _complete_task(session: Session, task_id: uuid.UUID, actor: str | None, *, now: datetime) -> bool:
    """Close the task's inbox row (and its candidates' offered flags); False if it was no longer open."""
    if session.get_bind().dialect.name == "postgresql":
        return session.execute(_COMPLETE_AND_UNOFFER_TASK, {"b_id": task_id, "b_at": now, "b_by": actor}).scalar() == 1
    values = {"b_id": task_id, "status": COMPLETED, "completed_at": now, "completed_by": actor}
    if session.execute(_COMPLETE_TASK, values).rowcount != 1:
        return False
    mark_offered(session, task_ids=[task_id], offered=False)
    return True


def task_for_completion(session: Session, *, task_id: uuid.UUID):
    """(status, instance_id, form_id, excluded_users) of a task, or None."""
    return session.execute(
        select(tasks.c.status, tasks.c.instance_id, tasks.c.form_id, tasks.c.excluded_users).where(
            tasks.c.id == task_id
        )
    ).first()


def open_task_ids(session: Session, *, instance_id: uuid.UUID) -> list[uuid.UUID]:
    return list(session.scalars(select(tasks.c.id).where(tasks.c.instance_id == instance_id, tasks.c.status == OPEN)))

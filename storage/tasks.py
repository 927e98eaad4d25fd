"""User-task inbox rows and their candidate groups and users."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Uuid, exists, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship, selectinload

from .base import Base, UTCDateTime

OPEN, COMPLETED, CANCELLED = "open", "completed", "cancelled"


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_instance_status", "instance_id", "status"),
        Index("ix_tasks_status_assignee_due", "status", "assignee", "due_at"),
        Index("ix_tasks_status_due", "status", "due_at"),
    )

    # The SpiffWorkflow task id, so a row and its engine task are the same thing.
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    instance_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("process_instances.id", ondelete="CASCADE"))
    # Declared so the unit of work inserts the instance before rows that point at it.
    instance = relationship("ProcessInstance", lazy="raise_on_sql")
    process_key: Mapped[str] = mapped_column(String(200))
    element_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300))
    lane: Mapped[str | None] = mapped_column(String(200))
    assignee: Mapped[str | None] = mapped_column(String(200))
    priority: Mapped[int] = mapped_column(Integer, default=50)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    form_id: Mapped[int | None] = mapped_column(ForeignKey("forms.id"))
    status: Mapped[str] = mapped_column(String(20), default=OPEN)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_by: Mapped[str | None] = mapped_column(String(200))
    # Extension properties from the modeler (spiffworkflow:properties, camunda:properties).
    properties: Mapped[dict | None] = mapped_column(JSON)

    candidates: Mapped[list["TaskCandidate"]] = relationship(
        cascade="all, delete-orphan", lazy="select", order_by="TaskCandidate.name"
    )

    @property
    def candidate_groups(self) -> list[str]:
        return [c.name for c in self.candidates if c.kind == "group"]

    @property
    def candidate_users(self) -> list[str]:
        return [c.name for c in self.candidates if c.kind == "user"]


class TaskCandidate(Base):
    __tablename__ = "task_candidates"
    __table_args__ = (Index("ix_task_candidates_kind_name", "kind", "name", "task_id"),)

    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)  # "group" or "user"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)


def open_tasks(session: Session, *, instance_id: uuid.UUID) -> list[Task]:
    """Open inbox rows of an instance, with their candidates loaded."""
    return list(
        session.scalars(
            select(Task)
            .options(selectinload(Task.candidates))
            .where(Task.instance_id == instance_id, Task.status == OPEN)
            .order_by(Task.created_at, Task.element_id)
        )
    )


def get_task(session: Session, *, task_id: uuid.UUID, fresh: bool = False) -> Task | None:
    """A task with its candidates loaded; `fresh` re-reads it after Core updates in this session."""
    query = select(Task).options(selectinload(Task.candidates)).where(Task.id == task_id)
    if fresh:
        query = query.execution_options(populate_existing=True)
    return session.scalars(query).first()


def candidate_condition(username: str, groups: list[str]):
    """Tasks offered to `username` directly or to one of `groups`."""
    offered = (TaskCandidate.task_id == Task.id) & (
        ((TaskCandidate.kind == "user") & (TaskCandidate.name == username))
        | ((TaskCandidate.kind == "group") & TaskCandidate.name.in_(groups or [""]))
    )
    return exists().where(offered)


def visible_condition(username: str, groups: list[str]):
    """Tasks a user without the read-all permission may see: theirs, offered to them, or done by them."""
    return (Task.assignee == username) | (Task.completed_by == username) | candidate_condition(username, groups)


_SORTS = {"due": Task.due_at, "created": Task.created_at, "priority": Task.priority}


def task_query(conditions: list, sort: str):
    """(rows query, count query) for tasks matching `conditions`, ordered by `sort` (`-` for descending)."""
    column = _SORTS[sort.lstrip("-")]
    order = column.desc().nulls_last() if sort.startswith("-") else column.asc().nulls_last()
    rows = select(Task).options(selectinload(Task.candidates)).where(*conditions).order_by(order, Task.id)
    count = select(func.count()).select_from(Task).where(*conditions)
    return rows, count


def claim_task(session: Session, *, task_id: uuid.UUID, username: str) -> bool:
    """Assign an open, unassigned task to `username`; False when it is taken or closed."""
    result = session.execute(update(Task.__table__).where(
        Task.__table__.c.id == task_id, Task.__table__.c.status == OPEN, Task.__table__.c.assignee.is_(None),
    ).values(assignee=username))
    return result.rowcount == 1


def set_assignee(session: Session, *, task_id: uuid.UUID, username: str | None, expected: str | None) -> bool:
    """Change the assignee of an open task from `expected`; False when someone else changed it first."""
    table = Task.__table__
    current = table.c.assignee.is_(None) if expected is None else table.c.assignee == expected
    result = session.execute(update(table).where(table.c.id == task_id, table.c.status == OPEN, current)
                             .values(assignee=username))
    return result.rowcount == 1

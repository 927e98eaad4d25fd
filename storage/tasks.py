"""User-task inbox rows and their candidate groups and users."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Uuid,
    bindparam,
    exists,
    func,
    select,
    text,
    true,
    union,
    union_all,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship, selectinload

from .base import Base, UTCDateTime

OPEN, COMPLETED, CANCELLED = "open", "completed", "cancelled"


# Open, unclaimed tasks: what `candidate_user=me` inboxes page through, in due or creation order.
_OFFERED = "status = 'open' AND assignee IS NULL"


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_instance_status", "instance_id", "status"),
        Index("ix_tasks_status_assignee_due", "status", "assignee", "due_at"),
        Index("ix_tasks_status_due", "status", "due_at"),
        Index("ix_tasks_offered_due", "due_at", "id", postgresql_where=text(_OFFERED), sqlite_where=text(_OFFERED)),
        Index(
            "ix_tasks_offered_created", "created_at", "id", postgresql_where=text(_OFFERED), sqlite_where=text(_OFFERED)
        ),
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
    # Separation of duties: usernames who may not claim or complete this task (e.g. the person who
    # requested what it approves), evaluated from the task's `excludedPerformer` property when it opened.
    excluded_users: Mapped[list | None] = mapped_column(JSON)
    # What the inbox shows, in every supported language, fixed when the task opened:
    # {"name": {locale: text}, "subject": {locale: text}, "process_name": {locale: text}}
    # ("subject" only when the user task declares one).
    texts: Mapped[dict | None] = mapped_column(JSON)
    # Names and subjects of all languages, normalised (storage.text_search.normalise): what `q` searches.
    subject_search: Mapped[str | None] = mapped_column(Text)

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
    __table_args__ = (
        Index("ix_task_candidates_kind_name", "kind", "name", "task_id"),
        # An inbox page and its count read only this index: candidate rows of open, unclaimed
        # tasks, per candidate in due order.
        Index(
            "ix_task_candidates_offered",
            "kind",
            "name",
            "due_at",
            "task_id",
            postgresql_where=text("offered"),
            sqlite_where=text("offered"),
        ),
    )

    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)  # "group" or "user"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    # Copies from the task, kept in step by every writer: "open and unclaimed", and its due time.
    offered: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


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


def _candidate_match(username: str, groups: list[str]):
    return ((TaskCandidate.kind == "user") & (TaskCandidate.name == username)) | (
        (TaskCandidate.kind == "group") & TaskCandidate.name.in_(groups or [""])
    )


def candidate_condition(username: str, groups: list[str], *, offered_only: bool = False):
    """Tasks whose candidates include `username` or one of `groups` (still unclaimed, if `offered_only`)."""
    condition = (TaskCandidate.task_id == Task.id) & _candidate_match(username, groups)
    if offered_only:
        condition = condition & TaskCandidate.offered
    return exists().where(condition)


def _offered_names(username: str, groups: list[str]) -> list[tuple[str, str]]:
    return [("user", username)] + [("group", g) for g in dict.fromkeys(groups)]


def offered_by_due(session: Session, *, username: str, groups: list[str], limit: int, offset: int) -> list[dict]:
    """A page of open, unclaimed tasks offered to `username` or `groups`, by due time (no due time last),
    as plain rows with their candidate lists.

    One index range per candidate name, each read in due order and cut at offset + limit,
    merged: the cost depends on the page, not on how many tasks there are.
    """
    table = TaskCandidate.__table__
    branches = []
    for kind, name in _offered_names(username, groups):
        # Each branch is its own subquery: SQLite allows ORDER BY/LIMIT in UNION members only so.
        branch = (
            select(table.c.task_id, table.c.due_at)
            .where(table.c.offered, table.c.kind == kind, table.c.name == name)
            .order_by(table.c.due_at.asc().nulls_last(), table.c.task_id)
            .limit(offset + limit)
            .subquery()
        )
        branches.append(select(branch.c.task_id, branch.c.due_at))
    merged = union_all(*branches).subquery()
    due = func.min(merged.c.due_at)
    page = (
        select(merged.c.task_id)
        .group_by(merged.c.task_id)
        .order_by(due.asc().nulls_last(), merged.c.task_id)
        .limit(limit)
        .offset(offset)
    )
    ids = list(session.scalars(page))
    return task_rows(session, task_ids=ids)


def task_rows(session: Session, *, task_ids: list[uuid.UUID]) -> list[dict]:
    """Tasks as dicts (columns plus candidate_groups and candidate_users), in the order of `task_ids`."""
    if not task_ids:
        return []
    rows = _rowswith_candidates(session, _BY_IDS, {"task_ids": list(task_ids)})
    return [rows[i] for i in task_ids if i in rows]


def open_task_rows(session: Session, *, instance_id: uuid.UUID) -> list[dict]:
    """An instance's open tasks as dicts, oldest first."""
    rows = _rowswith_candidates(session, _OPEN_OF_INSTANCE, {"instance_id": instance_id})
    return sorted(rows.values(), key=lambda t: (t["created_at"], t["element_id"]))


def rows_as_written(new_tasks: list[dict], new_candidates: list[dict]) -> list[dict]:
    """Task rows a step just inserted, shaped and ordered as `open_task_rows` would read them back."""
    by_id = {}
    for row in new_tasks:
        task = by_id[row["id"]] = {c.name: row.get(c.name) for c in Task.__table__.c}
        task["candidate_groups"], task["candidate_users"] = [], []
    for candidate in sorted(new_candidates, key=lambda c: c["name"]):
        task = by_id.get(candidate["task_id"])
        if task is not None:
            task["candidate_groups" if candidate["kind"] == "group" else "candidate_users"].append(candidate["name"])
    return sorted(by_id.values(), key=lambda t: (t["created_at"], t["element_id"]))


def with_candidates(condition, order=()):
    """One joined query: task columns plus each candidate's kind and name; tasks in `order`."""
    tasks, table = Task.__table__, TaskCandidate.__table__
    return (
        select(tasks, table.c.kind.label("candidate_kind"), table.c.name.label("candidate_name"))
        .outerjoin(table, table.c.task_id == tasks.c.id)
        .where(condition)
        .order_by(*order, table.c.name)
    )


# Built once (see storage.step_writes): these run on every task request.
_BY_IDS = with_candidates(Task.__table__.c.id.in_(bindparam("task_ids", expanding=True)))
_OPEN_OF_INSTANCE = with_candidates(
    (Task.__table__.c.instance_id == bindparam("instance_id")) & (Task.__table__.c.status == OPEN)
)


def _rowswith_candidates(session: Session, query, params: dict) -> dict[uuid.UUID, dict]:
    return group_candidates(session.execute(query, params))


def group_candidates(result) -> dict[uuid.UUID, dict]:
    """Task columns plus candidate_groups and candidate_users lists, from a `with_candidates` query."""
    tasks = Task.__table__
    rows: dict[uuid.UUID, dict] = {}
    for row in result:
        task = rows.get(row.id)
        if task is None:
            task = rows[row.id] = {c.name: getattr(row, c.name) for c in tasks.c}
            task["candidate_groups"], task["candidate_users"] = [], []
        if row.candidate_kind is not None:
            task["candidate_groups" if row.candidate_kind == "group" else "candidate_users"].append(row.candidate_name)
    return rows


def count_offered(session: Session, *, username: str, groups: list[str]) -> int:
    """How many open, unclaimed tasks are offered to `username` or `groups`, from the candidate index alone.

    Counted per name (index-only scans); only when several names have tasks can one task be
    counted twice, and only then are the ids de-duplicated.
    """
    table = TaskCandidate.__table__
    branches = [
        select(table.c.task_id).where(table.c.offered, table.c.kind == kind, table.c.name == name)
        for kind, name in _offered_names(username, groups)
    ]
    counts = session.execute(
        select(*[select(func.count()).select_from(b.subquery()).scalar_subquery() for b in branches])
    ).one()
    if sum(1 for c in counts if c) <= 1:
        return sum(counts)
    return session.scalar(select(func.count()).select_from(union(*branches).subquery()))


def visible_condition(username: str, groups: list[str]):
    """Tasks a user without the read-all permission may see: theirs, offered to them while open and
    unclaimed, or done by them. Once someone claims a task offered to a whole role, the rest of the
    role no longer sees it (nor the client data its form shows)."""
    return (
        (Task.assignee == username)
        | (Task.completed_by == username)
        | candidate_condition(username, groups, offered_only=True)
    )


_SORTS = {"due": Task.due_at, "created": Task.created_at, "priority": Task.priority}


def task_page(session: Session, conditions: list, sort: str, *, limit: int, offset: int) -> list[dict]:
    """One page of the tasks matching `conditions`, ordered by `sort` (`-` for descending), as
    task_rows reads them: the page's ids and their rows in one round trip."""
    column = _SORTS[sort.lstrip("-")]
    order = (column.desc().nulls_last() if sort.startswith("-") else column.asc().nulls_last(), Task.id)
    page = select(Task.id).where(*conditions).order_by(*order).limit(limit).offset(offset)
    return list(group_candidates(session.execute(with_candidates(Task.id.in_(page), order=order))).values())


def task_count(conditions: list):
    return select(func.count()).select_from(Task).where(*conditions)


def set_assignee(session: Session, *, task_id: uuid.UUID, username: str | None, expected: str | None) -> bool:
    """Change the assignee of an open task from `expected`; False when someone else changed it first."""
    table = Task.__table__
    current = table.c.assignee.is_(None) if expected is None else table.c.assignee == expected
    result = session.execute(
        update(table).where(table.c.id == task_id, table.c.status == OPEN, current).values(assignee=username)
    )
    if result.rowcount != 1:
        return False
    mark_offered(session, task_ids=[task_id], offered=username is None)
    return True


_MARK_OFFERED = update(TaskCandidate.__table__).where(
    TaskCandidate.__table__.c.task_id.in_(bindparam("b_task_ids", expanding=True))
)


def mark_offered(session: Session, *, task_ids: list[uuid.UUID], offered: bool) -> None:
    """Keep the candidates' copy of "open and unclaimed" in step with the tasks."""
    if task_ids:
        session.execute(_MARK_OFFERED, {"b_task_ids": list(task_ids), "offered": offered})

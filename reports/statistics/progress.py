"""Business progress: process instances, open tasks, cycle times, SLA compliance and overdue follow-ups."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from atrium import clock
from atrium.i18n import Term
from storage.client_records import Complaint, FollowUp, ServiceRequest, live
from storage.clients import Client
from storage.instances import ACTIVE, CANCELLED, COMPLETED, ERROR, ProcessInstance
from storage.tasks import OPEN, Task, TaskCandidate

from ..tables import Chart, Column, Filters, Table
from .sql import (
    client_business_keys,
    deleted_client_keys,
    hours_between,
    in_period,
    percentiles,
    visible_clients,
)

INSTANCE_STATUSES = (ACTIVE, COMPLETED, CANCELLED, ERROR)


def _instance_scope(filters: Filters) -> list:
    """Instances of `filters.process_key`, of the visible clients when `filters.owners` is set, never of a
    deleted client (instances without a client's business key count unless owners are given)."""
    conditions = [func.coalesce(ProcessInstance.business_key, "").not_in(deleted_client_keys())]
    if filters.process_key:
        conditions.append(ProcessInstance.process_key == filters.process_key)
    if filters.owners is not None:
        conditions.append(ProcessInstance.business_key.in_(client_business_keys(filters)))
    return conditions


def _task_scope(filters: Filters) -> list:
    conditions = [
        Task.instance_id.not_in(
            select(ProcessInstance.id).where(ProcessInstance.business_key.in_(deleted_client_keys()))
        )
    ]
    if filters.process_key:
        conditions.append(Task.process_key == filters.process_key)
    if filters.owners is not None:
        conditions.append(Task.instance_id.in_(select(ProcessInstance.id).where(*_instance_scope(filters))))
    return conditions


def instances_by_process_status(session: Session, filters: Filters) -> Table:
    counts = [func.count().filter(ProcessInstance.status == status) for status in INSTANCE_STATUSES]
    rows = session.execute(
        select(ProcessInstance.process_key, func.count(), *counts)
        .where(in_period(ProcessInstance.started_at, filters), *_instance_scope(filters))
        .group_by(ProcessInstance.process_key)
        .order_by(ProcessInstance.process_key)
    ).all()
    return Table(
        "instances_by_process_status",
        filters.text("report.statistic.instances_by_process_status.title"),
        (
            Column("process", filters.text("report.column.process")),
            Column("started", filters.text("report.column.started"), "int"),
            *(Column(status, filters.text(f"report.column.instance_{status}"), "int") for status in INSTANCE_STATUSES),
        ),
        [tuple(r) for r in rows],
        Chart("stacked_bar", "process", INSTANCE_STATUSES),
        note=filters.text("report.statistic.instances_by_process_status.note"),
    )


# Each bucket's catalogue key (report.value.age.<key>) and upper bound in days.
AGE_BUCKETS = (("under_1", 1), ("1_3", 3), ("3_7", 7), ("7_30", 30), ("over_30", None))


def open_tasks_by_age(session: Session, filters: Filters) -> Table:
    now = clock.now()
    # The first bucket whose upper bound (in days) the task's age is under.
    bucket = case(
        *[(Task.created_at > now - timedelta(days=high), label) for label, high in AGE_BUCKETS if high],
        else_=AGE_BUCKETS[-1][0],
    )
    counts = dict(
        session.execute(
            select(bucket, func.count()).where(Task.status == OPEN, *_task_scope(filters)).group_by(bucket)
        ).all()
    )
    return Table(
        "open_tasks_by_age",
        filters.text("report.statistic.open_tasks_by_age.title"),
        (
            Column("age", filters.text("report.column.age")),
            Column("tasks", filters.text("report.column.open_tasks"), "int"),
        ),
        [(filters.text(f"report.value.age.{key}"), counts.get(key, 0)) for key, _ in AGE_BUCKETS],
        Chart("bar", "age", ("tasks",)),
        note=filters.text("report.statistic.open_tasks_by_age.note", bucket=filters.text("report.value.age.1_3")),
    )


def open_tasks_by_assignee(session: Session, filters: Filters) -> Table:
    scope = [Task.status == OPEN, *_task_scope(filters)]
    assigned = session.execute(
        select(Task.assignee, func.count()).where(*scope, Task.assignee.is_not(None)).group_by(Task.assignee)
    ).all()
    groups = select(TaskCandidate.name, TaskCandidate.task_id).where(TaskCandidate.kind == "group").subquery()
    # One row per (task, group) offered; a task offered to no group has a NULL group.
    offered = session.execute(
        select(groups.c.name, func.count())
        .select_from(Task)
        .outerjoin(groups, groups.c.task_id == Task.id)
        .where(*scope, Task.assignee.is_(None))
        .group_by(groups.c.name)
    ).all()
    user, group_kind = filters.text("report.value.user"), filters.text("report.value.group")
    no_group = filters.text("report.value.no_group")
    rows = sorted(
        [(who, user, n) for who, n in assigned] + [(group or no_group, group_kind, n) for group, n in offered],
        key=lambda r: (-r[2], r[0]),
    )
    return Table(
        "open_tasks_by_assignee",
        filters.text("report.statistic.open_tasks_by_assignee.title"),
        (
            Column("holder", filters.text("report.column.assignee_or_group")),
            Column("kind", filters.text("report.column.kind")),
            Column("tasks", filters.text("report.column.open_tasks"), "int"),
        ),
        rows,
        Chart("hbar", "holder", ("tasks",)),
        note=filters.text("report.statistic.open_tasks_by_assignee.note"),
    )


def _hours(filters: Filters) -> tuple[Column, ...]:
    return (
        Column("count", filters.text("report.column.count"), "int"),
        Column("median_hours", filters.text("report.column.median_hours"), "hours"),
        Column("p90_hours", filters.text("report.column.p90_hours"), "hours"),
    )


def cycle_time_by_process(session: Session, filters: Filters) -> Table:
    stats = percentiles(
        session.get_bind().dialect.name,
        hours_between(ProcessInstance.started_at, ProcessInstance.ended_at),
        [ProcessInstance.process_key],
        [in_period(ProcessInstance.ended_at, filters), ProcessInstance.status == COMPLETED, *_instance_scope(filters)],
        ProcessInstance,
    )
    rows = session.execute(stats.order_by(stats.selected_columns[0])).all()
    return Table(
        "cycle_time_by_process",
        filters.text("report.statistic.cycle_time_by_process.title"),
        (Column("process", filters.text("report.column.process")), *_hours(filters)),
        [tuple(r) for r in rows],
        Chart("bar", "process", ("median_hours", "p90_hours")),
        note=filters.text("report.statistic.cycle_time_by_process.note", percentiles=Term("report.note.percentiles")),
    )


def cycle_time_by_task(session: Session, filters: Filters) -> Table:
    stats = percentiles(
        session.get_bind().dialect.name,
        hours_between(Task.created_at, Task.completed_at),
        [Task.process_key, Task.element_id, Task.name],
        [in_period(Task.completed_at, filters), Task.status == "completed", *_task_scope(filters)],
        Task,
    )
    rows = session.execute(stats.order_by(*stats.selected_columns[:3])).all()
    return Table(
        "cycle_time_by_task",
        filters.text("report.statistic.cycle_time_by_task.title"),
        (
            Column("process", filters.text("report.column.process")),
            Column("element", filters.text("report.column.element")),
            Column("task", filters.text("report.column.task")),
            *_hours(filters),
        ),
        [tuple(r) for r in rows],
        Chart("hbar", "task", ("median_hours", "p90_hours")),
        note=filters.text("report.statistic.cycle_time_by_task.note", percentiles=Term("report.note.percentiles")),
    )


def sla_compliance(session: Session, filters: Filters) -> Table:
    """Each record is measured against the due time fixed when it was received (a service request's
    `sla_due_at`, from its `sla_due_times`; a complaint's `acknowledge_due_at`), so changing the settings
    later does not rewrite past figures."""
    requests = (
        select(func.count(), func.sum(case((ServiceRequest.resolved_at <= ServiceRequest.sla_due_at, 1), else_=0)))
        .join(Client, Client.id == ServiceRequest.client_id)
        .where(
            visible_clients(filters),
            in_period(ServiceRequest.resolved_at, filters),
            ServiceRequest.sla_due_at.is_not(None),
            *([ServiceRequest.type == filters.service_type] if filters.service_type else []),
        )
    )
    acknowledged = and_(
        Complaint.acknowledged_at.is_not(None),
        Complaint.acknowledge_due_at.is_not(None),
        Complaint.acknowledged_at <= Complaint.acknowledge_due_at,
    )
    complaints = (
        select(func.count(), func.sum(case((acknowledged, 1), else_=0)))
        .join(Client, Client.id == Complaint.client_id)
        .where(visible_clients(filters), in_period(Complaint.received_at, filters), live(Complaint))
    )
    rows = []
    for kind, query in (("requests_within_sla", requests), ("complaints_acknowledged_in_time", complaints)):
        total, met = session.execute(query).one()
        rows.append((filters.text(f"report.value.{kind}"), total, met or 0, (met or 0) / total if total else None))
    return Table(
        "sla_compliance",
        filters.text("report.statistic.sla_compliance.title"),
        (
            Column("kind", filters.text("report.column.measure")),
            Column("total", filters.text("report.column.total"), "int"),
            Column("met", filters.text("report.column.met"), "int"),
            Column("rate", filters.text("report.column.rate"), "percent"),
        ),
        rows,
        Chart("hbar", "kind", ("total", "met")),
        note=filters.text("report.statistic.sla_compliance.note"),
    )


def overdue_follow_ups(session: Session, filters: Filters) -> Table:
    owner = func.coalesce(Client.owner, "(none)")
    rows = session.execute(
        select(owner, func.count())
        .select_from(FollowUp)
        .join(Client, Client.id == FollowUp.client_id)
        .where(visible_clients(filters), FollowUp.done_at.is_(None), FollowUp.planned_at < clock.now())
        .group_by(owner)
        .order_by(func.count().desc(), owner)
    ).all()
    return Table(
        "overdue_follow_ups",
        filters.text("report.statistic.overdue_follow_ups.title"),
        (
            Column("owner", filters.text("report.column.owner")),
            Column("overdue", filters.text("report.column.overdue_follow_ups"), "int"),
        ),
        [(filters.text("report.value.none") if owner == "(none)" else owner, n) for owner, n in rows],
        Chart("hbar", "owner", ("overdue",)),
        note=filters.text("report.statistic.overdue_follow_ups.note"),
    )

"""Business progress: process instances, open tasks, cycle times, SLA compliance and overdue follow-ups."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from atrium import clock
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
        "Process instances started, by process and status",
        (
            Column("process", "Process"),
            Column("started", "Started", "int"),
            *(Column(status, status.title(), "int") for status in INSTANCE_STATUSES),
        ),
        [tuple(r) for r in rows],
        Chart("stacked_bar", "process", INSTANCE_STATUSES),
        note="Instances started in the period, by their status now (error: stopped at an incident).",
    )


AGE_BUCKETS = (("< 1 day", 1), ("1-3 days", 3), ("3-7 days", 7), ("7-30 days", 30), ("> 30 days", None))


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
        "Open tasks by age",
        (Column("age", "Age"), Column("tasks", "Open tasks", "int")),
        [(label, counts.get(label, 0)) for label, _ in AGE_BUCKETS],
        Chart("bar", "age", ("tasks",)),
        note='Age: time since the task was opened, now; a task exactly 1 day old is in "1-3 days".',
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
    rows = sorted(
        [(who, "user", n) for who, n in assigned] + [(group or "(no group)", "group", n) for group, n in offered],
        key=lambda r: (-r[2], r[0]),
    )
    return Table(
        "open_tasks_by_assignee",
        "Open tasks by assignee, and unclaimed ones by group",
        (Column("holder", "Assignee or group"), Column("kind", "Kind"), Column("tasks", "Open tasks", "int")),
        rows,
        Chart("hbar", "holder", ("tasks",)),
        note="Claimed tasks by assignee (user); unclaimed ones by candidate group, once in each group "
        "they are offered to.",
    )


HOURS = (
    Column("count", "Count", "int"),
    Column("median_hours", "Median (h)", "hours"),
    Column("p90_hours", "90th percentile (h)", "hours"),
)
PERCENTILES = "Median and 90th percentile interpolated between ranks (PostgreSQL's percentile_cont)."


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
        "Cycle time by process",
        (Column("process", "Process"), *HOURS),
        [tuple(r) for r in rows],
        Chart("bar", "process", ("median_hours", "p90_hours")),
        note=f"Instances that completed in the period (cancelled ones are left out), start to end. {PERCENTILES}",
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
        "Cycle time by task",
        (Column("process", "Process"), Column("element", "Element"), Column("task", "Task"), *HOURS),
        [tuple(r) for r in rows],
        Chart("hbar", "task", ("median_hours", "p90_hours")),
        note=f"Tasks completed in the period (not cancelled ones), opened to completed. {PERCENTILES}",
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
    for kind, query in (
        ("Service requests resolved within SLA", requests),
        ("Complaints acknowledged in time", complaints),
    ):
        total, met = session.execute(query).one()
        rows.append((kind, total, met or 0, (met or 0) / total if total else None))
    return Table(
        "sla_compliance",
        "SLA compliance",
        (
            Column("kind", "Measure"),
            Column("total", "Total", "int"),
            Column("met", "Met", "int"),
            Column("rate", "Rate", "percent"),
        ),
        rows,
        Chart("hbar", "kind", ("total", "met")),
        note="Service requests resolved in the period that had an SLA due time, met when resolved by it; "
        "complaints received in the period, met when acknowledged by the due time fixed when each "
        "was received (one not acknowledged yet has missed it).",
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
        "Overdue follow-ups by account manager",
        (Column("owner", "Owner"), Column("overdue", "Overdue follow-ups", "int")),
        [tuple(r) for r in rows],
        Chart("hbar", "owner", ("overdue",)),
        note="Planned before now and not yet done, whatever the period.",
    )

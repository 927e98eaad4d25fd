"""Business progress: process instances, open tasks, cycle times, SLA compliance and overdue follow-ups."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from atrium import clock
from atrium.settings import Settings
from storage.client_records import Complaint, FollowUp, ServiceRequest
from storage.clients import Client
from storage.instances import ProcessInstance
from storage.tasks import OPEN, Task, TaskCandidate

from ..tables import Chart, Column, Filters, Table
from .sql import client_business_keys, hours_between, in_period, percentiles, visible_clients


def _instance_scope(filters: Filters) -> list:
    conditions = []
    if filters.process_key:
        conditions.append(ProcessInstance.process_key == filters.process_key)
    if filters.owners is not None:
        conditions.append(ProcessInstance.business_key.in_(client_business_keys(filters)))
    return conditions


def _task_scope(filters: Filters) -> list:
    conditions = [Task.process_key == filters.process_key] if filters.process_key else []
    if filters.owners is not None:
        conditions.append(Task.instance_id.in_(select(ProcessInstance.id).where(*_instance_scope(filters))))
    return conditions


def instances_by_process_status(session: Session, filters: Filters) -> Table:
    rows = session.execute(
        select(ProcessInstance.process_key, ProcessInstance.status, func.count())
        .where(in_period(ProcessInstance.started_at, filters), *_instance_scope(filters))
        .group_by(ProcessInstance.process_key, ProcessInstance.status)
        .order_by(ProcessInstance.process_key, ProcessInstance.status)).all()
    return Table("instances_by_process_status", "Process instances started, by process and status",
                 (Column("process", "Process"), Column("status", "Status"), Column("instances", "Instances", "int")),
                 [tuple(r) for r in rows])


AGE_BUCKETS = (("< 1 day", 0, 1), ("1-3 days", 1, 3), ("3-7 days", 3, 7), ("7-30 days", 7, 30), ("> 30 days", 30, None))


def open_tasks_by_age(session: Session, filters: Filters) -> Table:
    now = clock.now()
    # The first bucket whose upper bound the task's age is under.
    bucket = case(*[(Task.created_at > now - timedelta(days=high), label) for label, _, high in AGE_BUCKETS if high],
                  else_=AGE_BUCKETS[-1][0])
    counts = dict(session.execute(select(bucket, func.count()).where(Task.status == OPEN, *_task_scope(filters))
                                  .group_by(bucket)).all())
    return Table("open_tasks_by_age", "Open tasks by age", (Column("age", "Age"), Column("tasks", "Open tasks", "int")),
                 [(label, counts.get(label, 0)) for label, _, _ in AGE_BUCKETS], Chart("bar", "age", ("tasks",)),
                 note="Age: time since the task was opened, now.")


def open_tasks_by_assignee(session: Session, filters: Filters) -> Table:
    scope = [Task.status == OPEN, *_task_scope(filters)]
    assigned = session.execute(select(Task.assignee, func.count()).where(*scope, Task.assignee.is_not(None))
                               .group_by(Task.assignee)).all()
    offered = session.execute(select(TaskCandidate.name, func.count(func.distinct(Task.id)))
                              .join(Task, Task.id == TaskCandidate.task_id)
                              .where(*scope, Task.assignee.is_(None), TaskCandidate.kind == "group")
                              .group_by(TaskCandidate.name)).all()
    rows = sorted([(who, "person", n) for who, n in assigned] + [(group, "group", n) for group, n in offered],
                  key=lambda r: (-r[2], r[0]))
    return Table("open_tasks_by_assignee", "Open tasks by assignee, and unclaimed ones by group",
                 (Column("holder", "Assignee or group"), Column("kind", "Kind"), Column("tasks", "Open tasks", "int")),
                 rows, Chart("hbar", "holder", ("tasks",)),
                 note="An unclaimed task offered to several groups counts once in each.")


HOURS = (Column("count", "Count", "int"), Column("median_hours", "Median (h)", "hours"), Column("p90_hours", "90th pct (h)", "hours"))


def cycle_time_by_process(session: Session, filters: Filters) -> Table:
    stats = percentiles(hours_between(ProcessInstance.started_at, ProcessInstance.ended_at), [ProcessInstance.process_key],
                        [in_period(ProcessInstance.ended_at, filters), ProcessInstance.status == "completed",
                         *_instance_scope(filters)], ProcessInstance)
    rows = session.execute(stats.order_by(stats.selected_columns[0])).all()
    return Table("cycle_time_by_process", "Cycle time by process",
                 (Column("process", "Process"), *HOURS), [tuple(r) for r in rows],
                 Chart("bar", "process", ("median_hours", "p90_hours")),
                 note="Instances completed in the period, from start to end; nearest-rank percentiles.")


def cycle_time_by_task(session: Session, filters: Filters) -> Table:
    stats = percentiles(hours_between(Task.created_at, Task.completed_at), [Task.process_key, Task.name],
                        [in_period(Task.completed_at, filters), Task.status == "completed", *_task_scope(filters)], Task)
    rows = session.execute(stats.order_by(*stats.selected_columns[:2])).all()
    return Table("cycle_time_by_task", "Cycle time by task",
                 (Column("process", "Process"), Column("task", "Task"), *HOURS), [tuple(r) for r in rows],
                 note="Tasks completed in the period, from opened to completed; nearest-rank percentiles.")


def sla_compliance(session: Session, filters: Filters, *, acknowledge_hours: float | None = None) -> Table:
    acknowledge_hours = acknowledge_hours or Settings.from_env().complaint_acknowledge_hours
    requests = select(func.count(), func.sum(case((ServiceRequest.resolved_at <= ServiceRequest.sla_due_at, 1), else_=0))).join(
        Client, Client.id == ServiceRequest.client_id).where(
        visible_clients(filters), in_period(ServiceRequest.resolved_at, filters), ServiceRequest.sla_due_at.is_not(None),
        *([ServiceRequest.type == filters.service_type] if filters.service_type else []))
    acknowledged = and_(Complaint.acknowledged_at.is_not(None),
                        hours_between(Complaint.received_at, Complaint.acknowledged_at) <= acknowledge_hours)
    complaints = select(func.count(), func.sum(case((acknowledged, 1), else_=0))).join(
        Client, Client.id == Complaint.client_id).where(visible_clients(filters), in_period(Complaint.received_at, filters))
    rows = []
    for kind, query in (("Service requests resolved within SLA", requests),
                        (f"Complaints acknowledged within {acknowledge_hours:g} h", complaints)):
        total, met = session.execute(query).one()
        rows.append((kind, total or 0, met or 0, (met or 0) / total if total else None))
    return Table("sla_compliance", "SLA compliance",
                 (Column("kind", "Measure"), Column("total", "Total", "int"), Column("met", "Met", "int"),
                  Column("rate", "Rate", "percent")), rows, Chart("hbar", "kind", ("total", "met")),
                 note="Service requests resolved in the period that had an SLA due time; complaints received in the period.")


def overdue_follow_ups(session: Session, filters: Filters) -> Table:
    owner = func.coalesce(Client.owner, "(none)")
    rows = session.execute(select(owner, func.count()).select_from(FollowUp).join(Client, Client.id == FollowUp.client_id)
                           .where(visible_clients(filters), FollowUp.done_at.is_(None), FollowUp.planned_at < clock.now())
                           .group_by(owner).order_by(func.count().desc(), owner)).all()
    return Table("overdue_follow_ups", "Overdue follow-ups by account manager",
                 (Column("owner", "Owner"), Column("overdue", "Overdue follow-ups", "int")), [tuple(r) for r in rows],
                 Chart("hbar", "owner", ("overdue",)), note="Planned before now and not yet done.")

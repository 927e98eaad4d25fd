"""Satisfaction (CSAT 1-5, NPS 0-10) and complaints."""
from __future__ import annotations

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from storage.client_records import Complaint, Feedback, ServiceRequest
from storage.clients import Client

from ..tables import Chart, Column, Filters, Table
from .sql import hours_between, in_period, month_of, months, percentiles, visible_clients

NPS_NOTE = "NPS = % promoters (9-10) − % detractors (0-6), from -100 to 100."


def _feedback(filters: Filters, *columns):
    """Feedback given in the period about visible clients (about service requests of one type, if filtered)."""
    query = (select(*columns).select_from(Feedback).join(Client, Client.id == Feedback.client_id)
             .where(visible_clients(filters), in_period(Feedback.created_at, filters)))
    if filters.service_type:
        query = query.join(ServiceRequest, (Feedback.subject_type == "service_request")
                           & (ServiceRequest.id == Feedback.subject_id)).where(ServiceRequest.type == filters.service_type)
    return query


def _nps(promoters: int, detractors: int, responses: int) -> float | None:
    return round((promoters - detractors) * 100 / responses, 1) if responses else None


PROMOTER = case((Feedback.nps >= 9, 1), else_=0)
DETRACTOR = case((Feedback.nps <= 6, 1), else_=0)


def csat_distribution(session: Session, filters: Filters) -> Table:
    counts = dict(session.execute(_feedback(filters, Feedback.csat, func.count()).where(Feedback.csat.is_not(None))
                                  .group_by(Feedback.csat)).all())
    total = sum(counts.values())
    average = sum(score * n for score, n in counts.items()) / total if total else None
    return Table("csat_distribution", "CSAT: ratings given",
                 (Column("score", "Score (1-5)"), Column("responses", "Responses", "int"), Column("share", "Share", "percent")),
                 [(score, counts.get(score, 0), counts.get(score, 0) / total if total else None) for score in range(1, 6)],
                 Chart("bar", "score", ("responses",)),
                 note=f"{total} ratings; average {average:.2f}." if total else "No ratings in the period.")


def nps_summary(session: Session, filters: Filters) -> Table:
    responses, promoters, detractors = session.execute(_feedback(
        filters, func.count(), func.coalesce(func.sum(PROMOTER), 0), func.coalesce(func.sum(DETRACTOR), 0))
        .where(Feedback.nps.is_not(None))).one()
    passives = responses - promoters - detractors
    return Table("nps_summary", "Net Promoter Score",
                 (Column("group", "Group"), Column("responses", "Responses", "int")),
                 [("Promoters (9-10)", promoters), ("Passives (7-8)", passives), ("Detractors (0-6)", detractors)]
                 if responses else [], Chart("pie", "group", ("responses",)),
                 note=f"NPS {_nps(promoters, detractors, responses)} from {responses} responses. {NPS_NOTE}"
                 if responses else NPS_NOTE)


def satisfaction_trend(session: Session, filters: Filters) -> Table:
    month = month_of(Feedback.created_at)
    found = {m: (n, csat, p, d, nps_n) for m, n, csat, p, d, nps_n in session.execute(_feedback(
        filters, month, func.count(), func.avg(Feedback.csat), func.sum(case((Feedback.nps >= 9, 1), else_=0)),
        func.sum(case((Feedback.nps <= 6, 1), else_=0)), func.count(Feedback.nps)).group_by(month))}
    rows = []
    for m in months(filters):
        n, csat, promoters, detractors, nps_n = found.get(m, (0, None, 0, 0, 0))
        rows.append((m, n, float(csat) if csat is not None else None, _nps(promoters or 0, detractors or 0, nps_n)))
    return Table("satisfaction_trend", "Satisfaction per month",
                 (Column("month", "Month", "month"), Column("responses", "Responses", "int"),
                  Column("csat", "CSAT average", "float"), Column("nps", "NPS", "float")), rows,
                 Chart("line", "month", ("csat",)), note=NPS_NOTE)


def _requests_feedback(filters: Filters, group, label: str):
    return (_feedback(filters, group.label(label), func.count(Feedback.csat), func.avg(Feedback.csat))
            .join(ServiceRequest, (Feedback.subject_type == "service_request") & (ServiceRequest.id == Feedback.subject_id))
            .where(Feedback.csat.is_not(None)).group_by(group).order_by(group))


def satisfaction_by_service_type(session: Session, filters: Filters) -> Table:
    group = func.coalesce(ServiceRequest.type, "(none)")
    query = _requests_feedback(filters, group, "type") if not filters.service_type else (
        _feedback(filters, group.label("type"), func.count(Feedback.csat), func.avg(Feedback.csat))
        .where(Feedback.csat.is_not(None)).group_by(group).order_by(group))
    rows = [(t, n, float(avg) if avg is not None else None) for t, n, avg in session.execute(query)]
    return Table("satisfaction_by_service_type", "CSAT by service type",
                 (Column("type", "Service type"), Column("responses", "Responses", "int"), Column("csat", "CSAT average", "float")),
                 rows, Chart("hbar", "type", ("csat",)), note="Ratings of service requests, by the request's type.")


def satisfaction_by_employee(session: Session, filters: Filters) -> Table:
    group = func.coalesce(ServiceRequest.assignee, "(unassigned)")
    query = _requests_feedback(filters, group, "employee")
    if filters.service_type:  # _feedback joined the requests already
        query = (_feedback(filters, group.label("employee"), func.count(Feedback.csat), func.avg(Feedback.csat))
                 .where(Feedback.csat.is_not(None)).group_by(group).order_by(group))
    rows = [(e, n, float(avg) if avg is not None else None) for e, n, avg in session.execute(query)]
    return Table("satisfaction_by_employee", "CSAT by employee",
                 (Column("employee", "Employee"), Column("responses", "Responses", "int"), Column("csat", "CSAT average", "float")),
                 rows, Chart("hbar", "employee", ("csat",)), note="Ratings of service requests, by who worked the request.")


def complaints_by_severity(session: Session, filters: Filters) -> Table:
    scope = [visible_clients(filters), in_period(Complaint.received_at, filters)]
    source = Complaint.__table__.join(Client.__table__, Client.id == Complaint.client_id)
    counts = {s: (n, r) for s, n, r in session.execute(
        select(Complaint.severity, func.count(), func.count(Complaint.resolved_at)).select_from(source).where(*scope)
        .group_by(Complaint.severity))}
    stats = percentiles(hours_between(Complaint.received_at, Complaint.resolved_at), [Complaint.severity], scope, source)
    times = {severity: (p50, p90) for severity, _, p50, p90 in session.execute(stats)}
    order = ["critical", "high", "medium", "low"]
    rows = [(s, *counts[s], *times.get(s, (None, None)))
            for s in sorted(counts, key=lambda s: (order.index(s) if s in order else len(order), s))]
    return Table("complaints_by_severity", "Complaints by severity",
                 (Column("severity", "Severity"), Column("received", "Received", "int"), Column("resolved", "Resolved", "int"),
                  Column("median_hours", "Median to resolve (h)", "hours"), Column("p90_hours", "90th pct (h)", "hours")),
                 rows, Chart("bar", "severity", ("received", "resolved")),
                 note="Complaints received in the period; time from receipt to resolution.")


def complaints_trend(session: Session, filters: Filters) -> Table:
    month = month_of(Complaint.received_at)
    found = {m: (n, r) for m, n, r in session.execute(
        select(month, func.count(), func.count(Complaint.resolved_at)).join(Client, Client.id == Complaint.client_id)
        .where(visible_clients(filters), in_period(Complaint.received_at, filters)).group_by(month))}
    return Table("complaints_trend", "Complaints per month",
                 (Column("month", "Month", "month"), Column("received", "Received", "int"), Column("resolved", "Resolved", "int")),
                 [(m, *found.get(m, (0, 0))) for m in months(filters)], Chart("bar", "month", ("received", "resolved")))

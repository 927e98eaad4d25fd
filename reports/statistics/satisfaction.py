"""Satisfaction (CSAT 1-5, NPS 0-10) and complaints."""

from __future__ import annotations

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from atrium.i18n import Term, format_number
from storage.client_records import Complaint, Feedback, ServiceRequest, live
from storage.clients import Client

from ..tables import Chart, Column, Filters, Table
from .sql import (
    hours_between,
    in_period,
    month_of,
    months,
    percentiles,
    visible_clients,
)

NPS_NOTE = Term("report.note.nps")  # a part of several notes


def _feedback(filters: Filters, *columns):
    """Feedback given in the period about visible clients (about service requests of one type, if filtered);
    deleted feedback is kept but not counted."""
    query = (
        select(*columns)
        .select_from(Feedback)
        .join(Client, Client.id == Feedback.client_id)
        .where(visible_clients(filters), in_period(Feedback.created_at, filters), live(Feedback))
    )
    if filters.service_type:
        query = query.join(
            ServiceRequest, (Feedback.subject_type == "service_request") & (ServiceRequest.id == Feedback.subject_id)
        ).where(ServiceRequest.type == filters.service_type)
    return query


def _nps(promoters: int, detractors: int, responses: int) -> float | None:
    return round((promoters - detractors) * 100 / responses, 1) if responses else None


def _average(value) -> float | None:
    return float(value) if value is not None else None


PROMOTER = case((Feedback.nps >= 9, 1), else_=0)
DETRACTOR = case((Feedback.nps <= 6, 1), else_=0)


def csat_distribution(session: Session, filters: Filters) -> Table:
    counts = dict(
        session.execute(
            _feedback(filters, Feedback.csat, func.count()).where(Feedback.csat.is_not(None)).group_by(Feedback.csat)
        ).all()
    )
    total = sum(counts.values())
    average = sum(score * n for score, n in counts.items()) / total if total else None
    return Table(
        "csat_distribution",
        filters.text("report.statistic.csat_distribution.title"),
        (
            Column("score", filters.text("report.column.score_1_5"), "int"),
            Column("responses", filters.text("report.column.responses"), "int"),
            Column("share", filters.text("report.column.share"), "percent"),
        ),
        [(score, counts.get(score, 0), counts.get(score, 0) / total if total else None) for score in range(1, 6)],
        Chart("bar", "score", ("responses",)),
        note=filters.text(
            "report.statistic.csat_distribution.note",
            total=format_number(total, filters.locale),
            average=f"{average:.2f}",
        )
        if total
        else filters.text("report.statistic.csat_distribution.none"),
    )


def nps_summary(session: Session, filters: Filters) -> Table:
    responses, promoters, detractors = session.execute(
        _feedback(
            filters, func.count(), func.coalesce(func.sum(PROMOTER), 0), func.coalesce(func.sum(DETRACTOR), 0)
        ).where(Feedback.nps.is_not(None))
    ).one()
    groups = (
        ("promoters", promoters),
        ("passives", responses - promoters - detractors),
        ("detractors", detractors),
    )
    nps = _nps(promoters, detractors, responses)
    return Table(
        "nps_summary",
        filters.text("report.statistic.nps_summary.title"),
        (
            Column("group", filters.text("report.column.group")),
            Column("responses", filters.text("report.column.responses"), "int"),
            Column("share", filters.text("report.column.share"), "percent"),
        ),
        [(filters.text(f"report.value.{group}"), n, n / responses) for group, n in groups] if responses else [],
        Chart("pie", "group", ("responses",)),
        note=filters.text(
            "report.statistic.nps_summary.note",
            nps=f"{nps:g}",
            responses=format_number(responses, filters.locale),
            nps_note=NPS_NOTE,
        )
        if responses
        else filters.text("report.statistic.nps_summary.none", nps_note=NPS_NOTE),
    )


def satisfaction_trend(session: Session, filters: Filters) -> Table:
    month = month_of(Feedback.created_at)
    found = {
        m: (n, csat, p, d, nps_n)
        for m, n, csat, p, d, nps_n in session.execute(
            _feedback(
                filters,
                month,
                func.count(),
                func.avg(Feedback.csat),
                func.sum(PROMOTER),
                func.sum(DETRACTOR),
                func.count(Feedback.nps),
            ).group_by(month)
        )
    }
    rows = []
    for m in months(filters):
        n, csat, promoters, detractors, nps_n = found.get(m, (0, None, 0, 0, 0))
        rows.append((m, n, _average(csat), _nps(promoters or 0, detractors or 0, nps_n)))
    return Table(
        "satisfaction_trend",
        filters.text("report.statistic.satisfaction_trend.title"),
        (
            Column("month", filters.text("report.column.month"), "month"),
            Column("responses", filters.text("report.column.responses"), "int"),
            Column("csat", filters.text("report.column.csat_average"), "float"),
            Column("nps", filters.text("report.column.nps"), "float"),
        ),
        rows,
        Chart("line", "month", ("csat",)),
        note=filters.text("report.statistic.satisfaction_trend.note", nps_note=NPS_NOTE),
    )


def _on_requests(filters: Filters, group, label: str):
    """CSAT count and average of feedback on service requests, by `group` (a ServiceRequest column)."""
    query = _feedback(filters, group.label(label), func.count(Feedback.csat), func.avg(Feedback.csat))
    if not filters.service_type:  # else _feedback joined the requests already
        query = query.join(
            ServiceRequest, (Feedback.subject_type == "service_request") & (ServiceRequest.id == Feedback.subject_id)
        )
    return query.where(Feedback.csat.is_not(None)).group_by(group).order_by(group)


def satisfaction_by_service_type(session: Session, filters: Filters) -> Table:
    group = func.coalesce(ServiceRequest.type, "(none)")
    feedback = {t: (n, _average(avg)) for t, n, avg in session.execute(_on_requests(filters, group, "type"))}
    # The rating the request's closing form records (1-5), of requests closed in the period.
    ratings = {
        t: (n, _average(avg))
        for t, n, avg in session.execute(
            select(group, func.count(ServiceRequest.rating), func.avg(ServiceRequest.rating))
            .join(Client, Client.id == ServiceRequest.client_id)
            .where(
                visible_clients(filters),
                in_period(ServiceRequest.closed_at, filters),
                ServiceRequest.rating.is_not(None),
                *([ServiceRequest.type == filters.service_type] if filters.service_type else []),
            )
            .group_by(group)
        )
    }
    none = filters.text("report.value.none")
    rows = [
        (none if t == "(none)" else t, *feedback.get(t, (0, None)), *ratings.get(t, (0, None)))
        for t in sorted(feedback.keys() | ratings.keys())
    ]
    return Table(
        "satisfaction_by_service_type",
        filters.text("report.statistic.satisfaction_by_service_type.title"),
        (
            Column("type", filters.text("report.column.service_type")),
            Column("responses", filters.text("report.column.responses"), "int"),
            Column("csat", filters.text("report.column.csat_average"), "float"),
            Column("ratings", filters.text("report.column.closing_ratings"), "int"),
            Column("rating", filters.text("report.column.closing_rating_average"), "float"),
        ),
        rows,
        Chart("hbar", "type", ("csat", "rating")),
        note=filters.text("report.statistic.satisfaction_by_service_type.note"),
    )


def satisfaction_by_employee(session: Session, filters: Filters) -> Table:
    unassigned = filters.text("report.value.unassigned")
    rows = [
        (unassigned if e == "(unassigned)" else e, n, _average(avg))
        for e, n, avg in session.execute(
            _on_requests(filters, func.coalesce(ServiceRequest.assignee, "(unassigned)"), "employee")
        )
    ]
    return Table(
        "satisfaction_by_employee",
        filters.text("report.statistic.satisfaction_by_employee.title"),
        (
            Column("employee", filters.text("report.column.employee")),
            Column("responses", filters.text("report.column.responses"), "int"),
            Column("csat", filters.text("report.column.csat_average"), "float"),
        ),
        rows,
        Chart("hbar", "employee", ("csat",)),
        note=filters.text("report.statistic.satisfaction_by_employee.note"),
    )


def complaints_by_severity(session: Session, filters: Filters) -> Table:
    scope = [visible_clients(filters), in_period(Complaint.received_at, filters), live(Complaint)]
    source = Complaint.__table__.join(Client.__table__, Client.id == Complaint.client_id)
    counts = {
        s: (n, r)
        for s, n, r in session.execute(
            select(Complaint.severity, func.count(), func.count(Complaint.resolved_at))
            .select_from(source)
            .where(*scope)
            .group_by(Complaint.severity)
        )
    }
    stats = percentiles(
        session.get_bind().dialect.name,
        hours_between(Complaint.received_at, Complaint.resolved_at),
        [Complaint.severity],
        scope,
        source,
    )
    times = {severity: (p50, p90) for severity, _, p50, p90 in session.execute(stats)}
    order = ["critical", "high", "medium", "low"]
    rows = [
        (filters.value("complaint.severity", s), *counts[s], *times.get(s, (None, None)))
        for s in sorted(counts, key=lambda s: (order.index(s) if s in order else len(order), s))
    ]
    return Table(
        "complaints_by_severity",
        filters.text("report.statistic.complaints_by_severity.title"),
        (
            Column("severity", filters.text("report.column.severity")),
            Column("received", filters.text("report.column.received"), "int"),
            Column("resolved", filters.text("report.column.resolved"), "int"),
            Column("median_hours", filters.text("report.column.median_to_resolve_hours"), "hours"),
            Column("p90_hours", filters.text("report.column.p90_pct_hours"), "hours"),
        ),
        rows,
        Chart("bar", "severity", ("received", "resolved")),
        note=filters.text("report.statistic.complaints_by_severity.note"),
    )


def complaints_trend(session: Session, filters: Filters) -> Table:
    def per_month(column) -> dict[str, int]:
        month = month_of(column)
        return dict(
            session.execute(
                select(month, func.count())
                .join(Client, Client.id == Complaint.client_id)
                .where(visible_clients(filters), in_period(column, filters), live(Complaint))
                .group_by(month)
            ).all()
        )

    received, resolved = per_month(Complaint.received_at), per_month(Complaint.resolved_at)
    return Table(
        "complaints_trend",
        filters.text("report.statistic.complaints_trend.title"),
        (
            Column("month", filters.text("report.column.month"), "month"),
            Column("received", filters.text("report.column.received"), "int"),
            Column("resolved", filters.text("report.column.resolved"), "int"),
        ),
        [(m, received.get(m, 0), resolved.get(m, 0)) for m in months(filters)],
        Chart("bar", "month", ("received", "resolved")),
        note=filters.text("report.statistic.complaints_trend.note"),
    )

"""Client statistics: the book of clients at the end of the period, and how it moved month by month."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.clients import Client, ClientStatusChange

from ..tables import Chart, Column, Filters, Table
from .sql import in_period, month_of, months, start_of, visible_clients


def _count(filters: Filters) -> Column:
    return Column("clients", filters.text("report.column.clients"), "int")


def _count_by(
    session: Session, filters: Filters, column, name: str, label: str, chart: str, values: str | None = None
) -> Table:
    """Clients counted by `column`, headed `report.column.<label>`; with `values`, each value shown as its
    catalogue label `<values>.<value>`."""
    key = func.coalesce(column, "(none)")
    rows = session.execute(
        select(key, func.count())
        .where(visible_clients(filters), Client.created_at < start_of(filters.date_to))
        .group_by(key)
        .order_by(func.count().desc(), key)
    ).all()
    none = filters.text("report.value.none")
    return Table(
        name,
        filters.text(f"report.statistic.{name}.title"),
        (Column("key", filters.text(f"report.column.{label}")), _count(filters)),
        [(none if key == "(none)" else filters.value(values, key) if values else key, n) for key, n in rows],
        Chart(chart, "key", ("clients",)),
        note=filters.text("report.note.clients_on_the_books"),
    )


def clients_by_tier(session: Session, filters: Filters) -> Table:
    return _count_by(session, filters, Client.tier, "clients_by_tier", "tier", "bar")


def clients_by_status(session: Session, filters: Filters) -> Table:
    return _count_by(session, filters, Client.status, "clients_by_status", "status", "pie", "client.status")


def clients_by_industry(session: Session, filters: Filters) -> Table:
    return _count_by(session, filters, Client.industry, "clients_by_industry", "industry", "hbar")


def clients_by_owner(session: Session, filters: Filters) -> Table:
    return _count_by(session, filters, Client.owner, "clients_by_owner", "owner", "hbar")


def client_movements(session: Session, filters: Filters) -> Table:
    """Per month: clients created, and clients whose status changed to dormant or to former (lost)."""
    month = month_of(Client.created_at)
    new = dict(
        session.execute(
            select(month, func.count())
            .where(visible_clients(filters), in_period(Client.created_at, filters))
            .group_by(month)
        ).all()
    )
    change = ClientStatusChange
    changed = month_of(change.changed_at)
    moved = {
        (m, status): n
        for m, status, n in session.execute(
            select(changed, change.to_status, func.count(func.distinct(change.client_id)))
            .join(Client, Client.id == change.client_id)
            .where(
                change.to_status.in_(("dormant", "former")),
                in_period(change.changed_at, filters),
                change.from_status.is_not(None),
                change.from_status != change.to_status,
                visible_clients(filters),
            )
            .group_by(changed, change.to_status)
        )
    }
    rows = [(m, new.get(m, 0), moved.get((m, "dormant"), 0), moved.get((m, "former"), 0)) for m in months(filters)]
    return Table(
        "client_movements",
        filters.text("report.statistic.client_movements.title"),
        (
            Column("month", filters.text("report.column.month"), "month"),
            Column("new", filters.text("report.column.new"), "int"),
            Column("dormant", filters.text("report.column.became_dormant"), "int"),
            Column("lost", filters.text("report.column.lost"), "int"),
        ),
        rows,
        Chart("bar", "month", ("new", "dormant", "lost")),
        note=filters.text("report.statistic.client_movements.note"),
    )

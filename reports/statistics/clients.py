"""Client statistics: the book of clients at the end of the period, and how it moved month by month."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.clients import Client, ClientStatusChange

from ..tables import Chart, Column, Filters, Table
from .sql import in_period, month_of, months, start_of, visible_clients

COUNT = Column("clients", "Clients", "int")


def _count_by(session: Session, filters: Filters, column, name: str, title: str, label: str, chart: str) -> Table:
    key = func.coalesce(column, "(none)")
    rows = session.execute(
        select(key, func.count())
        .where(visible_clients(filters), Client.created_at < start_of(filters.date_to))
        .group_by(key)
        .order_by(func.count().desc(), key)
    ).all()
    return Table(
        name,
        title,
        (Column("key", label), COUNT),
        [tuple(r) for r in rows],
        Chart(chart, "key", ("clients",)),
        note="Clients on the books at the end of the period: created before it ended, not deleted; "
        "by their status now.",
    )


def clients_by_tier(session: Session, filters: Filters) -> Table:
    return _count_by(session, filters, Client.tier, "clients_by_tier", "Clients by tier", "Tier", "bar")


def clients_by_status(session: Session, filters: Filters) -> Table:
    return _count_by(session, filters, Client.status, "clients_by_status", "Clients by status", "Status", "pie")


def clients_by_industry(session: Session, filters: Filters) -> Table:
    return _count_by(
        session, filters, Client.industry, "clients_by_industry", "Clients by industry", "Industry", "hbar"
    )


def clients_by_owner(session: Session, filters: Filters) -> Table:
    return _count_by(session, filters, Client.owner, "clients_by_owner", "Clients by account manager", "Owner", "hbar")


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
        "New, dormant and lost clients per month",
        (
            Column("month", "Month", "month"),
            Column("new", "New", "int"),
            Column("dormant", "Became dormant", "int"),
            Column("lost", "Lost", "int"),
        ),
        rows,
        Chart("bar", "month", ("new", "dormant", "lost")),
        note="New: created that month. Became dormant, lost: changed from another status to dormant, to "
        "former that month (a client created so is only new); a client counts once a month.",
    )

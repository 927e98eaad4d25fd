"""Billing statistics: billed, paid, outstanding and overdue per client and per engagement for the invoices
issued in the period, as they stood at its end (the rule is atrium/billing_summary.py's)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from atrium.billing_summary import EngagementBilling, Figures, engagement_billing
from atrium.clock import now
from storage.client_records import Engagement
from storage.clients import Client

from ..tables import Chart, Column, Filters, Table
from .sql import visible_clients

FIGURES = ("billed", "paid", "outstanding", "overdue")


def _rows(session: Session, filters: Filters) -> tuple[list[EngagementBilling], dict[int, str], object]:
    """The engagements' figures for invoices issued in the period as of its last day (today, if that is
    earlier), and the names of their clients."""
    as_of = min(filters.date_to - timedelta(days=1), now().date())
    clients = select(Client.id).where(visible_clients(filters))
    rows = engagement_billing(
        session,
        Engagement.client_id.in_(clients),
        as_of=as_of,
        issued_from=filters.date_from,
        issued_before=filters.date_to,
    )
    rows = [row for row in rows if row.figures]
    ids = {row.client_id for row in rows}
    names = (
        {
            client_id: name if erased_at is None else filters.text("report.billing.erased_client", id=client_id)
            for client_id, name, erased_at in session.execute(
                select(Client.id, Client.name, Client.erased_at).where(Client.id.in_(ids))
            )
        }
        if ids
        else {}
    )
    return rows, names, as_of


def _figure_columns(filters: Filters) -> tuple[Column, ...]:
    return (
        Column("currency", filters.text("report.column.currency")),
        *(Column(name, filters.text(f"report.column.{name}"), "money") for name in FIGURES),
    )


def _values(figures: Figures) -> tuple:
    return (figures.currency, figures.billed, figures.paid, figures.outstanding, figures.overdue)


def billing_by_client(session: Session, filters: Filters) -> Table:
    """Per client and currency: billed, paid, outstanding and overdue, the largest outstanding first."""
    rows, names, as_of = _rows(session, filters)
    totals: dict[tuple[int, str], Figures] = {}
    for row in rows:
        for figures in row.figures:
            totals.setdefault((row.client_id, figures.currency), Figures(figures.currency)).add(figures)
    ordered = sorted(totals.items(), key=lambda item: (-item[1].outstanding, names[item[0][0]], item[0][1]))
    return Table(
        "billing_by_client",
        filters.text("report.statistic.billing_by_client.title"),
        (Column("client", filters.text("report.column.client")), *_figure_columns(filters)),
        [(names[client_id], *_values(figures)) for (client_id, _), figures in ordered],
        Chart("hbar", "client", ("outstanding", "overdue")),
        note=filters.text("report.statistic.billing_by_client.note", day=filters.day(as_of)),
    )


def billing_by_engagement(session: Session, filters: Filters) -> Table:
    """Per engagement and currency: billed, paid, outstanding and overdue, by client."""
    rows, names, as_of = _rows(session, filters)
    return Table(
        "billing_by_engagement",
        filters.text("report.statistic.billing_by_engagement.title"),
        (
            Column("client", filters.text("report.column.client")),
            Column("engagement", filters.text("report.column.engagement")),
            *_figure_columns(filters),
        ),
        [
            (names[row.client_id], f"#{row.engagement_id} {row.service_type}", *_values(figures))
            for row in sorted(rows, key=lambda r: (names[r.client_id], r.engagement_id))
            for figures in row.figures
        ],
        Chart("hbar", "engagement", ("billed", "paid")),
        note=filters.text("report.statistic.billing_by_engagement.note", day=filters.day(as_of)),
    )

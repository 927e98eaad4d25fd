"""What a client owes: billed, paid, outstanding, overdue and unbilled time per engagement and per client,
the one place these rules live (the client's billing panel, the billing report and the voucher export
read them from here).

- billed: the total_amount of invoices not cancelled;
- paid: the payments received (paid_on up to the day the figures are for) on those invoices;
- outstanding: billed - paid;
- overdue: the outstanding part of invoices whose due_date has passed (before the day the figures are for,
  the injectable clock's today for the live panel);
- unbilled time: billable time entries, recorded or approved, on no invoice request; valued at the
  engagement's fee_amount as an hourly rate when its fee_basis is `hourly` (other fee bases bill fees,
  not hours: their unbilled time has hours and no value).

Amounts are Decimal throughout. Two grouped queries answer any number of clients and engagements."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import ColumnElement

from atrium import clock
from storage.billing import Invoice, Payment, TimeEntry
from storage.client_records import Engagement

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
UNBILLED_STATUSES = ("recorded", "approved")
# What the client's page shows for an invoice, most pressing first.
INVOICE_STATES = ("cancelled", "paid", "overdue", "partly_paid", "open")


def money(value) -> Decimal:
    """A sum from the database as Decimal with two places (SQLite hands back floats or ints for SUM)."""
    if value is None:
        return ZERO
    return Decimal(str(value)).quantize(CENT)


@dataclass
class Figures:
    """billed, paid, outstanding and overdue in one currency."""

    currency: str
    billed: Decimal = ZERO
    paid: Decimal = ZERO
    overdue: Decimal = ZERO

    @property
    def outstanding(self) -> Decimal:
        return self.billed - self.paid

    def add(self, other: Figures) -> None:
        self.billed += other.billed
        self.paid += other.paid
        self.overdue += other.overdue


@dataclass
class EngagementBilling:
    client_id: int
    engagement_id: int
    service_type: str
    description: str | None
    figures: list[Figures] = field(default_factory=list)  # one per currency invoiced, in currency order
    unbilled_hours: Decimal = ZERO
    unbilled_value: Decimal = ZERO


def today() -> date:
    return clock.now().date()


def _paid_per_invoice(as_of: date):
    """Payments received up to `as_of`, summed per invoice."""
    return (
        select(Payment.invoice_id, func.sum(Payment.amount).label("paid"))
        .where(Payment.paid_on <= as_of)
        .group_by(Payment.invoice_id)
        .subquery()
    )


def invoice_conditions(
    client_condition: ColumnElement | None, *, issued_from: date | None, issued_before: date | None, as_of: date
) -> list:
    """The invoices counted: not cancelled, issued by `as_of` (and in [issued_from, issued_before) when given)."""
    conditions = [Invoice.status != "cancelled", Invoice.issue_date <= as_of]
    if client_condition is not None:
        conditions.append(client_condition)
    if issued_from is not None:
        conditions.append(Invoice.issue_date >= issued_from)
    if issued_before is not None:
        conditions.append(Invoice.issue_date < issued_before)
    return conditions


def engagement_billing(
    session: Session,
    client_condition: ColumnElement | None,
    *,
    as_of: date | None = None,
    issued_from: date | None = None,
    issued_before: date | None = None,
) -> list[EngagementBilling]:
    """Per engagement of the clients `client_condition` selects (a condition on Invoice/TimeEntry-free
    columns of `Engagement.client_id`, e.g. `Engagement.client_id == 7`; None: every client): the figures
    per currency as of `as_of` (default today) for invoices issued in the period, and the unbilled time
    worked in it. Engagements with neither are left out. Two queries, whatever the number of engagements."""
    as_of = as_of or today()
    paid = _paid_per_invoice(as_of)
    outstanding = Invoice.total_amount - func.coalesce(paid.c.paid, 0)
    invoice_rows = session.execute(
        select(
            Invoice.engagement_id,
            Invoice.currency,
            func.sum(Invoice.total_amount),
            func.sum(func.coalesce(paid.c.paid, 0)),
            func.sum(case((and_(Invoice.due_date < as_of, outstanding > 0), outstanding), else_=0)),
        )
        .join(Engagement, Engagement.id == Invoice.engagement_id)
        .outerjoin(paid, paid.c.invoice_id == Invoice.id)
        .where(*invoice_conditions(client_condition, issued_from=issued_from, issued_before=issued_before, as_of=as_of))
        .group_by(Invoice.engagement_id, Invoice.currency)
    ).all()
    time_conditions = [
        TimeEntry.billable.is_(True),
        TimeEntry.status.in_(UNBILLED_STATUSES),
        TimeEntry.invoice_request_id.is_(None),
        TimeEntry.work_date <= as_of,
    ]
    if client_condition is not None:
        time_conditions.append(client_condition)
    if issued_from is not None:
        time_conditions.append(TimeEntry.work_date >= issued_from)
    if issued_before is not None:
        time_conditions.append(TimeEntry.work_date < issued_before)
    rate = case((Engagement.fee_basis == "hourly", func.coalesce(Engagement.fee_amount, 0)), else_=0)
    time_rows = session.execute(
        select(TimeEntry.engagement_id, func.sum(TimeEntry.hours), func.sum(TimeEntry.hours * rate))
        .join(Engagement, Engagement.id == TimeEntry.engagement_id)
        .where(*time_conditions)
        .group_by(TimeEntry.engagement_id)
    ).all()
    wanted = {row[0] for row in invoice_rows} | {row[0] for row in time_rows}
    if not wanted:
        return []
    engagements = {
        e.id: EngagementBilling(e.client_id, e.id, e.service_type, e.description)
        for e in session.execute(
            select(Engagement.id, Engagement.client_id, Engagement.service_type, Engagement.description).where(
                Engagement.id.in_(wanted)
            )
        )
    }
    for engagement_id, currency, billed, paid_sum, overdue in sorted(invoice_rows, key=lambda r: (r[0], r[1])):
        engagements[engagement_id].figures.append(Figures(currency, money(billed), money(paid_sum), money(overdue)))
    for engagement_id, hours, value in time_rows:
        engagements[engagement_id].unbilled_hours = money(hours)
        engagements[engagement_id].unbilled_value = money(value)
    return sorted(engagements.values(), key=lambda e: (e.client_id, e.engagement_id))


def totals_by_currency(rows: list[EngagementBilling]) -> list[Figures]:
    """The engagements' figures added up per currency."""
    totals: dict[str, Figures] = {}
    for row in rows:
        for figures in row.figures:
            totals.setdefault(figures.currency, Figures(figures.currency)).add(figures)
    return [totals[currency] for currency in sorted(totals)]


def invoice_state(total: Decimal, paid: Decimal, due_date: date, status: str, as_of: date) -> str:
    """cancelled, paid (nothing left), overdue (something left after the due date), partly_paid, or open."""
    if status == "cancelled":
        return "cancelled"
    if paid >= total:
        return "paid"
    if due_date < as_of:
        return "overdue"
    return "partly_paid" if paid > 0 else "open"


def client_invoices(session: Session, client_id: int, *, as_of: date | None = None) -> list[dict]:
    """A client's invoices, newest first, with what was paid on each by `as_of` and its state."""
    as_of = as_of or today()
    paid = _paid_per_invoice(as_of)
    rows = session.execute(
        select(Invoice, func.coalesce(paid.c.paid, 0))
        .outerjoin(paid, paid.c.invoice_id == Invoice.id)
        .where(Invoice.client_id == client_id)
        .order_by(Invoice.issue_date.desc(), Invoice.id.desc())
    ).all()
    out = []
    for invoice, paid_sum in rows:
        paid_amount = money(paid_sum)
        total = money(invoice.total_amount)
        state = invoice_state(total, paid_amount, invoice.due_date, invoice.status, as_of)
        out.append(
            {
                "id": invoice.id,
                "number": invoice.number,
                "engagement_id": invoice.engagement_id,
                "currency": invoice.currency,
                "issue_date": invoice.issue_date,
                "due_date": invoice.due_date,
                "total_amount": total,
                "paid_amount": paid_amount,
                "outstanding": ZERO if state == "cancelled" else total - paid_amount,
                "state": state,
                "days_overdue": (as_of - invoice.due_date).days if state == "overdue" else 0,
            }
        )
    return out


def client_billing(session: Session, client_id: int, *, as_of: date | None = None) -> dict:
    """The client's billing panel: totals per currency, unbilled time, a row per engagement and currency,
    and the invoices, as of `as_of` (default the clock's today)."""
    as_of = as_of or today()
    rows = engagement_billing(session, Engagement.client_id == client_id, as_of=as_of)
    return {
        "client_id": client_id,
        "as_of": as_of,
        "totals": [figures_dict(f) for f in totals_by_currency(rows)],
        "unbilled_hours": sum((r.unbilled_hours for r in rows), ZERO),
        "unbilled_value": sum((r.unbilled_value for r in rows), ZERO),
        "engagements": [
            {
                "engagement_id": row.engagement_id,
                "service_type": row.service_type,
                "description": row.description,
                "figures": [figures_dict(f) for f in row.figures],
                "unbilled_hours": row.unbilled_hours,
                "unbilled_value": row.unbilled_value,
            }
            for row in rows
        ],
        "invoices": client_invoices(session, client_id, as_of=as_of),
    }


def figures_dict(figures: Figures) -> dict:
    return {
        "currency": figures.currency,
        "billed": figures.billed,
        "paid": figures.paid,
        "outstanding": figures.outstanding,
        "overdue": figures.overdue,
    }

"""Billing rows straight in the database for the finance views' tests (engagements, time entries, invoices,
payments), until the billing domain's own functions make them. Each takes a Session and returns the flushed row."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from atrium import clock
from storage.billing import Invoice, Payment, TimeEntry
from storage.client_records import Engagement


def make_engagement(session: Session, client_id: int, **fields) -> Engagement:
    now = clock.now()
    values = {"service_type": "tax", "status": "active", "fee_basis": "fixed", **fields}
    engagement = Engagement(client_id=client_id, created_at=now, updated_at=now, **values)
    session.add(engagement)
    session.flush()
    return engagement


def make_invoice(
    session: Session, engagement: Engagement, number: str, total: str, *, tax: str = "0", **fields
) -> Invoice:
    """An issued invoice of `total` (tax included), issued and due on the given days (default: today, +30)."""
    now = clock.now()
    total_amount, tax_amount = Decimal(total), Decimal(tax)
    values = {
        "currency": "CNY",
        "issue_date": now.date(),
        "due_date": date.fromordinal(now.date().toordinal() + 30),
        "status": "issued",
        **fields,
    }
    invoice = Invoice(
        number=number,
        engagement_id=engagement.id,
        client_id=engagement.client_id,
        net_amount=total_amount - tax_amount,
        tax_amount=tax_amount,
        total_amount=total_amount,
        paid_amount=Decimal("0"),
        created_at=now,
        updated_at=now,
        **values,
    )
    session.add(invoice)
    session.flush()
    return invoice


def make_payment(session: Session, invoice: Invoice, amount: str, *, paid_on: date | None = None) -> Payment:
    """A payment on `invoice` (its paid_amount follows, as the billing domain keeps it)."""
    payment = Payment(
        invoice_id=invoice.id,
        client_id=invoice.client_id,
        amount=Decimal(amount),
        paid_on=paid_on or clock.now().date(),
        reference=f"bank {invoice.number}",
        recorded_at=clock.now(),
    )
    invoice.paid_amount = (invoice.paid_amount or Decimal("0")) + Decimal(amount)
    session.add(payment)
    session.flush()
    return payment


def make_time_entry(session: Session, engagement: Engagement, hours: str, **fields) -> TimeEntry:
    values = {"person": "amy", "work_date": clock.now().date(), "billable": True, "status": "approved", **fields}
    entry = TimeEntry(
        engagement_id=engagement.id,
        client_id=engagement.client_id,
        hours=Decimal(hours),
        recorded_at=clock.now(),
        **values,
    )
    session.add(entry)
    session.flush()
    return entry

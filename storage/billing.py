"""Time, invoice requests, invoices and payments: what an engagement has earned, what the finance system billed
and what the client paid (atrium/billing*.py holds the rules). Amounts are Numeric, never floats."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Numeric, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, BigId, UTCDateTime

# recorded: counts as it is; pending_approval: above the threshold, waiting on the responsible partner.
TIME_ENTRY_STATUSES = ("recorded", "pending_approval", "approved", "rejected")
INVOICE_REQUEST_STATUSES = ("requested", "invoiced", "cancelled")
INVOICE_STATUSES = ("issued", "cancelled")


class TimeEntry(Base):
    __tablename__ = "time_entries"
    __table_args__ = (
        Index("ix_time_entries_engagement_status", "engagement_id", "status"),
        Index("ix_time_entries_client", "client_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    engagement_id: Mapped[int] = mapped_column(BigId, ForeignKey("engagements.id", ondelete="CASCADE"))
    client_id: Mapped[int] = mapped_column(BigId, ForeignKey("clients.id", ondelete="CASCADE"))
    person: Mapped[str] = mapped_column(String(100))  # who did the work
    work_date: Mapped[date] = mapped_column(Date)
    hours: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    billable: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="recorded")
    instance_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)  # the approval, when one was needed
    invoice_request_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("invoice_requests.id"))
    recorded_by: Mapped[str | None] = mapped_column(String(100))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class InvoiceRequest(Base):
    """What Atrium asks the finance system to invoice: billable time, fixed fees and retainer drawdowns of one
    engagement, as lines `{kind, description, quantity, unit_amount, amount, time_entry_ids?}`."""

    __tablename__ = "invoice_requests"
    __table_args__ = (Index("ix_invoice_requests_engagement", "engagement_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    engagement_id: Mapped[int] = mapped_column(BigId, ForeignKey("engagements.id", ondelete="CASCADE"))
    client_id: Mapped[int] = mapped_column(BigId, ForeignKey("clients.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20), default="requested")
    currency: Mapped[str] = mapped_column(String(3))
    lines: Mapped[list] = mapped_column(JSON, default=list)
    total: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    requested_by: Mapped[str | None] = mapped_column(String(100))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Invoice(Base):
    """An invoice as the finance system issued it. `paid_amount` is the sum of its payments, kept with them."""

    __tablename__ = "invoices"
    __table_args__ = (
        Index("ix_invoices_client", "client_id"),
        Index("ix_invoices_engagement", "engagement_id"),
        Index("ix_invoices_due", "status", "due_date"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(String(50), unique=True)
    invoice_request_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("invoice_requests.id"))
    engagement_id: Mapped[int] = mapped_column(BigId, ForeignKey("engagements.id", ondelete="CASCADE"))
    client_id: Mapped[int] = mapped_column(BigId, ForeignKey("clients.id", ondelete="CASCADE"))
    currency: Mapped[str] = mapped_column(String(3))
    net_amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    tax_amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    total_amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    paid_amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    issue_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="issued")
    follow_up_id: Mapped[int | None] = mapped_column(BigId)  # the follow-up an overdue invoice started
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (Index("ix_payments_invoice", "invoice_id"), Index("ix_payments_client", "client_id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    invoice_id: Mapped[int] = mapped_column(BigId, ForeignKey("invoices.id", ondelete="CASCADE"))
    client_id: Mapped[int] = mapped_column(BigId, ForeignKey("clients.id", ondelete="CASCADE"))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    paid_on: Mapped[date] = mapped_column(Date)
    reference: Mapped[str | None] = mapped_column(String(100))
    recorded_by: Mapped[str | None] = mapped_column(String(100))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)

"""What the firm keeps about its work for a client: engagements, follow-ups, service requests,
complaints and feedback. Each row belongs to one client; process-driven rows name their instance."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    ColumnElement,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    Uuid,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, BigId, UTCDateTime

ENGAGEMENT_STATUSES = ("proposed", "active", "completed", "cancelled")
FEE_BASES = ("fixed", "hourly", "retainer", "contingency", "pro_bono")
CHANNELS = ("call", "visit", "meeting", "email", "video")
FOLLOW_UP_OUTCOMES = ("ok", "needs_action", "no_contact")
PRIORITIES = ("low", "normal", "high", "urgent")
REQUEST_STATUSES = ("new", "triaged", "assigned", "in_progress", "resolved", "closed", "cancelled")
SEVERITIES = ("low", "medium", "high", "critical")
COMPLAINT_STATUSES = ("registered", "acknowledged", "investigating", "resolution_proposed", "resolved", "closed")
FEEDBACK_SUBJECTS = ("engagement", "service_request", "complaint", "follow_up")


class Engagement(Base):
    __tablename__ = "engagements"
    __table_args__ = (Index("ix_engagements_client_status", "client_id", "status"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    service_type: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    responsible: Mapped[str | None] = mapped_column(String(100))
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="proposed")
    fee_basis: Mapped[str] = mapped_column(String(20), default="fixed")
    fee_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    # Parties on the other side: the conflict-of-interest check reads them.
    adverse_parties: Mapped[list] = mapped_column(JSON, default=list)
    instance_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class FollowUp(Base):
    __tablename__ = "follow_ups"
    __table_args__ = (Index("ix_follow_ups_client_planned", "client_id", "planned_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    planned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_by: Mapped[str | None] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(20), default="call")
    content: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(20))
    next_step: Mapped[str | None] = mapped_column(Text)
    instance_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ServiceRequest(Base):
    __tablename__ = "service_requests"
    __table_args__ = (
        Index("ix_service_requests_client_created", "client_id", "created_at"),
        Index("ix_service_requests_status_sla", "status", "sla_due_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    type: Mapped[str | None] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300))
    content: Mapped[str | None] = mapped_column(Text)
    priority: Mapped[str] = mapped_column(String(10), default="normal")
    status: Mapped[str] = mapped_column(String(20), default="new")
    source: Mapped[str] = mapped_column(String(20), default="staff")
    sla_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The SLA due time of each priority, fixed when the request was received ({priority: ISO datetime}):
    # triage sets `sla_due_at` to the one of the priority it decides.
    sla_due_times: Mapped[dict | None] = mapped_column(JSON)
    assignee: Mapped[str | None] = mapped_column(String(100))
    resolution: Mapped[str | None] = mapped_column(Text)
    rating: Mapped[int | None] = mapped_column(Integer)
    instance_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Complaint(Base):
    __tablename__ = "complaints"
    __table_args__ = (Index("ix_complaints_client_received", "client_id", "received_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    severity: Mapped[str] = mapped_column(String(10), default="medium")
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="registered")
    resolution: Mapped[str | None] = mapped_column(Text)
    satisfaction: Mapped[int | None] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When it must be acknowledged by, fixed when it was received (the escalation timer and the SLA
    # statistics read it; a later change of the setting does not move it).
    acknowledge_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when nobody acknowledged it in time: when, and which managers were told.
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_to: Mapped[str | None] = mapped_column(Text)
    # Every status change, in order: [{"status": ..., "at": ISO datetime}], for statistics.
    transitions: Mapped[list | None] = mapped_column(JSON)
    instance_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Never hard-deleted: a deleted complaint leaves lists and statistics but stays here.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_by: Mapped[str | None] = mapped_column(String(100))


class Feedback(Base):
    """A satisfaction rating (CSAT 1-5 and/or NPS 0-10) with a comment, linked to what it rates."""

    __tablename__ = "feedback"
    __table_args__ = (Index("ix_feedback_client_created", "client_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    csat: Mapped[int | None] = mapped_column(Integer)
    nps: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    subject_type: Mapped[str | None] = mapped_column(String(20))
    subject_id: Mapped[int | None] = mapped_column(BigId)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Never hard-deleted, like complaints.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_by: Mapped[str | None] = mapped_column(String(100))


# Kinds of record that are soft-deleted: queries for lists and statistics take only live rows.
SOFT_DELETED = (Complaint, Feedback)


def live(model) -> ColumnElement[bool]:
    """The condition for rows not deleted (always true for kinds that are deleted for real)."""
    return model.deleted_at.is_(None) if model in SOFT_DELETED else true()

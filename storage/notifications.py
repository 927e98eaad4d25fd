"""The notification outbox: every message the firm's people are sent, kept whether or not it was mailed."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Index, String, Text, Uuid, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from .accounts import Account
from .base import Base, BigId, UTCDateTime

QUEUED, SENT, FAILED = "queued", "sent", "failed"


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_recipient_created", "recipient", "created_at"),
        Index("ix_notifications_status", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(50))  # task_assigned, escalation, outcome, report
    recipient: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    # queued: kept in the outbox, mailed once SMTP is configured; sent; failed (error says why).
    status: Mapped[str] = mapped_column(String(10), default=QUEUED)
    error: Mapped[str | None] = mapped_column(Text)
    instance_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def add_notification(session: Session, *, kind: str, recipient: str | None, subject: str, body: str, now: datetime,
                     email: str | None = None, instance_id: uuid.UUID | None = None) -> Notification:
    """Put a message in the outbox, in the caller's transaction: it exists only if the change does."""
    if email is None and recipient:
        email = session.scalar(select(Account.email).where(Account.username == recipient))
    note = Notification(kind=kind, recipient=recipient, email=email, subject=subject[:300], body=body,
                        status=QUEUED, instance_id=instance_id, created_at=now)
    session.add(note)
    return note

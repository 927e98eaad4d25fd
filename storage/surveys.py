"""Surveys sent to a client's contact: what is rated, the form, the link's token digest and where the survey
stands (sent, reminded, answered). atrium/surveys.py holds the rules."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Uuid, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from .base import Base, BigId, UTCDateTime
from .clients import Client, Contact

# What a survey rates: a closed service request or complaint, or nothing (the periodic NPS).
SUBJECT_TYPES = ("service_request", "complaint")


class Survey(Base):
    """One survey mailed to one contact. The link's token is never stored: only its SHA-256 digest, so a
    copy of the table cannot answer anyone's survey."""

    __tablename__ = "surveys"
    __table_args__ = (
        Index("ix_surveys_client_sent", "client_id", "sent_at"),
        Index("ix_surveys_subject", "subject_type", "subject_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("contacts.id", ondelete="SET NULL"))
    subject_type: Mapped[str | None] = mapped_column(String(20))
    subject_id: Mapped[int | None] = mapped_column(BigId)
    form_key: Mapped[str] = mapped_column(String(100))
    locale: Mapped[str] = mapped_column(String(10))
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    instance_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    feedback_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("feedback.id", ondelete="SET NULL"))


def survey_by_digest(session: Session, *, token_digest: str, lock: bool = False) -> Survey | None:
    query = select(Survey).where(Survey.token_digest == token_digest)
    if lock:
        query = query.with_for_update()
    return session.scalars(query).first()


def clients_due_for_periodic(session: Session, *, form_key: str, asked_after: datetime) -> list[int]:
    """Active clients with a contact, made clients by `asked_after` and sent no periodic survey of `form_key`
    since then, by id: one query however many clients there are."""
    asked = select(Survey.id).where(
        Survey.client_id == Client.id,
        Survey.form_key == form_key,
        Survey.subject_type.is_(None),
        Survey.sent_at > asked_after,
    )
    has_contact = select(Contact.id).where(Contact.client_id == Client.id)
    return list(
        session.scalars(
            select(Client.id)
            .where(
                Client.status == "active",
                Client.deleted_at.is_(None),
                Client.created_at <= asked_after,
                has_contact.exists(),
                ~asked.exists(),
            )
            .order_by(Client.id)
        )
    )

"""Surveys sent to a client's contact: what is rated, the form, the link's token digest and where the survey
stands (sent, reminded, answered). atrium/surveys.py holds the rules."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Uuid, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from .base import Base, BigId, UTCDateTime

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


def last_sent_at(session: Session, *, client_id: int, form_key: str, subject_type: str | None) -> datetime | None:
    """When the client was last sent a survey of `form_key` about `subject_type` (None: a periodic one)."""
    kind = Survey.subject_type.is_(None) if subject_type is None else Survey.subject_type == subject_type
    return session.scalar(
        select(Survey.sent_at)
        .where(Survey.client_id == client_id, Survey.form_key == form_key, kind)
        .order_by(Survey.sent_at.desc())
        .limit(1)
    )

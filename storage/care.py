"""Relationship care: the dates a firm remembers about a client (birthdays, anniversaries, custom dates,
Gregorian or lunar) and what was done for each occasion (a greeting, a gift, a call), shown on the timeline."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, SmallInteger, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, BigId, UTCDateTime

CARE_DATE_KINDS = ("birthday", "founding_anniversary", "engagement_anniversary", "custom")
CALENDARS = ("gregorian", "lunar")
CARE_ACTIONS = ("greeting_mail", "gift", "call", "skipped")


class CareDate(Base):
    """A yearly date: month/day in the Gregorian or the Chinese lunar calendar (a lunar birthday is kept
    as its lunar month and day and converted to each year's Gregorian date)."""

    __tablename__ = "care_dates"
    __table_args__ = (Index("ix_care_dates_client", "client_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    # A contact's birthday names the contact; a date of the client itself (a person's birthday, the
    # founding anniversary) names none.
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))
    label: Mapped[str | None] = mapped_column(String(200))
    calendar: Mapped[str] = mapped_column(String(10), default="gregorian")
    month: Mapped[int] = mapped_column(SmallInteger)
    day: Mapped[int] = mapped_column(SmallInteger)
    # The year it began (born, founded), when known: "10th anniversary".
    year: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CareActivity(Base):
    """What the owner did for one occasion (or what a campaign sent): a row on the client's timeline."""

    __tablename__ = "care_activities"
    __table_args__ = (Index("ix_care_activities_client", "client_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    occasion: Mapped[str] = mapped_column(String(60))  # "birthday", "holiday:spring_festival", ...
    # Which occasion exactly ("care_date:12", "holiday:spring_festival"): a re-planned cycle skips one done.
    occasion_key: Mapped[str | None] = mapped_column(String(100))
    occasion_date: Mapped[str | None] = mapped_column(String(10))  # ISO date of the occasion
    action: Mapped[str] = mapped_column(String(20))
    notes: Mapped[str | None] = mapped_column(Text)
    # Whether a greeting mail was queued, and if not why (opted_out, no_email).
    mail_queued: Mapped[bool] = mapped_column(Boolean, default=False)
    mail_skipped: Mapped[str | None] = mapped_column(String(30))
    campaign: Mapped[str | None] = mapped_column(String(100))
    instance_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    done_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

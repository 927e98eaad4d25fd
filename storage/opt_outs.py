"""Opt-outs: a client, or one of its contacts, who asked not to be sent a kind of mail (atrium/opt_outs.py
holds the rules)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, BigId, UTCDateTime

# What a person may opt out of: satisfaction surveys, and greetings and other care mail.
TOPICS = ("surveys", "care_mail")
# Where the opt-out came from: the link in a mail, or a member of staff recording what was asked.
SOURCES = ("link", "staff")


class OptOut(Base):
    """One opt-out of a topic: by one contact (contact_id), or by the client as a whole (contact_id None,
    which covers its contacts too). At most one row per (client, contact, topic): opting out again is a
    no-op, opting back in deletes the row (the audit log keeps both)."""

    __tablename__ = "opt_outs"
    __table_args__ = (Index("ix_opt_outs_client_topic", "client_id", "topic"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("contacts.id", ondelete="CASCADE"))
    topic: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(10))
    opted_out_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str | None] = mapped_column(String(100))

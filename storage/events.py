"""The event outbox: one row per business change, written in the transaction of the change (atrium/events.py
writes them), read by the webhook and broker deliveries and by consumers who pull."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Index, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, BigId, UTCDateTime


class Event(Base):
    """One business change. `id` is what consumers deduplicate on (delivery is at-least-once); `position` orders
    all events as they were written; `sequence` numbers the events of one aggregate (a client and what hangs on
    it) from 1 without gaps, so a consumer can tell it missed one."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("aggregate_type", "aggregate_id", "sequence", name="uq_events_aggregate_sequence"),
        Index("ix_events_type_position", "type", "position"),
    )

    position: Mapped[int] = mapped_column(BigId, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    type: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    aggregate_type: Mapped[str] = mapped_column(String(50))
    aggregate_id: Mapped[str] = mapped_column(String(100))
    sequence: Mapped[int] = mapped_column(Integer)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str | None] = mapped_column(String(100))
    data: Mapped[dict] = mapped_column(JSON)

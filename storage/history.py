"""Append-only history of every step an instance takes: element, event, actor, time."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from .base import Base, BigId, UTCDateTime


class HistoryEntry(Base):
    __tablename__ = "history"
    __table_args__ = (Index("ix_history_instance_id", "instance_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    instance_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("process_instances.id", ondelete="CASCADE"))
    # Declared so the unit of work inserts the instance before rows that point at it.
    instance = relationship("ProcessInstance", lazy="raise_on_sql")
    element_id: Mapped[str | None] = mapped_column(String(200))
    element_name: Mapped[str | None] = mapped_column(String(300))
    element_type: Mapped[str | None] = mapped_column(String(100))
    event: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    detail: Mapped[dict | None] = mapped_column(JSON)


def instance_history(session: Session, *, instance_id: uuid.UUID) -> list[HistoryEntry]:
    return list(
        session.scalars(select(HistoryEntry).where(HistoryEntry.instance_id == instance_id).order_by(HistoryEntry.id))
    )

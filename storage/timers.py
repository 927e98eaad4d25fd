"""Due timers: BPMN timer events of instances, timer start events of definitions, and retries."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Uuid, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from .base import Base, BigId, UTCDateTime

EVENT, START, RETRY = "event", "start", "retry"


class Timer(Base):
    __tablename__ = "timers"
    __table_args__ = (Index("ix_timers_due_at", "due_at"), Index("ix_timers_instance", "instance_id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    instance_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("process_instances.id", ondelete="CASCADE"))
    # Declared so the unit of work inserts the instance before rows that point at it.
    instance = relationship("ProcessInstance", lazy="raise_on_sql")
    definition_id: Mapped[int | None] = mapped_column(ForeignKey("process_definitions.id", ondelete="CASCADE"))
    task_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    element_id: Mapped[str] = mapped_column(String(200))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # For timer start cycles: {"remaining": n or -1, "seconds": interval}
    cycle: Mapped[dict | None] = mapped_column(JSON)


def claim_due_timers(session: Session, *, now: datetime, limit: int) -> list[Timer]:
    """Lock up to `limit` due timers; other workers skip the locked rows (PostgreSQL)."""
    query = (
        select(Timer)
        .where(Timer.due_at <= now)
        .order_by(Timer.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(query))

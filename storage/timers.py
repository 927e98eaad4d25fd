"""Due timers: BPMN timer events of instances, timer start events of definitions, and retries."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Uuid, delete, select, update
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


def claim_due_timers(session: Session, *, now: datetime, limit: int) -> list:
    """Lock up to `limit` due timer rows; other workers skip the locked rows (PostgreSQL)."""
    table = Timer.__table__
    query = (
        select(table)
        .where(table.c.due_at <= now)
        .order_by(table.c.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.execute(query))


def delete_timer(session: Session, *, timer_id: int) -> None:
    session.execute(delete(Timer.__table__).where(Timer.__table__.c.id == timer_id))


def postpone_timer(session: Session, *, timer_id: int, due_at: datetime, cycle: dict | None = None) -> None:
    values = {"due_at": due_at} if cycle is None else {"due_at": due_at, "cycle": cycle}
    session.execute(update(Timer.__table__).where(Timer.__table__.c.id == timer_id).values(**values))

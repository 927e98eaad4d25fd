"""Process instances (state + optimistic lock version) and their incidents."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, Uuid, select, update
from sqlalchemy.orm import Mapped, Session, deferred, mapped_column, relationship

from .base import Base, UTCDateTime

ACTIVE, COMPLETED, CANCELLED, ERROR = "active", "completed", "cancelled", "error"


class ProcessInstance(Base):
    __tablename__ = "process_instances"
    __table_args__ = (
        Index("ix_process_instances_key_status", "process_key", "status"),
        Index("ix_process_instances_business_key", "business_key"),
        Index("ix_process_instances_status_started", "status", "started_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definitions.id"), index=True)
    process_key: Mapped[str] = mapped_column(String(200))
    business_key: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default=ACTIVE)
    # zlib-compressed JSON of the SpiffWorkflow state, without the spec and with
    # finished history pruned: it stays the same size however long the instance lives.
    state: Mapped[bytes] = deferred(mapped_column(LargeBinary))
    lock_version: Mapped[int] = mapped_column(Integer, nullable=False)
    started_by: Mapped[str | None] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __mapper_args__ = {"version_id_col": lock_version}


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_instance_open", "instance_id", "resolved_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("process_instances.id", ondelete="CASCADE"))
    # Declared so the unit of work inserts the instance before rows that point at it.
    instance = relationship("ProcessInstance", lazy="raise_on_sql")
    element_id: Mapped[str | None] = mapped_column(String(200))
    element_name: Mapped[str | None] = mapped_column(String(300))
    message: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def open_incidents(session: Session, *, instance_id: uuid.UUID) -> list[Incident]:
    return list(
        session.scalars(
            select(Incident)
            .where(Incident.instance_id == instance_id, Incident.resolved_at.is_(None))
            .order_by(Incident.id)
        )
    )


def set_business_key(session: Session, *, instance_id: uuid.UUID, business_key: str) -> bool:
    """Give a running instance the business key it could not have at its start (e.g. the client
    it created): the engine's step never writes the key, so this change stands. False if the
    instance is not saved yet (its first step)."""
    table = ProcessInstance.__table__
    result = session.execute(update(table).where(table.c.id == instance_id).values(business_key=business_key[:200]))
    return result.rowcount == 1

"""Message subscriptions: which instances (or definitions, for message starts) wait for which message."""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, Index, String, Uuid, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from .base import Base, BigId


class MessageSubscription(Base):
    __tablename__ = "message_subscriptions"
    __table_args__ = (
        Index("ix_message_subscriptions_name", "message_name"),
        Index("ix_message_subscriptions_instance", "instance_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_name: Mapped[str] = mapped_column(String(200))
    instance_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("process_instances.id", ondelete="CASCADE"))
    # Declared so the unit of work inserts the instance before rows that point at it.
    instance = relationship("ProcessInstance", lazy="raise_on_sql")
    definition_id: Mapped[int | None] = mapped_column(ForeignKey("process_definitions.id", ondelete="CASCADE"))
    task_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    element_id: Mapped[str] = mapped_column(String(200))


def subscriptions_for(session: Session, *, message_name: str) -> list[MessageSubscription]:
    return list(
        session.scalars(
            select(MessageSubscription)
            .where(MessageSubscription.message_name == message_name)
            .order_by(MessageSubscription.id)
        )
    )

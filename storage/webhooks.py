"""Event delivery out of the outbox (atrium/webhooks.py, atrium/amqp.py): webhook subscriptions and their
deliveries, and the broker publisher's cursor."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, BigId, UTCDateTime

DELIVERY_STATUSES = ("pending", "delivered", "dead", "skipped")


class WebhookSubscription(Base):
    """An HTTPS endpoint that receives the events of `event_types` (["*"]: all). Its signing secret is stored
    wrapped by the master key (`secret_kek_id`), shown once at creation and at each rotation.
    `fanned_out_position`: the events up to this position have their deliveries (or did not match)."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    event_types: Mapped[list] = mapped_column(JSON)
    secret_sealed: Mapped[str | None] = mapped_column("secret", String(300))
    secret_kek_id: Mapped[str | None] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    fanned_out_position: Mapped[int] = mapped_column(BigInteger, default=0)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WebhookDelivery(Base):
    """One event to one subscription: pending (to try at `next_attempt_at`), delivered, dead (out of tries:
    it blocks its aggregate's later deliveries to this subscription until resent or skipped) or skipped."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_position", name="uq_webhook_deliveries_subscription_event"),
        Index("ix_webhook_deliveries_status_next", "status", "next_attempt_at"),
        Index(
            "ix_webhook_deliveries_aggregate",
            "subscription_id",
            "aggregate_type",
            "aggregate_id",
            "event_position",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"))
    event_position: Mapped[int] = mapped_column(BigInteger)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    event_type: Mapped[str] = mapped_column(String(100))
    aggregate_type: Mapped[str] = mapped_column(String(50))
    aggregate_id: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class EventPublication(Base):
    """A publisher's cursor (`name` "amqp"): every event up to `position` was confirmed by the broker."""

    __tablename__ = "event_publications"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def rewrap_webhook_secrets(session, *, batch: int) -> int:
    """Master-key rotation (storage/crypto.py `rotate`): re-seal up to `batch` subscriptions' signing secrets
    not sealed by the current master key; how many were."""
    from sqlalchemy import select

    from . import crypto

    ring = crypto.keyring()
    rows = session.scalars(
        select(WebhookSubscription)
        .where(WebhookSubscription.secret_kek_id != ring.current_id, WebhookSubscription.secret_sealed.is_not(None))
        .order_by(WebhookSubscription.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
    ).all()
    for row in rows:
        aad = crypto.value_aad("webhook_subscriptions", row.id, "secret")
        secret = crypto.unseal(row.secret_sealed, row.secret_kek_id, aad, what=f"webhook {row.id}'s secret")
        row.secret_sealed, row.secret_kek_id = crypto.seal(secret, aad)
    return len(rows)

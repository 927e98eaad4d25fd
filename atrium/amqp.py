"""The outbox's events to a message broker (RabbitMQ, AMQP 0-9-1) when ATRIUM_AMQP_URL is set.

Each event is published to the durable topic exchange ATRIUM_AMQP_EXCHANGE (default `atrium.events`) with
the event type as routing key (`client.created`; bind `client.*` or `#`), persistent, `message_id` = the
event's id, `content_type` application/json, the body the same envelope webhooks and `GET /api/events`
give. Publisher confirms: an event counts as published only once the broker confirmed it.

The publisher's cursor (`event_publications` row "amqp") is the position up to which the broker confirmed
every event. It moves after the confirms, in the database, so a crash between publishing and writing the
cursor publishes those events again (at least once: consumers deduplicate on `message_id`) but never skips
one. One publisher at a time, in position order: the cursor row is claimed `FOR UPDATE SKIP LOCKED` for the
batch (another scheduler process finding it locked does nothing this poll). Events are published only up to
the safe position (atrium/webhooks.py `safe_position`), below which no transaction can still commit an
event: a lower position committing after a higher one is not skipped. A broker that is down publishes
nothing and moves nothing; the next poll starts again from the cursor."""

from __future__ import annotations

import json
import logging

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from atrium import audit, clock, events
from atrium.webhooks import safe_position
from storage.events import Event
from storage.webhooks import EventPublication

log = logging.getLogger(__name__)

CURSOR = "amqp"
BATCH = 500


def _cursor(session) -> EventPublication | None:
    """The cursor row, locked for this publisher; None when another publisher holds it."""
    query = select(EventPublication).where(EventPublication.name == CURSOR)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    row = session.scalar(query)
    if row is not None:
        return row
    exists = session.scalar(select(EventPublication.name).where(EventPublication.name == CURSOR))
    if exists:
        return None  # locked by the other publisher
    try:
        with session.begin_nested():
            session.add(EventPublication(name=CURSOR, position=0, updated_at=clock.now()))
    except IntegrityError:  # another publisher made it at the same moment
        return None
    return session.scalar(query)


def connect(url: str):
    import pika

    parameters = pika.URLParameters(url)
    parameters.socket_timeout = 5
    parameters.blocked_connection_timeout = 10
    parameters.connection_attempts = 1
    return pika.BlockingConnection(parameters)


def declare(channel, exchange: str) -> None:
    channel.exchange_declare(exchange=exchange, exchange_type="topic", durable=True)


def publish_events(engine, *, batch: int = BATCH) -> int:
    """Publish the events after the cursor, in order, up to `batch`; how many the broker confirmed."""
    import pika

    settings = engine.settings
    if not settings.amqp_url:
        return 0
    with engine.transaction() as session:  # nothing new: no need to wait for writers
        newest = session.scalar(select(func.max(Event.position))) or 0
        published = session.scalar(select(EventPublication.position).where(EventPublication.name == CURSOR))
    if newest <= (published or 0):
        return 0
    upto = safe_position(engine)
    if upto is None:
        return 0
    with engine.transaction() as session:
        cursor = _cursor(session)
        if cursor is None or cursor.position >= upto:
            return 0
        start = cursor.position
        found = session.scalars(
            select(Event).where(Event.position > start, Event.position <= upto).order_by(Event.position).limit(batch)
        ).all()
        confirmed = start
        count = 0
        error = None
        if found:
            try:
                connection = connect(settings.amqp_url)
            except Exception as exc:  # broker down or unreachable: nothing published, the cursor stays
                log.warning("AMQP broker unreachable: %s", exc)
                return 0
            try:
                channel = connection.channel()
                channel.confirm_delivery()
                declare(channel, settings.amqp_exchange)
                for event in found:
                    envelope = events.envelope(event)
                    channel.basic_publish(
                        exchange=settings.amqp_exchange,
                        routing_key=event.type,
                        body=json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode(),
                        properties=pika.BasicProperties(
                            content_type="application/json",
                            delivery_mode=pika.DeliveryMode.Persistent,
                            message_id=str(event.id),
                            type=event.type,
                            timestamp=int(event.occurred_at.timestamp()),
                            headers={"aggregate_type": event.aggregate_type, "aggregate_id": event.aggregate_id},
                        ),
                    )  # returns once the broker confirmed it; raises if it refused it
                    confirmed, count = event.position, count + 1
            except Exception as exc:  # broker lost mid-batch: keep what was confirmed, retry the rest later
                error = f"{type(exc).__name__}: {exc}"[:500]
                log.warning("AMQP publishing stopped after position %s: %s", confirmed, error)
            finally:
                try:
                    connection.close()
                except Exception:  # noqa: S110 - already closed by the broker
                    pass
        # Nothing matched up to `upto` but rolled-back gaps: the cursor still moves past them.
        reached = confirmed if (error or len(found) == batch) else (upto if count == len(found) else confirmed)
        if reached > start:
            cursor.position, cursor.updated_at = reached, clock.now()
            audit.record(
                session,
                "events.publish",
                actor="scheduler",
                target=f"event_publication:{CURSOR}",
                detail={"published": count, "positions": [start + 1, reached], **({"error": error} if error else {})},
            )
    return count

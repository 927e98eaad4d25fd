"""The transactional outbox. A domain function that makes a business change calls `emit` beside its
`audit.record`, in the same transaction: the change, its audit row and its event commit together or not at
all, so the finance system can neither miss a change nor hear of one that rolled back. Deliveries
(webhooks, the message broker) read the rows afterwards; delivery is at least once, so consumers
deduplicate on the event's `id`.

Each event type has a JSON Schema per version in `atrium/event_types/<type>.v<N>.json`, listed at
`/api/event-types`; `emit` refuses data its schema does not accept (a programming error, not bad input).
Events are numbered per aggregate (`sequence`): everything about one client is one aggregate, so a
consumer receives a client's events in order and can tell when one is missing."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from atrium import clock
from storage.clients import Client
from storage.events import Event

TYPES_DIR = Path(__file__).with_name("event_types")


@dataclass(frozen=True)
class EventType:
    name: str
    version: int
    schema: dict

    @property
    def description(self) -> str:
        return self.schema.get("description", "")


@cache
def event_types() -> dict[str, EventType]:
    """The newest version of each event type, by name (files `<type>.v<N>.json`)."""
    newest: dict[str, EventType] = {}
    for path in sorted(TYPES_DIR.glob("*.v*.json")):
        name, _, version = path.name.removesuffix(".json").rpartition(".v")
        schema = json.loads(path.read_text(encoding="utf-8"))
        jsonschema.Draft202012Validator.check_schema(schema)
        found = EventType(name, int(version), schema)
        if name not in newest or found.version > newest[name].version:
            newest[name] = found
    return newest


@cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(event_types()[name].schema)


def plain(value: Any) -> Any:
    """`value` as JSON has it: amounts as strings (exact), dates and times in ISO 8601."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def emit(
    session: Session,
    type_: str,
    *,
    aggregate: tuple[str, int | str],
    data: dict,
    actor: str | None,
    first: bool = False,
) -> uuid.UUID:
    """Write one event of `type_` about `aggregate` (`("client", 42)`) in `session`'s transaction; returns its id.
    `first`: the aggregate was created in this transaction (a new client), so this is its event 1 and the
    lookup of its last number is saved (an import writes thousands). A client's events are numbered under
    its row lock; for other aggregates, two transactions numbering one at once: the second fails the unique
    sequence on commit (a 409 to its caller). Either way the numbers stay gapless."""
    kind = event_types().get(type_)
    if kind is None:
        raise LookupError(f"no event type {type_!r} in {TYPES_DIR}")
    data = plain(data)
    error = jsonschema.exceptions.best_match(_validator(type_).iter_errors(data))
    if error is not None:
        raise ValueError(f"event {type_} does not match its schema at {error.json_path}: {error.message}")
    aggregate_type, aggregate_id = aggregate[0], str(aggregate[1])
    last = None
    if not first:
        if aggregate_type == "client":
            # Two people recording on one client at once wait for each other here rather than one of them
            # failing the unique number on commit (the client's row lock is held until commit).
            session.execute(select(Client.id).where(Client.id == int(aggregate_id)).with_for_update())
        last = session.scalar(
            select(func.max(Event.sequence)).where(
                Event.aggregate_type == aggregate_type, Event.aggregate_id == aggregate_id
            )
        )
    event_id = uuid.uuid4()
    session.execute(
        _INSERT,
        {
            "id": event_id,
            "type": type_,
            "version": kind.version,
            "aggregate_type": aggregate_type,
            "aggregate_id": aggregate_id,
            "sequence": (last or 0) + 1,
            "occurred_at": clock.now(),
            "actor": actor,
            "data": data,
        },
    )
    return event_id


# Core, not the ORM: one statement per event, as the audit rows are written (atrium/audit.py).
_INSERT = insert(Event.__table__)


def envelope(event: Event) -> dict:
    """An event as consumers receive it, by webhook, from the broker or from `GET /api/events`."""
    return {
        "id": str(event.id),
        "type": event.type,
        "version": event.version,
        "occurred_at": event.occurred_at.isoformat(),
        "aggregate": {"type": event.aggregate_type, "id": event.aggregate_id, "sequence": event.sequence},
        "position": event.position,
        "actor": event.actor,
        "data": event.data,
    }


# What an erased client's events keep: identifiers and codes, never what could name a person.
_KEPT_ON_ERASURE = frozenset(
    {
        "client_id",
        "engagement_id",
        "invoice_id",
        "invoice_request_id",
        "payment_id",
        "time_entry_id",
        "request_id",
        "complaint_id",
        "status",
        "tier",
        "kind",
        "currency",
        "erased_at",
    }
)


def scrub_client(session: Session, client_id: int) -> int:
    """Erasure (atrium/erasure.py): reduce the client's past events to identifiers, as its audit rows are.
    Consumers were told by `client.erased` to do the same. Returns how many events were scrubbed."""
    events = session.scalars(
        select(Event).where(Event.aggregate_type == "client", Event.aggregate_id == str(client_id))
    ).all()
    for event in events:
        kept = {k: v for k, v in event.data.items() if k in _KEPT_ON_ERASURE}
        if kept != event.data:
            session.execute(update(Event).where(Event.position == event.position).values(data=kept))
    return len(events)

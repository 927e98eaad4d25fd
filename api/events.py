"""The event outbox from outside: the event types and their schemas, and the events themselves for a
consumer that pulls (`GET /api/events?after=<position>`) instead of receiving webhooks."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy import select

from atrium import events
from storage.events import Event

from .clients import process_engine
from .docs import errors
from .permissions import requires_scope
from .schema_base import Schema

blp = Blueprint("events", __name__, url_prefix="/api", description="Business events for finance and ERP systems")


class EventTypeSchema(Schema):
    name = fields.String()
    version = fields.Integer()
    description = fields.String()
    schema = fields.Dict(metadata={"description": "the JSON Schema (draft 2020-12) of the event's `data`"})


class EventListQuery(Schema):
    after = fields.Integer(
        load_default=0, validate=validate.Range(min=0, max=2**62), metadata={"description": "a position"}
    )
    type = fields.String(validate=validate.Length(max=100))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class AggregateSchema(Schema):
    type = fields.String()
    id = fields.String()
    sequence = fields.Integer(metadata={"description": "1, 2, 3... per aggregate, without gaps"})


class EventSchema(Schema):
    id = fields.String(metadata={"description": "deduplicate on this: delivery is at least once"})
    type = fields.String()
    version = fields.Integer()
    occurred_at = fields.String()
    aggregate = fields.Nested(AggregateSchema)
    position = fields.Integer()
    actor = fields.String(allow_none=True)
    data = fields.Dict()


class EventPageSchema(Schema):
    events = fields.List(fields.Nested(EventSchema))
    last_position = fields.Integer(metadata={"description": "ask for `after` this next time"})


@blp.route("/event-types")
class EventTypes(MethodView):
    @requires_scope("events:read", "events:read")
    @blp.response(200, EventTypeSchema(many=True))
    @errors(blp)
    def get(self):
        """Every event type Atrium emits, with the JSON Schema of its newest version."""
        return [
            {"name": t.name, "version": t.version, "description": t.description, "schema": t.schema}
            for t in sorted(events.event_types().values(), key=lambda t: t.name)
        ]


@blp.route("/events")
class Events(MethodView):
    @requires_scope("events:read", "events:read")
    @blp.arguments(EventListQuery, location="query")
    @blp.response(200, EventPageSchema)
    @errors(blp, 422)
    def get(self, query):
        """Events after a position, oldest first: a consumer stores the last position it handled and asks for
        what came after. Deduplicate on `id`."""
        statement = select(Event).where(Event.position > query["after"])
        if query.get("type"):
            statement = statement.where(Event.type == query["type"])
        with process_engine().transaction() as session:
            rows = session.scalars(statement.order_by(Event.position).limit(query["limit"])).all()
            return {
                "events": [events.envelope(e) for e in rows],
                "last_position": rows[-1].position if rows else query["after"],
            }

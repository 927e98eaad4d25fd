"""Messages: correlate a named message to the instances waiting for it."""

from __future__ import annotations

from flask import current_app, g
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy import exists, select

from atrium.clients import check_client_business_key
from atrium.errors import InvalidInput
from engine.messages import correlate_message
from storage.instances import ProcessInstance

from .body_limits import limits_body
from .clients import owners_visible_to_caller
from .docs import errors
from .instances import visible_instances_condition
from .permissions import requires
from .schema_base import Schema

blp = Blueprint("messages", __name__, url_prefix="/api/messages", description="Messages")


class MessageSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    correlation_keys = fields.Dict(
        keys=fields.String(),
        load_default=dict,
        metadata={"description": "business_key and/or process variables to match"},
    )
    payload = fields.Dict(keys=fields.String(), load_default=dict)


class DeliverySchema(Schema):
    instance_id = fields.UUID()
    process_key = fields.String()
    started = fields.Boolean(metadata={"description": "true when the message started a new instance"})


class DeliveriesSchema(Schema):
    reached = fields.List(fields.Nested(DeliverySchema))


@blp.route("", methods=["POST"])
@requires("messages:send")
@limits_body
@blp.arguments(MessageSchema)
@blp.response(200, DeliveriesSchema)
@errors(blp, 404, 409, 413, 422)
def send_message(message):
    """Deliver a message; 404 when no instance or start event waits for it. A `client:N` business key
    must name a client you may see (422).

    The payload may not set the process's control variables (422 naming them), and it and the
    correlation keys are each at most ATRIUM_MAX_DATA_BYTES of JSON."""
    engine = current_app.extensions["atrium.engine"]
    with engine.transaction() as session:
        _refuse_invisible_client_key(session, message["correlation_keys"].get("business_key"))
        reached = correlate_message(
            engine,
            session,
            name=message["name"],
            payload=message["payload"],
            correlation_keys=message["correlation_keys"],
            actor=g.account.username,
            may_reach=_visible_to_caller(session),
        )
        return {"reached": reached}


def _refuse_invisible_client_key(session, business_key) -> None:
    """A `client:N` business key must name a client the sender may see, as on start: otherwise which
    instances it reached would tell whether another team's client exists."""
    if not isinstance(business_key, str):
        return
    try:
        check_client_business_key(session, business_key, owners_visible_to_caller(session))
    except InvalidInput as exc:
        raise InvalidInput(exc.detail, {"correlation_keys.business_key": exc.errors["business_key"]}) from None


def _visible_to_caller(session):
    """Whether the sender may see an instance: a message reaches only those, so neither its answer
    nor its effect tells anything of instances the sender's own endpoints hide (None: all)."""
    condition = visible_instances_condition(session)
    if condition is None:
        return None
    return lambda instance_id: bool(
        session.scalar(select(exists().where(ProcessInstance.id == instance_id, condition)))
    )

"""Webhook subscriptions over HTTP (admins): create (the signing secret is shown once), change, pause,
delete, rotate the secret, read deliveries (dead letters among them), resend or skip them. The rules are
atrium/webhooks.py's."""

from __future__ import annotations

from flask import current_app, g
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy import select

from atrium import webhooks
from storage.webhooks import DELIVERY_STATUSES, WebhookSubscription

from .clients import process_engine
from .docs import errors
from .pagination import PageArgs, envelope, page_schema
from .permissions import requires
from .schema_base import Schema

blp = Blueprint("webhooks", __name__, url_prefix="/api/webhooks", description="Webhook subscriptions (admins)")

EVENT_TYPES = fields.List(
    fields.String(validate=validate.Length(min=1, max=100)),
    validate=validate.Length(min=1, max=100),
    metadata={"description": 'event types (GET /api/event-types), or ["*"] for all'},
)


class WebhookCreateSchema(Schema):
    url = fields.String(
        required=True,
        validate=validate.Length(min=1, max=2000),
        metadata={"description": "https; not a private, loopback or link-local address"},
    )
    event_types = fields.List(EVENT_TYPES.inner, required=True, validate=EVENT_TYPES.validate)
    active = fields.Boolean(load_default=True)


class WebhookUpdateSchema(Schema):
    url = fields.String(validate=validate.Length(min=1, max=2000))
    event_types = fields.List(EVENT_TYPES.inner, validate=EVENT_TYPES.validate)
    active = fields.Boolean(metadata={"description": "false pauses it; resumed, it receives what it missed"})


class WebhookSubscriptionSchema(Schema):
    id = fields.Integer(required=True)
    url = fields.String(required=True)
    event_types = fields.List(fields.String(), required=True)
    active = fields.Boolean(required=True)
    created_by = fields.String(allow_none=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class WebhookWithSecretSchema(WebhookSubscriptionSchema):
    secret = fields.String(
        required=True, metadata={"description": "signs each delivery (Atrium-Signature); shown this once only"}
    )


class WebhookListSchema(Schema):
    items = fields.List(fields.Nested(WebhookSubscriptionSchema), required=True)


class WebhookDeliverySchema(Schema):
    id = fields.Integer(required=True)
    event_id = fields.String(required=True)
    event_position = fields.Integer(required=True)
    event_type = fields.String(required=True)
    aggregate_type = fields.String(required=True)
    aggregate_id = fields.String(required=True)
    status = fields.String(required=True, metadata={"description": ", ".join(DELIVERY_STATUSES)})
    attempts = fields.Integer(required=True)
    next_attempt_at = fields.DateTime(required=True)
    last_status_code = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime(required=True)


DeliveryPage = page_schema(WebhookDeliverySchema, "WebhookDeliveryPage")


class WebhookDeliveryArgs(PageArgs):
    status = fields.String(validate=validate.OneOf(DELIVERY_STATUSES))


class WebhookResentSchema(Schema):
    resent = fields.Integer(required=True)


def _settings():
    return current_app.extensions["atrium.settings"]


def _with_secret(subscription, secret: str) -> dict:
    return {**{name: getattr(subscription, name) for name in WebhookSubscriptionSchema().fields}, "secret": secret}


@blp.route("", methods=["GET"])
@requires("webhooks:manage")
@blp.response(200, WebhookListSchema)
@errors(blp)
def list_subscriptions():
    """Every subscription (never its secret)."""
    with process_engine().transaction() as session:
        return {"items": list(session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id)))}


@blp.route("", methods=["POST"])
@requires("webhooks:manage")
@blp.arguments(WebhookCreateSchema)
@blp.response(201, WebhookWithSecretSchema)
@errors(blp, 422)
def create_subscription(data):
    """Subscribe an HTTPS endpoint to event types; it receives the events emitted from now on. The answer
    holds the signing secret: store it, it is not shown again (rotate it to get a new one)."""
    with process_engine().transaction() as session:
        subscription, secret = webhooks.create(session, **data, actor=g.account.username, settings=_settings())
        return _with_secret(subscription, secret)


@blp.route("/<id:subscription_id>", methods=["GET"])
@requires("webhooks:manage")
@blp.response(200, WebhookSubscriptionSchema)
@errors(blp, 404)
def get_subscription(subscription_id):
    """One subscription, with its URL, event types and state (never its secret)."""
    with process_engine().transaction() as session:
        return webhooks.subscription_or_raise(session, subscription_id)


@blp.route("/<id:subscription_id>", methods=["PATCH"])
@requires("webhooks:manage")
@blp.arguments(WebhookUpdateSchema)
@blp.response(200, WebhookSubscriptionSchema)
@errors(blp, 404, 422)
def update_subscription(data, subscription_id):
    """Change the URL or event types, or pause (`active: false`) and resume."""
    with process_engine().transaction() as session:
        return webhooks.update_subscription(
            session, subscription_id, data, actor=g.account.username, settings=_settings()
        )


@blp.route("/<id:subscription_id>", methods=["DELETE"])
@requires("webhooks:manage")
@blp.response(204)
@errors(blp, 404)
def delete_subscription(subscription_id):
    """Unsubscribe: its pending deliveries are dropped."""
    with process_engine().transaction() as session:
        webhooks.delete(session, subscription_id, actor=g.account.username)


@blp.route("/<id:subscription_id>/rotate-secret", methods=["POST"])
@requires("webhooks:manage")
@blp.response(200, WebhookWithSecretSchema)
@errors(blp, 404)
def rotate_secret(subscription_id):
    """A new signing secret, shown this once; deliveries are signed with it from now on."""
    with process_engine().transaction() as session:
        subscription, secret = webhooks.rotate_secret(session, subscription_id, actor=g.account.username)
        return _with_secret(subscription, secret)


@blp.route("/<id:subscription_id>/deliveries", methods=["GET"])
@requires("webhooks:manage")
@blp.arguments(WebhookDeliveryArgs, location="query")
@blp.response(200, DeliveryPage)
@errors(blp, 404, 422)
def list_deliveries(args, subscription_id):
    """The subscription's deliveries, newest event first; `status=dead` lists the dead letters."""
    size = args["page_size"]
    with process_engine().transaction() as session:
        total, rows = webhooks.list_deliveries(
            session, subscription_id, status=args.get("status"), limit=size, offset=(args["page"] - 1) * size
        )
        return envelope(list(rows), total, args)


@blp.route("/<id:subscription_id>/deliveries/<id:delivery_id>/resend", methods=["POST"])
@requires("webhooks:manage")
@blp.response(200, WebhookDeliverySchema)
@errors(blp, 404, 409)
def resend_delivery(subscription_id, delivery_id):
    """Try a dead, skipped or delivered delivery again, from its first attempt, at the next poll."""
    with process_engine().transaction() as session:
        return webhooks.resend(session, subscription_id, delivery_id, actor=g.account.username)


@blp.route("/<id:subscription_id>/deliveries/<id:delivery_id>/skip", methods=["POST"])
@requires("webhooks:manage")
@blp.response(200, WebhookDeliverySchema)
@errors(blp, 404, 409)
def skip_delivery(subscription_id, delivery_id):
    """Give up on a dead delivery so the later events of its aggregate (client) go on."""
    with process_engine().transaction() as session:
        return webhooks.skip(session, subscription_id, delivery_id, actor=g.account.username)


@blp.route("/<id:subscription_id>/deliveries/resend-dead", methods=["POST"])
@requires("webhooks:manage")
@blp.response(200, WebhookResentSchema)
@errors(blp, 404)
def resend_dead(subscription_id):
    """Every dead delivery of the subscription pending again."""
    with process_engine().transaction() as session:
        return {"resent": webhooks.resend_dead(session, subscription_id, actor=g.account.username)}

"""Integration accounts (machine clients such as a finance system) and their API keys: admins only.
A key is shown once, in the answer that makes it; lists show its public `key_id` only."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy import func, select

from atrium import clock
from atrium import integration_accounts as service
from storage.integration_accounts import ApiKey, IntegrationAccount

from .docs import errors
from .idempotency import idempotent
from .pagination import PageArgs, envelope, page_query, page_schema
from .permissions import requires
from .schema_base import Schema

blp = Blueprint(
    "integration_accounts",
    __name__,
    url_prefix="/api/integration-accounts",
    description="Integration accounts: machine clients and their API keys (admins)",
)


class ApiKeySchema(Schema):
    id = fields.Integer(dump_only=True)
    key_id = fields.String(dump_only=True, metadata={"description": "Public: the key is atr_<key_id>_<secret>"})
    prefix = fields.Method("_prefix", dump_only=True, metadata={"description": "atr_<key_id>_ : to recognise it"})
    created_by = fields.String(dump_only=True, allow_none=True)
    created_at = fields.DateTime(dump_only=True)
    last_used_at = fields.DateTime(
        dump_only=True, allow_none=True, metadata={"description": "Recorded at most once a minute"}
    )
    revoked_at = fields.DateTime(dump_only=True, allow_none=True)
    expires_at = fields.DateTime(dump_only=True, allow_none=True)
    usable = fields.Method("_usable", dump_only=True, metadata={"description": "Neither revoked nor expired"})

    def _prefix(self, key):
        return f"{service.KEY_PREFIX}{key.key_id}_"

    def _usable(self, key):
        return key.revoked_at is None and (key.expires_at is None or key.expires_at > clock.now())


class NewKeySchema(ApiKeySchema):
    key = fields.String(
        dump_only=True,
        metadata={"description": "The whole key, atr_<key_id>_<secret>: shown this once, only its hash is kept"},
    )


class IntegrationSchema(Schema):
    name = fields.String(dump_only=True)
    description = fields.String(dump_only=True, allow_none=True)
    scopes = fields.List(fields.String(), dump_only=True)
    active = fields.Boolean(dump_only=True)
    created_by = fields.String(dump_only=True, allow_none=True)
    created_at = fields.DateTime(dump_only=True)
    keys = fields.List(fields.Nested(ApiKeySchema), dump_only=True)


class NewIntegrationSchema(Schema):
    name = fields.String(required=True, validate=validate.Regexp(service.NAME.pattern))
    description = fields.String(allow_none=True, validate=validate.Length(max=2000))
    scopes = fields.List(
        fields.String(validate=validate.OneOf(service.SCOPES)),
        required=True,
        validate=validate.Length(min=1, max=len(service.SCOPES)),
    )
    key_expires_at = fields.AwareDateTime(
        allow_none=True, metadata={"description": "When the first key stops working (default: when revoked)"}
    )


class CreatedIntegrationSchema(IntegrationSchema):
    key = fields.Nested(NewKeySchema, dump_only=True)


class IntegrationUpdateSchema(Schema):
    description = fields.String(validate=validate.Length(max=2000))
    scopes = fields.List(
        fields.String(validate=validate.OneOf(service.SCOPES)), validate=validate.Length(min=1, max=len(service.SCOPES))
    )
    active = fields.Boolean(metadata={"description": "false: every key of the integration stops working at once"})


class NewKeyRequestSchema(Schema):
    expires_at = fields.AwareDateTime(allow_none=True, metadata={"description": "When the key stops working"})


IntegrationPage = page_schema(IntegrationSchema, "IntegrationPage")


def _engine():
    return current_app.extensions["atrium.engine"]


def _keys(session, integration: IntegrationAccount) -> list[ApiKey]:
    return list(
        session.scalars(select(ApiKey).where(ApiKey.integration_account_id == integration.id).order_by(ApiKey.id))
    )


def _body(session, integration: IntegrationAccount) -> dict:
    return {
        "name": integration.name,
        "description": integration.description,
        "scopes": list(integration.scopes or []),
        "active": integration.active,
        "created_by": integration.created_by,
        "created_at": integration.created_at,
        "keys": _keys(session, integration),
    }


@blp.route("")
class Integrations(MethodView):
    @requires("integrations:manage")
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, IntegrationPage)
    @errors(blp, 422)
    def get(self, args):
        """List integration accounts with their keys (never a key's secret)."""
        with _engine().transaction() as session:
            rows, total = page_query(
                session,
                select(IntegrationAccount).order_by(IntegrationAccount.name),
                select(func.count()).select_from(IntegrationAccount),
                args,
            )
            return envelope([_body(session, row[0]) for row in rows], total, args)

    @requires("integrations:manage")
    @idempotent(redact=("key.key",))  # the key is shown once: a replay has null there
    @blp.arguments(NewIntegrationSchema)
    @blp.response(201, CreatedIntegrationSchema)
    @errors(blp, 409, 422)
    def post(self, data):
        """Create an integration account and its first key, shown this once in `key.key`.
        Takes an optional Idempotency-Key header (api/idempotency.py); a replay has `key.key` null."""
        with _engine().transaction() as session:
            integration, issued = service.create_integration(
                session,
                name=data["name"],
                scopes=data["scopes"],
                description=data.get("description"),
                key_expires_at=data.get("key_expires_at"),
                actor=g.account.username,
            )
            location = {"Location": f"/api/integration-accounts/{integration.name}"}
            return {**_body(session, integration), "key": _KeyView(issued)}, 201, location


class _KeyView:
    """A just-made key as NewKeySchema dumps it: the row's fields and, this once, the whole key."""

    def __init__(self, issued: service.IssuedKey):
        self._row = issued.row
        self.key = issued.key

    def __getattr__(self, name):
        return getattr(self._row, name)


@blp.route("/<name>")
class Integration(MethodView):
    @requires("integrations:manage")
    @blp.response(200, IntegrationSchema)
    @errors(blp, 404)
    def get(self, name):
        """One integration account with its keys (never a key's secret)."""
        with _engine().transaction() as session:
            return _body(session, service.integration_or_raise(session, name))

    @requires("integrations:manage")
    @blp.arguments(IntegrationUpdateSchema)
    @blp.response(200, IntegrationSchema)
    @errors(blp, 404, 422)
    def patch(self, data, name):
        """Change an integration's scopes, description, or whether it is active."""
        with _engine().transaction() as session:
            integration = service.update_integration(session, name=name, actor=g.account.username, **data)
            return _body(session, integration)


@blp.route("/<name>/keys", methods=["POST"])
@requires("integrations:manage")
@blp.arguments(NewKeyRequestSchema)
@blp.response(201, NewKeySchema)
@errors(blp, 404, 422)
def create_key(data, name):
    """A new key for the integration (rotation), shown this once in `key`. The older keys keep working
    until revoked, or with ATRIUM_API_KEY_ROTATION_GRACE_HOURS set, for that many hours more."""
    hours = current_app.extensions["atrium.settings"].api_key_rotation_grace_hours
    with _engine().transaction() as session:
        issued = service.issue_key(
            session,
            name=name,
            actor=g.account.username,
            expires_at=data.get("expires_at"),
            grace=timedelta(hours=hours) if hours > 0 else None,
        )
        return _KeyView(issued)


@blp.route("/<name>/keys/<id:key_id>", methods=["DELETE"])
@requires("integrations:manage")
@blp.response(204)
@errors(blp, 404)
def revoke_key(name, key_id):
    """Revoke a key: it stops working at once."""
    with _engine().transaction() as session:
        service.revoke_key(session, name=name, key_pk=key_id, actor=g.account.username)

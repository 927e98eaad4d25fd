"""A client's opt-outs over HTTP: what its people asked not to be sent (surveys, care mail), recorded by
staff or by a mail's unsubscribe link, and withdrawn by staff. The rules are atrium/opt_outs.py's."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from marshmallow import fields, validate

from atrium import opt_outs
from storage.opt_outs import TOPICS

from .clients import blp, process_engine, visible_client
from .docs import errors
from .permissions import requires
from .schema_base import Schema


class OptOutSchema(Schema):
    id = fields.Integer(dump_only=True)
    contact_id = fields.Integer(
        allow_none=True,
        load_default=None,
        metadata={"description": "the contact who opted out; null: the whole client (all its people)"},
    )
    topic = fields.String(required=True, validate=validate.OneOf(TOPICS))
    source = fields.String(dump_only=True, metadata={"description": "link (the person, from a mail) or staff"})
    opted_out_at = fields.DateTime(dump_only=True)
    recorded_by = fields.String(dump_only=True, allow_none=True)


class OptOutListSchema(Schema):
    items = fields.List(fields.Nested(OptOutSchema), required=True)


@blp.route("/<id:client_id>/opt-outs")
class ClientOptOuts(MethodView):
    @requires("clients:read")
    @blp.response(200, OptOutListSchema)
    @errors(blp, 404)
    def get(self, client_id):
        """The client's opt-outs: which of its people asked for no surveys or care mail."""
        with process_engine().transaction() as session:
            visible_client(session, client_id)
            return {"items": opt_outs.client_opt_outs(session, client_id=client_id)}

    @requires("records:write")
    @blp.arguments(OptOutSchema)
    @blp.response(201, OptOutSchema)
    @errors(blp, 404, 422)
    def post(self, data, client_id):
        """Record an opt-out the person asked for by other means (a call, a letter); again is a no-op."""
        with process_engine().transaction() as session:
            visible_client(session, client_id)
            return opt_outs.opt_out(
                session,
                client_id=client_id,
                contact_id=data["contact_id"],
                topic=data["topic"],
                source="staff",
                actor=g.account.username,
            )


@blp.route("/<id:client_id>/opt-outs/<id:opt_out_id>")
class ClientOptOut(MethodView):
    @requires("records:write")
    @blp.response(204)
    @errors(blp, 404)
    def delete(self, client_id, opt_out_id):
        """Withdraw an opt-out: the person asked to be sent this mail again."""
        with process_engine().transaction() as session:
            visible_client(session, client_id)
            opt_outs.opt_in(session, client_id=client_id, opt_out_id=opt_out_id, actor=g.account.username)

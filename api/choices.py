"""Pickers for form fields that name a person (`format: atrium-user`) or a client (`format: atrium-client`),
and the checks that refuse a submitted value such a picker would not offer the caller."""

from __future__ import annotations

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy.orm import Session

from atrium import choices
from engine.form_references import ReferenceChecks

from .clients import owners_visible_to_caller
from .docs import errors
from .permissions import requires
from .schema_base import Schema

blp = Blueprint(
    "choices", __name__, url_prefix="/api/choices", description="Choices for form fields naming a person or a client"
)


class UserChoiceArgs(Schema):
    q = fields.String(
        validate=validate.Length(max=100), metadata={"description": "part of the username or display name, any case"}
    )
    role = fields.String(
        validate=validate.Length(max=200),
        metadata={"description": "only people holding this role or group (a field's `x-atrium-role`)"},
    )


class ClientChoiceArgs(Schema):
    q = fields.String(
        validate=validate.Length(max=200),
        metadata={"description": "part of the name, a phone or email fragment, as the client list searches"},
    )


class UserChoiceSchema(Schema):
    value = fields.String(required=True, metadata={"description": "the username to submit"})
    label = fields.String(required=True, metadata={"description": "display name (username)"})


class ClientChoiceSchema(Schema):
    value = fields.Integer(required=True, metadata={"description": "the client id to submit"})
    label = fields.String(required=True, metadata={"description": "the client's name"})


class UserChoicesSchema(Schema):
    items = fields.List(
        fields.Nested(UserChoiceSchema),
        required=True,
        metadata={"description": f"at most {choices.MAX_CHOICES}, by display name"},
    )


class ClientChoicesSchema(Schema):
    items = fields.List(
        fields.Nested(ClientChoiceSchema),
        required=True,
        metadata={"description": f"at most {choices.MAX_CHOICES}, by name"},
    )


def _engine():
    return current_app.extensions["atrium.engine"]


def reference_checks_for_caller(session: Session) -> ReferenceChecks:
    """What the caller may choose in a form's person and client fields, for the engine to check submissions by."""
    owners = owners_visible_to_caller(session)
    return ReferenceChecks(
        user=lambda username, role: choices.user_problem(session, username, role),
        client=lambda client_id: choices.client_problem(session, client_id, owners),
    )


@blp.route("/users")
@requires("tasks:work", "instances:start")
@blp.arguments(UserChoiceArgs, location="query")
@blp.response(200, UserChoicesSchema)
@errors(blp, 422)
def user_choices(args):
    """People a form's `atrium-user` field may name: active accounts, with the field's role or group if given."""
    with _engine().transaction() as session:
        return {"items": choices.user_choices(session, q=(args.get("q") or "").strip(), role=args.get("role"))}


@blp.route("/clients")
@requires("tasks:work", "instances:start")
@blp.arguments(ClientChoiceArgs, location="query")
@blp.response(200, ClientChoicesSchema)
@errors(blp, 422)
def client_choices(args):
    """Clients a form's `atrium-client` field may name: those you may see."""
    with _engine().transaction() as session:
        return {
            "items": choices.client_choices(
                session, q=(args.get("q") or "").strip(), owners=owners_visible_to_caller(session)
            )
        }

"""Per-firm settings: the JSON Schema that client custom fields must satisfy."""

from __future__ import annotations

from flask import g
from flask_smorest import Blueprint
from marshmallow import fields

from atrium.firm_settings import set_client_custom_fields
from storage.firm_settings import CLIENT_CUSTOM_FIELDS, setting_value

from .clients import process_engine
from .docs import errors
from .permissions import requires
from .schema_base import Schema

blp = Blueprint("firm_settings", __name__, url_prefix="/api/settings", description="Firm settings")


class CustomFieldsSchema(Schema):
    schema = fields.Dict(
        required=True,
        metadata={"description": "a JSON Schema (2020-12) for clients' custom_fields; {} allows anything"},
    )


@blp.route("/client-custom-fields", methods=["GET"])
@requires("clients:read")
@blp.response(200, CustomFieldsSchema)
@errors(blp)
def get_custom_fields():
    """The JSON Schema clients' `custom_fields` are validated against."""
    with process_engine().transaction() as session:
        return {"schema": setting_value(session, key=CLIENT_CUSTOM_FIELDS, default={})}


@blp.route("/client-custom-fields", methods=["PUT"])
@requires("settings:manage")
@blp.arguments(CustomFieldsSchema)
@blp.response(200, CustomFieldsSchema)
@errors(blp, 422)
def put_custom_fields(data):
    """Replace the custom-field schema (existing clients are checked when they are next changed)."""
    with process_engine().transaction() as session:
        set_client_custom_fields(session, data["schema"], actor=g.account.username)
    return data

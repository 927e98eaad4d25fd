"""Forms: the JSON Schema (and UI schema) a user task shows."""
from __future__ import annotations

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from atrium.errors import NotFound
from storage.definitions import latest_form

from .docs import errors
from .permissions import requires

blp = Blueprint("forms", __name__, url_prefix="/api/forms", description="Forms")


class FormDocumentSchema(Schema):
    name = fields.String()
    version = fields.Integer()
    schema = fields.Dict()
    ui_schema = fields.Dict(allow_none=True)
    deployed_at = fields.DateTime()


@blp.route("/<name>")
@requires("forms:read")
@blp.response(200, FormDocumentSchema)
@errors(blp, 404)
def get_form(name):
    """The latest version of a form."""
    with current_app.extensions["atrium.engine"].transaction() as session:
        form = latest_form(session, name=name)
        if form is None:
            raise NotFound(f"no form named {name}")
        return form

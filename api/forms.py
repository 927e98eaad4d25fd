"""Forms: the JSON Schema (and UI schema) a user task shows."""

from __future__ import annotations

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from atrium.errors import NotFound
from engine.translations import localize_form
from storage.definitions import latest_form
from storage.translations import FORM, translation

from .docs import errors
from .locale import request_locale
from .permissions import requires

blp = Blueprint("forms", __name__, url_prefix="/api/forms", description="Forms")


class FormDocumentSchema(Schema):
    name = fields.String()
    version = fields.Integer()
    schema = fields.Dict(metadata={"description": "titles and descriptions in the request's language"})
    ui_schema = fields.Dict(
        allow_none=True,
        metadata={
            "description": "with `ui:enumNames` (the choices' labels in the request's language) where translated"
        },
    )
    deployed_at = fields.DateTime()


@blp.route("/<name>")
@requires("forms:read")
@blp.response(200, FormDocumentSchema)
@errors(blp, 404)
def get_form(name):
    """The latest version of a form, in the request's language (Accept-Language)."""
    with current_app.extensions["atrium.engine"].transaction() as session:
        form = latest_form(session, name=name)
        if form is None:
            raise NotFound(f"no form named {name}")
        texts = translation(session, kind=FORM, name=name, locale=request_locale())
        schema, ui_schema = localize_form(form.schema, form.ui_schema, texts)
        return {
            "name": form.name,
            "version": form.version,
            "schema": schema,
            "ui_schema": ui_schema,
            "deployed_at": form.deployed_at,
        }

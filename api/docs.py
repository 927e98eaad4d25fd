"""OpenAPI plumbing: the Api subclass that speaks RFC 7807, and a decorator documenting error responses."""
from __future__ import annotations

import http

from flask_smorest import Api
from flask_smorest.spec import prepare_response
from flask_smorest.spec.plugins import integerconverter2paramschema
from werkzeug.routing import IntegerConverter

from .problems import ProblemSchema, from_http_exception

PROBLEM_JSON = "application/problem+json"


class AtriumApi(Api):
    """flask-smorest's Api with problem+json errors, in the responses and in the document."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self):
        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_JSON)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Default error response", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_JSON)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)

    def handle_http_exception(self, error):
        return from_http_exception(error)


def errors(blp, *codes: int, authenticated: bool = True):
    """Document the problem responses an operation can give (401 and 403 for authenticated ones)."""
    all_codes = ((401, 403) if authenticated else ()) + codes

    def decorate(view):
        for code in all_codes:
            view = blp.alt_response(code, response=http.HTTPStatus(code).name)(view)
        return view

    return decorate


class RecordIdConverter(IntegerConverter):
    """`<id:name>`: a record id, 1 to 2**62, so an id no column can hold is a plain 404."""

    def __init__(self, map, *args, **kwargs):
        super().__init__(map, min=1, max=2**62)


def register_converters(app, api) -> None:
    app.url_map.converters["id"] = RecordIdConverter
    api.register_converter(RecordIdConverter, integerconverter2paramschema)

"""OpenAPI plumbing: the Api subclass that speaks RFC 7807, and a decorator documenting error responses."""
from __future__ import annotations

import http

from flask_smorest import Api
from flask_smorest.spec import prepare_response

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

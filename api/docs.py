"""OpenAPI plumbing: the Api subclass that speaks RFC 7807, a decorator documenting error responses, and the
Swagger UI page."""

from __future__ import annotations

import functools
import http

import swagger_ui_bundle
from flask import (
    Blueprint,
    abort,
    current_app,
    make_response,
    send_from_directory,
    url_for,
)
from flask_smorest import Api
from flask_smorest.spec import prepare_response
from flask_smorest.spec.plugins import integerconverter2paramschema
from markupsafe import escape
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


# Swagger UI from the swagger-ui-bundle package (its files vendored in the wheel), under /api/docs/:
# no third-party origin can change the page that holds an admin's token, and the page's CSP allows
# scripts from this origin only (so its start-up script is a file too, not inline).
swagger_ui = Blueprint("swagger_ui", __name__)
SWAGGER_UI_FILES = (
    "swagger-ui.css",
    "swagger-ui-bundle.js",
    "swagger-ui-standalone-preset.js",
    "favicon-32x32.png",
    "favicon-16x16.png",
)
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
_START_SCRIPT = """window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: document.getElementById("swagger-ui").dataset.specUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,  // else a badge image from validator.swagger.io, which the CSP would block
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout"
  });
};
"""
_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{title} API</title>
  <link rel="stylesheet" href="{css}">
  <link rel="icon" type="image/png" href="{icon}">
</head>
<body>
  <div id="swagger-ui" data-spec-url="{spec}"></div>
  <script src="{bundle}"></script>
  <script src="{preset}"></script>
  <script src="{start}"></script>
</body>
</html>
"""


@swagger_ui.route("/api/docs")
def docs_page():
    """The Swagger UI page for /api/openapi.json."""
    asset = functools.partial(url_for, "swagger_ui.docs_asset")
    page = _PAGE.format(
        title=escape(current_app.config["API_TITLE"]),
        css=asset(filename="swagger-ui.css"),
        icon=asset(filename="favicon-32x32.png"),
        spec=url_for("api-docs.openapi_json"),
        bundle=asset(filename="swagger-ui-bundle.js"),
        preset=asset(filename="swagger-ui-standalone-preset.js"),
        start=asset(filename="atrium-start.js"),
    )
    response = make_response(page)
    response.headers["Content-Security-Policy"] = DOCS_CSP
    return response


@swagger_ui.route("/api/docs/<filename>")
def docs_asset(filename):
    """Swagger UI's files, and the script that starts it on the page."""
    if filename == "atrium-start.js":
        response = make_response(_START_SCRIPT)
        response.mimetype = "text/javascript"
        return response
    if filename not in SWAGGER_UI_FILES:
        abort(404)
    return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename)

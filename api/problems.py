"""RFC 7807 problem responses: every error the API returns goes through here."""

from __future__ import annotations

import logging
import uuid

from flask import g, jsonify
from marshmallow import Schema, fields
from werkzeug.exceptions import HTTPException

from atrium.errors import (
    AtriumError,
    DefinitionInvalid,
    DuplicateFound,
    InvalidInput,
    RowsInvalid,
    TooManyRequests,
)
from atrium.i18n import translate

from .locale import request_locale

log = logging.getLogger(__name__)
PROBLEM_BASE = "https://atrium.example/problems/"


class ProblemSchema(Schema):
    """application/problem+json (RFC 7807)."""

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    errors = fields.Raw(
        metadata={
            "description": "Field path (or BPMN element) -> messages; or a list of "
            "{file, line, element_id, message} for definitions, or of "
            "{row, column, field, message} for imports"
        }
    )
    error_id = fields.String(metadata={"description": "For 500s: the id logged with the failure"})
    candidates = fields.List(
        fields.Dict(),
        metadata={"description": "For a possible duplicate (409): the existing records it matches, with what matched"},
    )
    withheld = fields.Dict(
        metadata={
            "description": "For a possible duplicate (409) with clients you may not see: "
            "{count, resolved_by, detail}, never which clients"
        }
    )


def problem(status: int, title: str, detail: str, *, kind: str | None = None, **extra):
    """A problem response in the request's language: `title`, `detail` and the messages in a
    field-errors dict go through the catalogue (English when it has no entry)."""
    locale = request_locale()
    if isinstance(extra.get("errors"), dict):
        extra["errors"] = _translated_errors(extra["errors"], locale)
    body = {
        "type": PROBLEM_BASE + (kind or str(status)),
        "title": translate(title, locale),
        "status": status,
        "detail": translate(detail, locale),
    }
    body.update({k: v for k, v in extra.items() if v is not None})
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


def _translated_errors(errors: dict, locale: str) -> dict:
    if locale == "en":
        return errors
    return {
        field: [translate(m, locale) if isinstance(m, str) else m for m in messages]
        if isinstance(messages, list)
        else (translate(messages, locale) if isinstance(messages, str) else messages)
        for field, messages in errors.items()
    }


def _flatten(messages, prefix: str = "") -> dict[str, list[str]]:
    """webargs' {"json": {"a": {"b": ["msg"]}}} -> {"a.b": ["msg"]}."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            flat.update(_flatten(value, path))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        flat[prefix or "body"] = messages
    else:
        flat[prefix or "body"] = [str(messages)]
    return flat


def from_http_exception(error: HTTPException):
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    messages = data.get("messages")
    if status == 422 and messages:
        # Drop webargs' location level ("json", "query", "files"): clients know where they sent it.
        located = {}
        for location, fields_ in messages.items():
            located.update(fields_ if isinstance(fields_, dict) else {location: fields_})
        return problem(422, "Invalid input", "problem.invalid_fields", kind="invalid-input", errors=_flatten(located))
    detail = data.get("message") or error.description or error.name
    return problem(status, error.name, detail, kind=str(status))


def from_domain_error(error: AtriumError):
    if isinstance(error, DefinitionInvalid):
        return problem(
            422, error.title, error.detail, kind="definition-invalid", errors=[p.as_dict() for p in error.problems]
        )
    if isinstance(error, RowsInvalid):
        return problem(422, error.title, error.detail, kind="invalid-rows", errors=error.problems)
    if isinstance(error, InvalidInput):
        kind = getattr(error, "kind", None) or "invalid-input"
        return problem(422, error.title, error.detail, kind=kind, errors=error.errors)
    if isinstance(error, DuplicateFound):
        return problem(
            409, error.title, error.detail, kind="duplicate", candidates=error.candidates, withheld=error.withheld
        )
    if isinstance(error, TooManyRequests):
        response = problem(429, error.title, error.detail, kind=getattr(error, "kind", None) or "too-many-requests")
        response.headers["Retry-After"] = str(error.retry_after)
        return response
    kind = getattr(error, "kind", None) or {
        404: "not-found",
        409: "conflict",
        403: "forbidden",
        401: "unauthorized",
    }.get(error.status)
    return problem(error.status, error.title, error.detail, kind=kind)


def from_write_conflict(error: Exception):
    """A concurrent change got there first (stale version, or a unique value taken meanwhile)."""
    log.info("write conflict (request %s): %s", getattr(g, "request_id", None), type(error).__name__)
    return problem(409, "Conflict", "problem.write_conflict", kind="conflict")


# PostgreSQL's "try again" states: a serialization failure and a deadlock, both a concurrent change.
_RETRY_STATES = frozenset({"40001", "40P01"})


def from_database_error(error: Exception):
    """The database refused or could not be reached: a concurrent change (serialization failure, deadlock)
    is the same 409 as any other; a lost or refused connection (the database restarting, SQLite busy) is a
    503 with Retry-After, which a client may retry, never a 500."""
    state = getattr(getattr(error, "orig", None), "sqlstate", None)
    if state in _RETRY_STATES:
        return from_write_conflict(error)
    log.warning("database unavailable (request %s): %s", getattr(g, "request_id", None), type(error).__name__)
    response = problem(503, "Service unavailable", "problem.database_unavailable", kind="database-unavailable")
    response.headers["Retry-After"] = "5"
    return response


def from_unexpected(error: Exception):
    error_id = uuid.uuid4().hex
    log.exception("unhandled error %s (request %s)", error_id, getattr(g, "request_id", None))
    return problem(500, "Internal error", "problem.internal", kind="internal", error_id=error_id)

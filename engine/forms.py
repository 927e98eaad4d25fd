"""Forms: JSON Schema (+ optional UI schema) files, how tasks name them, and validating submissions."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from atrium.errors import InvalidInput

_UI_SUFFIXES = ("-uischema.json", ".uischema.json", "_uischema.json")
_SCHEMA_SUFFIXES = ("-schema.json", ".schema.json", "_schema.json", ".json", ".form")


@dataclass
class FormFile:
    name: str
    schema: dict
    ui_schema: dict | None

    @property
    def content_hash(self) -> str:
        body = json.dumps([self.schema, self.ui_schema], sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(body.encode()).hexdigest()


def is_ui_schema_file(filename: str) -> bool:
    return filename.lower().endswith(_UI_SUFFIXES)


def form_name(reference: str) -> str:
    """The form a reference means: `intake-schema.json`, `camunda-forms:deployment:intake.form`
    and `embedded:app:forms/intake.html` all name the form `intake`."""
    ref = reference.strip().rsplit(":", 1)[-1].rsplit("/", 1)[-1]
    for suffix in _UI_SUFFIXES + _SCHEMA_SUFFIXES + (".html",):
        if ref.lower().endswith(suffix):
            return ref[: -len(suffix)]
    return ref


def schema_problem(schema) -> str | None:
    """Why `schema` is not a usable JSON Schema for a form, or None."""
    if not isinstance(schema, dict):
        return "a form schema must be a JSON object"
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        path = "/".join(str(p) for p in exc.path)
        return f"invalid JSON Schema{' at ' + path if path else ''}: {exc.message}"
    return None


def validate_submission(schema: dict, data: dict) -> None:
    """Raise InvalidInput naming every field path that fails the form's schema."""
    if not isinstance(data, dict):
        raise InvalidInput("task data must be a JSON object", {"data": ["must be an object"]})
    errors: dict[str, list[str]] = {}
    for error in Draft202012Validator(schema).iter_errors(data):
        path = list(error.absolute_path)
        if error.validator == "required":
            missing = re.findall(r"'([^']+)' is a required property", error.message)
            path = path + missing[:1]
        key = "data." + ".".join(str(p) for p in path) if path else "data"
        errors.setdefault(key, []).append(error.message)
    if errors:
        raise InvalidInput("submitted data does not match the task's form", errors)


def validate_fields(schema: dict, values: dict, *, prefix: str) -> None:
    """Raise InvalidInput naming (`prefix.field...`) every problem the form's schema finds inside the fields
    given; what it says of the object as a whole (a required field left out) is not asked of a part."""
    errors: dict[str, list[str]] = {}
    for error in Draft202012Validator(schema).iter_errors(values):
        path = list(error.absolute_path)
        if path and path[0] in values:
            errors.setdefault(prefix + "." + ".".join(str(p) for p in path), []).append(error.message)
    if errors:
        raise InvalidInput("the data does not match the process's start form", errors)

"""Form fields that name a person or a client, and checking that a submission names ones the acting person may choose.

A form declares what a field holds with a JSON Schema `format`: `atrium-user` (a username; with
`x-atrium-role` only people holding that role or group) or `atrium-client` (a client id). A form
library shows such a field as a picker (the API lists the choices); the engine refuses, naming
the field, a value the picker would not have offered. Who may be chosen depends on the acting
person (which clients they see), which the engine does not know: the caller gives it a
`ReferenceChecks` made for that person (api/choices.py), so the engine imports nothing of the API.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from atrium.errors import InvalidInput

USER_FORMAT = "atrium-user"
CLIENT_FORMAT = "atrium-client"
ROLE_KEYWORD = "x-atrium-role"
REFERENCE_FORMATS = (USER_FORMAT, CLIENT_FORMAT)


@dataclass(frozen=True)
class ReferenceChecks:
    """What the acting person may choose: each function answers why a value may not be chosen, or None."""

    user: Callable[[str, str | None], str | None]  # (username, required role or group)
    client: Callable[[object], str | None]  # (client id as submitted)


@dataclass(frozen=True)
class ReferenceField:
    path: tuple[str, ...]  # ("assignee",), or ("reviewers", "*") for each item of a list
    format: str
    role: str | None


def reference_fields(schema: dict | None) -> list[ReferenceField]:
    """The fields of a form (top-level properties, and the items of top-level lists) that name a person or a client."""
    found = []
    for name, prop in ((schema or {}).get("properties") or {}).items():
        if not isinstance(prop, dict) or prop.get("readOnly"):
            continue
        for path, spec in (((name,), prop), ((name, "*"), prop.get("items"))):
            if isinstance(spec, dict) and spec.get("format") in REFERENCE_FORMATS:
                found.append(ReferenceField(path, spec["format"], spec.get(ROLE_KEYWORD)))
    return found


def _values(data: dict, path: tuple[str, ...]):
    """(field path, value) pairs at `path` in `data`; absent and null values name nothing."""
    value = data.get(path[0])
    if len(path) == 1:
        return [(path[0], value)] if value is not None else []
    return (
        [(f"{path[0]}.{i}", item) for i, item in enumerate(value) if item is not None]
        if isinstance(value, list)
        else []
    )


def check_references(schema: dict | None, data: dict, checks: ReferenceChecks | None, *, prefix: str) -> None:
    """InvalidInput naming each field (`data.assignee`, `variables.client_id`) whose person or client the acting
    person may not choose. Without `checks` (the engine's own callers: domain code, timers) nothing is checked."""
    if checks is None or not isinstance(data, dict):
        return
    errors: dict[str, list[str]] = {}
    for field in reference_fields(schema):
        for path, value in _values(data, field.path):
            if field.format == USER_FORMAT:
                problem = checks.user(value, field.role) if isinstance(value, str) else "must be a username"
            else:
                problem = checks.client(value)
            if problem:
                errors[f"{prefix}.{path}"] = [problem]
    if errors:
        raise InvalidInput(f"the form names a person or client you may not choose: {', '.join(errors)}", errors)

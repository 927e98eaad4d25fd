"""Task subjects: templates like "Approve {kind} of {amount:money} for {client_name}" filled from
the instance's data when the task opens.

Deliberately not an expression: `{path}` is a plain lookup (dotted through dicts only), with an
optional format (`money`, `date`, `number`). Nothing runs, so no sandbox is needed, and a missing
or odd value shows as a dash instead of failing the task."""

from __future__ import annotations

import re

from atrium.i18n import format_date, format_money, format_number, translate

FORMATS = {"money": format_money, "date": format_date, "number": format_number}
MISSING = "subject.missing_value"
_FIELD = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$")
MAX_LENGTH = 500


def template_problem(template: str) -> str | None:
    """Why `template` is not a usable subject template, or None."""
    if not isinstance(template, str):
        return "a subject must be text"
    for match in _FIELD.finditer(template):
        token = match.group(0)
        if token in ("{{", "}}"):
            continue
        if token in ("{", "}"):
            return f"unbalanced '{token}' in subject '{template}' (write '{token}{token}' for the character)"
        path, _, spec = match.group(1).partition(":")
        if not _PATH.match(path.strip()):
            return f"'{{{match.group(1)}}}' in subject '{template}' is not a variable name or dotted path"
        if spec and spec.strip() not in FORMATS:
            return f"unknown format '{spec}' in subject '{template}' (known: {', '.join(FORMATS)})"
    return None


def render_subject(template: str, data: dict, locale: str) -> str:
    """The template filled from `data`, formatted for `locale`; never raises."""

    def field(match: re.Match) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        if match.group(1) is None:
            return token
        path, _, spec = match.group(1).partition(":")
        value = _lookup(data, path.strip())
        if value is None or value == "" or isinstance(value, dict):
            return translate(MISSING, locale)
        if isinstance(value, list):
            return ", ".join(str(v) for v in value if not isinstance(v, (dict, list)))
        formatter = FORMATS.get(spec.strip())
        try:
            return formatter(value, locale) if formatter else _plain(value)
        except (ValueError, TypeError, ArithmeticError):  # a value the format cannot take is shown as it is
            return _plain(value)

    return _FIELD.sub(field, template)[:MAX_LENGTH]


def _plain(value) -> str:
    if isinstance(value, bool):
        return "✓" if value else "✗"
    return str(value)


def _lookup(data, path: str):
    value = data
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value

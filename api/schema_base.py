"""The base of every API schema: input strings may not carry NUL characters (PostgreSQL text cannot)."""

from __future__ import annotations

import marshmallow
from marshmallow import ValidationError, pre_load


def _nul_paths(value, path: str = "") -> list[str]:
    if isinstance(value, str):
        return [path or "body"] if "\x00" in value else []
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in _nul_paths(item, f"{path}.{key}" if path else str(key))]
    if isinstance(value, (list, tuple)):
        return [p for i, item in enumerate(value) for p in _nul_paths(item, f"{path}.{i}" if path else str(i))]
    return []


class Schema(marshmallow.Schema):
    @pre_load
    def reject_nul_characters(self, data, **kwargs):
        # Query strings and forms arrive as MultiDicts: look at every value of each name, report the
        # name (`q`, as the field is called), and return them as they came.
        if hasattr(data, "to_dict"):
            paths = [key for key, values in data.to_dict(flat=False).items() if _nul_paths(values)]
        else:
            paths = _nul_paths(data)
        if paths:
            raise ValidationError({path: ["must not contain NUL characters"] for path in paths})
        return data

"""Paged lists: `page` and `page_size` in, `{items, total, page, page_size}` out."""

from __future__ import annotations

from marshmallow import fields, validate

from .schema_base import Schema

MAX_PAGE_SIZE = 200


class PageArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))


def page_schema(item_schema: type[Schema], name: str) -> type[Schema]:
    """A `{items, total, page, page_size}` schema around `item_schema`."""
    return Schema.from_dict(
        {
            "items": fields.List(fields.Nested(item_schema), required=True),
            "total": fields.Integer(required=True),
            "page": fields.Integer(required=True),
            "page_size": fields.Integer(required=True),
        },
        name=name,
    )


def page_query(session, query, count_query, args: dict) -> tuple[list, int]:
    page, size = args["page"], args["page_size"]
    total = session.scalar(count_query)
    rows = session.execute(query.limit(size).offset((page - 1) * size)).all() if total else []
    return rows, total


def envelope(items: list, total: int, args: dict) -> dict:
    return {"items": items, "total": total, "page": args["page"], "page_size": args["page_size"]}

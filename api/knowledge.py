"""Knowledge-base articles: write, read and search them, best match first."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate

from atrium.knowledge import article_or_raise, create_article, delete_article, update_article
from storage.knowledge import search_articles

from .clients import process_engine
from .docs import errors
from .pagination import PageArgs, envelope, page_schema
from .permissions import requires
from .schema_base import Schema

blp = Blueprint("knowledge", __name__, url_prefix="/api/knowledge-articles", description="Knowledge base")


class ArticleSchema(Schema):
    id = fields.Integer(dump_only=True)
    title = fields.String(required=True, validate=validate.Length(min=1, max=300))
    body = fields.String(required=True, validate=validate.Length(min=1, max=200_000))
    tags = fields.List(
        fields.String(validate=validate.Length(min=1, max=50)), validate=validate.Length(max=50), load_default=list
    )
    service_type = fields.String(allow_none=True, validate=validate.Length(max=100))
    author = fields.String(dump_only=True, allow_none=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class ArticleArgs(PageArgs):
    q = fields.String(validate=validate.Length(min=1, max=200), metadata={"description": "words to search for"})
    service_type = fields.String(validate=validate.Length(max=100))
    tag = fields.String(validate=validate.Length(max=50))


ArticlePage = page_schema(ArticleSchema, "ArticlePage")


@blp.route("")
class Articles(MethodView):
    @requires("knowledge:read")
    @blp.arguments(ArticleArgs, location="query")
    @blp.response(200, ArticlePage)
    @errors(blp, 422)
    def get(self, args):
        """Search articles: with `q`, ranked by relevance; otherwise newest first."""
        with process_engine().transaction() as session:
            items, total = search_articles(
                session,
                q=args.get("q"),
                service_type=args.get("service_type"),
                tag=args.get("tag"),
                limit=args["page_size"],
                offset=(args["page"] - 1) * args["page_size"],
            )
            return envelope(items, total, args)

    @requires("knowledge:write")
    @blp.arguments(ArticleSchema)
    @blp.response(201, ArticleSchema)
    @errors(blp, 422)
    def post(self, data):
        """Write an article."""
        with process_engine().transaction() as session:
            return create_article(session, data, actor=g.account.username)


@blp.route("/<id:article_id>")
class ArticleItem(MethodView):
    @requires("knowledge:read")
    @blp.response(200, ArticleSchema)
    @errors(blp, 404)
    def get(self, article_id):
        """One article."""
        with process_engine().transaction() as session:
            return article_or_raise(session, article_id)

    @requires("knowledge:write")
    @blp.arguments(type("ArticlePatchSchema", (ArticleSchema,), {})(partial=True))
    @blp.response(200, ArticleSchema)
    @errors(blp, 404, 422)
    def patch(self, data, article_id):
        """Change some fields of an article."""
        with process_engine().transaction() as session:
            return update_article(session, article_id, data, actor=g.account.username)

    @requires("knowledge:write")
    @blp.response(204)
    @errors(blp, 404)
    def delete(self, article_id):
        """Delete an article."""
        with process_engine().transaction() as session:
            delete_article(session, article_id, actor=g.account.username)

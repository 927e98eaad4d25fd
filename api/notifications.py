"""The notification outbox: messages sent (or waiting to be mailed) to the firm's people."""
from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy import func, select

from storage.notifications import FAILED, QUEUED, SENT, Notification

from .clients import process_engine
from .docs import errors
from .pagination import PageArgs, envelope, page_query, page_schema
from .permissions import has_permission, requires
from .schema_base import Schema

blp = Blueprint("notifications", __name__, url_prefix="/api/notifications", description="Notification outbox")


class NotificationSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    recipient = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    subject = fields.String()
    body = fields.String()
    status = fields.String(metadata={"description": "queued (in the outbox; mailed once SMTP is configured), "
                                                   "sent or failed"})
    error = fields.String(allow_none=True, metadata={"description": "why the last mailing attempt failed"})
    attempts = fields.Integer(metadata={"description": "mailing attempts so far"})
    next_attempt_at = fields.DateTime(allow_none=True, metadata={"description": "when a failed mailing is retried"})
    instance_id = fields.UUID(allow_none=True)
    created_at = fields.DateTime()
    sent_at = fields.DateTime(allow_none=True)


class NotificationArgs(PageArgs):
    recipient = fields.String(validate=validate.Length(max=100),
                              metadata={"description": "admins only; others always see their own"})
    kind = fields.String(validate=validate.Length(max=50))
    status = fields.String(validate=validate.OneOf([QUEUED, SENT, FAILED]))


NotificationPage = page_schema(NotificationSchema, "NotificationPage")


@blp.route("")
class Notifications(MethodView):
    @requires("notifications:read")
    @blp.arguments(NotificationArgs, location="query")
    @blp.response(200, NotificationPage)
    @errors(blp, 422)
    def get(self, args):
        """Your notifications, newest first (admins: everyone's, or one recipient's)."""
        conditions = []
        if not has_permission(g.account.roles, "notifications:read_all"):
            conditions.append(Notification.recipient == g.account.username)
        elif args.get("recipient"):
            conditions.append(Notification.recipient == args["recipient"])
        for name in ("kind", "status"):
            if args.get(name):
                conditions.append(getattr(Notification, name) == args[name])
        with process_engine().transaction() as session:
            rows, total = page_query(session, select(Notification).where(*conditions).order_by(Notification.id.desc()),
                                     select(func.count()).select_from(Notification).where(*conditions), args)
            return envelope([row[0] for row in rows], total, args)

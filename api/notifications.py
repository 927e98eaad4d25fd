"""The notification outbox: messages sent (or waiting to be mailed) to the firm's people, and each
person's own notifications for the web app's bell."""

from __future__ import annotations

from flask import current_app, g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy import func, select

from atrium import masking, notifications
from storage.notifications import (
    FAILED,
    QUEUED,
    SENT,
    Notification,
    link_of,
    own_notifications_queries,
    unread_count,
)

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
    status = fields.String(
        metadata={"description": "queued (in the outbox; mailed once SMTP is configured), sent or failed"}
    )
    error = fields.String(allow_none=True, metadata={"description": "why the last mailing attempt failed"})
    attempts = fields.Integer(metadata={"description": "mailing attempts so far"})
    next_attempt_at = fields.DateTime(allow_none=True, metadata={"description": "when a failed mailing is retried"})
    instance_id = fields.UUID(allow_none=True)
    task_id = fields.UUID(allow_none=True, metadata={"description": "the task it hands over, if any"})
    client_id = fields.Integer(allow_none=True, metadata={"description": "the client whose record it concerns"})
    created_at = fields.DateTime()
    sent_at = fields.DateTime(allow_none=True)
    read_at = fields.DateTime(allow_none=True, metadata={"description": "when the recipient marked it read"})


FIELDS = tuple(NotificationSchema._declared_fields)


class NotificationArgs(PageArgs):
    recipient = fields.String(
        validate=validate.Length(max=100), metadata={"description": "admins only; others always see their own"}
    )
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
            rows, total = page_query(
                session,
                select(Notification).where(*conditions).order_by(Notification.id.desc()),
                select(func.count()).select_from(Notification).where(*conditions),
                args,
            )
            items = []
            for (note,) in rows:
                subject, body = _as_read(session, note)
                items.append({**{name: getattr(note, name) for name in FIELDS}, "subject": subject, "body": body})
            return envelope(items, total, args)


# The bell: the person's own notifications, read and marked read. Only the recipient's rows, ever:
# someone else's id is a 404, as one that does not exist.
my_blp = Blueprint(
    "my_notifications",
    __name__,
    url_prefix="/api/me/notifications",
    description="Your notifications (the web app's bell)",
)


class LinkSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(["task", "client", "instance"]))
    id = fields.Raw(
        required=True, metadata={"description": "a task or instance UUID (string), or a client id (integer)"}
    )


class MyNotificationSchema(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True, metadata={"description": "task_assigned, escalation, outcome or report"})
    subject = fields.String(required=True)
    body = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    read_at = fields.DateTime(required=True, allow_none=True, metadata={"description": "null while unread"})
    link = fields.Nested(
        LinkSchema,
        required=True,
        allow_none=True,
        metadata={
            "description": "What it is about: its task, else the client it concerns, else its process instance; "
            "null when none"
        },
    )


class MyNotificationArgs(PageArgs):
    unread = fields.Boolean(load_default=False, metadata={"description": "true: only unread ones"})


class UnreadCountSchema(Schema):
    count = fields.Integer(required=True)


MyNotificationPage = page_schema(MyNotificationSchema, "MyNotificationPage")


def _as_read(session, note) -> tuple[str, str]:
    """The subject and body as the caller sees a client's contact data (atrium/masking.py)."""
    return masking.notification_text(session, note, g.account.roles, current_app.extensions["atrium.settings"])


def _item(session, note) -> dict:
    subject, body = _as_read(session, note)
    return {
        "id": note.id,
        "kind": note.kind,
        "subject": subject,
        "body": body,
        "created_at": note.created_at,
        "read_at": note.read_at,
        "link": link_of(note),
    }


@my_blp.route("")
@requires("notifications:read")
@my_blp.arguments(MyNotificationArgs, location="query")
@my_blp.response(200, MyNotificationPage)
@errors(my_blp, 422)
def my_notifications(args):
    """Your notifications, newest first; `unread=true` for the unread ones only."""
    rows_query, count_query = own_notifications_queries(recipient=g.account.username, unread=args["unread"])
    with process_engine().transaction() as session:
        rows, total = page_query(session, rows_query, count_query, args)
        return envelope([_item(session, row[0]) for row in rows], total, args)


@my_blp.route("/unread-count")
@requires("notifications:read")
@my_blp.response(200, UnreadCountSchema)
@errors(my_blp)
def my_unread_count():
    """How many of your notifications are unread (the bell's badge)."""
    with process_engine().transaction() as session:
        return {"count": unread_count(session, recipient=g.account.username)}


@my_blp.route("/<id:notification_id>/read", methods=["POST"])
@requires("notifications:read")
@my_blp.response(200, MyNotificationSchema)
@errors(my_blp, 404)
def mark_my_notification_read(notification_id):
    """Mark one of your notifications read (again: it keeps when it was first read)."""
    with process_engine().transaction() as session:
        note = notifications.mark_read(session, recipient=g.account.username, notification_id=notification_id)
        return _item(session, note)


@my_blp.route("/read-all", methods=["POST"])
@requires("notifications:read")
@my_blp.response(204)
@errors(my_blp)
def mark_all_my_notifications_read():
    """Mark all your notifications read."""
    with process_engine().transaction() as session:
        notifications.mark_all_read(session, recipient=g.account.username)

"""The audit trail over HTTP: recording state changes and logins, and `GET /api/audit` for admins."""

from __future__ import annotations

from flask import current_app, g, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from atrium import audit as domain_audit
from storage.audit import AuditEntry

from .docs import errors
from .pagination import PageArgs, envelope, page_query, page_schema
from .permissions import requires
from .schema_base import Schema

blp = Blueprint("audit", __name__, url_prefix="/api/audit", description="The audit trail (admins)")
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


def record(
    session: Session,
    action: str,
    *,
    target: str | None = None,
    outcome: str = "success",
    actor: str | None = None,
    detail: dict | None = None,
) -> None:
    """Write an audit row for the signed-in caller (atrium.audit.record with the request's account)."""
    domain_audit.record(
        session,
        action,
        target=target,
        outcome=outcome,
        detail=detail,
        actor=actor or (g.account.username if getattr(g, "account", None) else None),
    )


def audited() -> bool:
    """Whether a row was written while serving this request."""
    info = domain_audit.current_request()
    return bool(info and info.audited)


def record_failed_request(response) -> None:
    """after_request: a state-changing request that failed before its view could audit it."""
    if request.method not in STATE_CHANGING or audited() or response.status_code < 400:
        return
    outcome = "denied" if response.status_code in (401, 403) else "failed"
    engine = current_app.extensions["atrium.engine"]
    with engine.transaction() as session:
        record(
            session,
            f"{request.method} {request.url_rule.rule if request.url_rule else request.path}",
            target=request.path,
            outcome=outcome,
            detail={"status": response.status_code},
        )


class AuditArgs(PageArgs):
    actor = fields.String()
    action = fields.String()
    outcome = fields.String(validate=validate.OneOf(["success", "denied", "failed"]))
    target = fields.String()
    after = fields.AwareDateTime()
    before = fields.AwareDateTime()


class AuditEntrySchema(Schema):
    id = fields.Integer()
    at = fields.DateTime()
    actor = fields.String(allow_none=True)
    action = fields.String()
    target = fields.String(allow_none=True)
    outcome = fields.String()
    client_address = fields.String(allow_none=True)
    request_id = fields.String(allow_none=True)
    detail = fields.Dict(allow_none=True)
    # The hash chain (atrium/audit_chain.py): `atrium audit verify` checks it.
    seq = fields.Integer(allow_none=True)
    prev_hash = fields.String(allow_none=True)
    hash = fields.String(allow_none=True)


AuditPage = page_schema(AuditEntrySchema, "AuditPage")


@blp.route("")
class AuditLog(MethodView):
    @requires("audit:read")
    @blp.arguments(AuditArgs, location="query")
    @blp.response(200, AuditPage)
    @errors(blp, 422)
    def get(self, args):
        """List audit rows, newest first."""
        conditions = []
        for name in ("actor", "action", "outcome", "target"):
            if args.get(name):
                conditions.append(getattr(AuditEntry, name) == args[name])
        if args.get("after"):
            conditions.append(AuditEntry.at >= args["after"])
        if args.get("before"):
            conditions.append(AuditEntry.at < args["before"])
        engine = current_app.extensions["atrium.engine"]
        with engine.transaction() as session:
            rows, total = page_query(
                session,
                select(AuditEntry).where(*conditions).order_by(AuditEntry.id.desc()),
                select(func.count()).select_from(AuditEntry).where(*conditions),
                args,
            )
            return envelope([row[0] for row in rows], total, args)

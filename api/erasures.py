"""Erasure over HTTP (admins): ask to erase a client, confirm or withdraw as a second admin, read the
certificates of destruction, and preview what the retention policy will erase. The rules are
atrium/erasure.py's."""

from __future__ import annotations

from flask import Response, current_app, g
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy import select

from atrium import clock
from atrium import erasure as erasure_service
from atrium.errors import Conflict, NotFound
from atrium.i18n import translate
from reports.render import erasure_certificate_pdf
from storage.erasures import DONE, REQUESTED, WITHDRAWN, Erasure

from .clients import process_engine
from .docs import errors
from .locale import request_locale
from .permissions import requires
from .schema_base import Schema

blp = Blueprint("erasures", __name__, url_prefix="/api", description="Erasure of clients' personal data (admins)")


class EraseSchema(Schema):
    reason = fields.String(
        required=True,
        validate=validate.Length(max=erasure_service.REASON_MAX),
        metadata={
            "description": f"why, {erasure_service.REASON_MIN} to {erasure_service.REASON_MAX} characters "
            "(kept in the certificate and the audit trail: name no personal data in it)"
        },
    )


class ErasureSchema(Schema):
    id = fields.Integer(required=True)
    client_id = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"description": f"{REQUESTED}, {DONE} or {WITHDRAWN}"})
    reason = fields.String(required=True)
    requested_by = fields.String(required=True)
    requested_at = fields.DateTime(required=True)
    confirmed_by = fields.String(allow_none=True)
    completed_at = fields.DateTime(allow_none=True)
    certificate = fields.Dict(
        allow_none=True,
        metadata={"description": "what was destroyed, when, by whom and why, with the SHA-256 of its canonical JSON"},
    )


class ErasureListArgs(Schema):
    status = fields.String(validate=validate.OneOf((REQUESTED, DONE, WITHDRAWN)))
    client_id = fields.Integer()


class ErasureListSchema(Schema):
    items = fields.List(fields.Nested(ErasureSchema), required=True)


class DueArgs(Schema):
    within_days = fields.Integer(load_default=30, validate=validate.Range(min=0, max=3660))


class DueClientSchema(Schema):
    client_id = fields.Integer(required=True)
    name = fields.String(required=True)
    status = fields.String(required=True)
    deleted_at = fields.DateTime(allow_none=True)
    due_at = fields.DateTime(required=True)
    blockers = fields.List(fields.String(), required=True, metadata={"description": "why it cannot be erased yet"})


class DueSchema(Schema):
    policy_years = fields.Integer(allow_none=True, metadata={"description": "ATRIUM_ERASE_AFTER_YEARS; null: none"})
    items = fields.List(fields.Nested(DueClientSchema), required=True)


def _settings():
    return current_app.extensions["atrium.settings"]


@blp.route("/clients/<id:client_id>/erase", methods=["POST"])
@requires("clients:erase")
@blp.arguments(EraseSchema)
@blp.response(202, ErasureSchema, description="Requested: a second admin must confirm it")
@blp.alt_response(200, schema=ErasureSchema, description="Erased at once (ATRIUM_ERASURE_CONFIRMATION=false)")
@errors(blp, 404, 409, 422)
def erase_client(data, client_id):
    """Ask to destroy a client's personal data beyond recovery (deleted or not). Refused (409) while it has
    open engagements or running processes. By default a second admin confirms it
    (`POST /api/erasures/{id}/confirm`); the other admins are told."""
    engine = process_engine()
    with engine.transaction() as session:
        erasure = erasure_service.request_erasure(
            session,
            engine,
            client_id,
            reason=data["reason"],
            actor=g.account.username,
            confirmation_required=_settings().erasure_confirmation,
        )
        return erasure, (202 if erasure.status == REQUESTED else 200)


@blp.route("/erasures")
@requires("clients:erase")
@blp.arguments(ErasureListArgs, location="query")
@blp.response(200, ErasureListSchema)
@errors(blp, 422)
def list_erasures(args):
    """Erasure requests and done erasures, newest first."""
    query = select(Erasure).order_by(Erasure.id.desc()).limit(500)
    if "status" in args:
        query = query.where(Erasure.status == args["status"])
    if "client_id" in args:
        query = query.where(Erasure.client_id == args["client_id"])
    with process_engine().transaction() as session:
        return {"items": list(session.scalars(query))}


@blp.route("/erasures/due")
@requires("clients:erase")
@blp.arguments(DueArgs, location="query")
@blp.response(200, DueSchema)
@errors(blp, 422)
def due_erasures(args):
    """The retention policy's preview: the clients it erases within `within_days`, and what blocks each."""
    years = _settings().erase_after_years
    if not years:
        return {"policy_years": None, "items": []}
    with process_engine().transaction() as session:
        items = erasure_service.due_for_erasure(session, years=years, now=clock.now(), within_days=args["within_days"])
        locale = request_locale()
        for item in items:
            item["blockers"] = [translate(blocker, locale) for blocker in item["blockers"]]
        return {"policy_years": years, "items": items}


@blp.route("/erasures/<id:erasure_id>")
@requires("clients:erase")
@blp.response(200, ErasureSchema)
@errors(blp, 404)
def get_erasure(erasure_id):
    """One erasure; once done, with its certificate of destruction."""
    with process_engine().transaction() as session:
        erasure = session.get(Erasure, erasure_id)
        if erasure is None:
            raise NotFound(f"erasure {erasure_id} not found")
        return erasure


@blp.route("/erasures/<id:erasure_id>/certificate.pdf")
@requires("clients:erase")
@blp.doc(
    responses={
        "200": {
            "description": "The certificate of destruction as a PDF, in the request's language",
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        }
    }
)
@errors(blp, 404, 409)
def get_certificate_pdf(erasure_id):
    """The certificate of a done erasure, to print or file, in the request's language (Accept-Language)."""
    with process_engine().transaction() as session:
        erasure = session.get(Erasure, erasure_id)
        if erasure is None:
            raise NotFound(f"erasure {erasure_id} not found")
        if erasure.certificate is None:
            raise Conflict(f"erasure {erasure_id} is {erasure.status}, not done: it has no certificate yet")
        cert = erasure.certificate
    document = erasure_certificate_pdf(cert, locale=request_locale())
    return Response(
        document,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="erasure-{erasure_id}-certificate.pdf"'},
    )


@blp.route("/erasures/<id:erasure_id>/confirm", methods=["POST"])
@requires("clients:erase")
@blp.response(200, ErasureSchema)
@errors(blp, 404, 409)
def confirm_erasure(erasure_id):
    """Confirm another admin's request: the client is erased now, and the certificate returned."""
    engine = process_engine()
    with engine.transaction() as session:
        return erasure_service.confirm_erasure(session, engine, erasure_id, actor=g.account.username)


@blp.route("/erasures/<id:erasure_id>/withdraw", methods=["POST"])
@requires("clients:erase")
@blp.response(200, ErasureSchema)
@errors(blp, 404, 409)
def withdraw_erasure(erasure_id):
    """Withdraw a request not yet confirmed."""
    with process_engine().transaction() as session:
        return erasure_service.withdraw_erasure(session, erasure_id, actor=g.account.username)

"""The records kept under a client, one shape for all: `/api/clients/{id}/<kind>` lists and creates,
`/api/clients/{id}/<kind>/{record_id}` reads, patches and deletes. Visibility follows the client."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import g
from flask.views import MethodView
from marshmallow import ValidationError, fields, pre_load, validate, validates_schema
from sqlalchemy import func, select

from atrium import complaints, masking, service_requests
from atrium.client_records import PROCESS_OWNED, check_process_fields, create_record, delete_record, update_record
from atrium.errors import NotFound
from storage.accounts import LOCALES
from storage.client_records import (
    CHANNELS,
    COMPLAINT_STATUSES,
    ENGAGEMENT_STATUSES,
    FEE_BASES,
    FEEDBACK_SUBJECTS,
    FOLLOW_UP_OUTCOMES,
    PRIORITIES,
    REQUEST_STATUSES,
    SEVERITIES,
    SOFT_DELETED,
    Complaint,
    Engagement,
    Feedback,
    FollowUp,
    ServiceRequest,
    live,
)
from storage.clients import Contact

from .clients import MaskedSchema, blp, caller_masking, process_engine, visible_client
from .docs import errors
from .pagination import PageArgs, envelope, page_query, page_schema
from .permissions import LEADS, requires
from .schema_base import Schema

Username = lambda **kw: fields.String(validate=validate.Length(min=1, max=100), allow_none=True, **kw)  # noqa: E731


def _fail(message: str):
    raise ValidationError(message)


def _text(limit: int = 20000, **kw):
    return fields.String(validate=validate.Length(max=limit), allow_none=True, **kw)


class ContactSchema(MaskedSchema):
    id = fields.Integer(dump_only=True)
    client_id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=300))
    role = _text(200)
    phones = fields.List(
        fields.String(validate=validate.Length(min=1, max=50)), validate=validate.Length(max=20), load_default=list
    )
    emails = fields.List(
        fields.Email(validate=validate.Length(max=320)), validate=validate.Length(max=20), load_default=list
    )
    notes = _text()
    locale = fields.String(
        allow_none=True,
        validate=validate.OneOf(LOCALES),
        metadata={"description": "the language of mail to this person; null: their client's"},
    )
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class EngagementSchema(Schema):
    id = fields.Integer(dump_only=True)
    client_id = fields.Integer(dump_only=True)
    service_type = fields.String(required=True, validate=validate.Length(min=1, max=100))
    description = _text()
    responsible = Username(metadata={"description": "username of the responsible employee"})
    start_date = fields.Date(allow_none=True)
    end_date = fields.Date(allow_none=True)
    status = fields.String(validate=validate.OneOf(ENGAGEMENT_STATUSES), load_default="proposed")
    fee_basis = fields.String(validate=validate.OneOf(FEE_BASES), load_default="fixed")
    fee_amount = fields.Decimal(
        places=2,
        as_string=True,
        allow_none=True,
        allow_nan=False,
        validate=lambda v: 0 <= v < 10**12 or _fail("must be between 0 and 10^12"),
        metadata={"description": 'a decimal string, e.g. "4800.00"'},
    )
    adverse_parties = fields.List(
        fields.String(validate=validate.Length(min=1, max=300)),
        validate=validate.Length(max=50),
        load_default=list,
        metadata={"description": "parties on the other side; the conflict check reads them"},
    )
    instance_id = fields.UUID(dump_only=True, allow_none=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)

    @validates_schema
    def _dates_in_order(self, data, **kwargs):
        if data.get("start_date") and data.get("end_date") and data["end_date"] < data["start_date"]:
            raise ValidationError({"end_date": ["must not be before start_date"]})


class FollowUpSchema(Schema):
    id = fields.Integer(dump_only=True)
    client_id = fields.Integer(dump_only=True)
    planned_at = fields.AwareDateTime(allow_none=True)
    done_at = fields.AwareDateTime(allow_none=True)
    done_by = Username()
    channel = fields.String(validate=validate.OneOf(CHANNELS), load_default="call")
    content = _text()
    outcome = fields.String(validate=validate.OneOf(FOLLOW_UP_OUTCOMES), allow_none=True)
    next_step = _text()
    instance_id = fields.UUID(dump_only=True, allow_none=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class ServiceRequestSchema(Schema):
    id = fields.Integer(dump_only=True)
    client_id = fields.Integer(dump_only=True)
    title = fields.String(required=True, validate=validate.Length(min=1, max=300))
    type = _text(100)
    content = _text()
    priority = fields.String(validate=validate.OneOf(PRIORITIES), load_default="normal")
    status = fields.String(validate=validate.OneOf(REQUEST_STATUSES), load_default="new")
    source = fields.String(validate=validate.OneOf(["staff", "integration"]), load_default="staff")
    sla_due_at = fields.AwareDateTime(
        allow_none=True, metadata={"description": "when it is due: set by triage from sla_due_times"}
    )
    sla_due_times = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        dump_only=True,
        allow_none=True,
        metadata={
            "description": "the SLA due time of each priority, fixed when the request "
            "was received (ATRIUM_SERVICE_REQUEST_SLA then)"
        },
    )
    assignee = Username()
    resolution = _text()
    rating = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=5))
    instance_id = fields.UUID(dump_only=True, allow_none=True)
    created_by = fields.String(dump_only=True, allow_none=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)
    resolved_at = fields.DateTime(dump_only=True, allow_none=True)
    closed_at = fields.DateTime(dump_only=True, allow_none=True)


def _seconds_between(start, end) -> int | None:
    return int((end - start).total_seconds()) if start and end else None


class ComplaintSchema(Schema):
    id = fields.Integer(dump_only=True)
    client_id = fields.Integer(dump_only=True)
    severity = fields.String(validate=validate.OneOf(SEVERITIES), load_default="medium")
    description = fields.String(required=True, validate=validate.Length(min=1, max=20000))
    status = fields.String(validate=validate.OneOf(COMPLAINT_STATUSES), load_default="registered")
    resolution = _text()
    satisfaction = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=5))
    received_at = fields.AwareDateTime(metadata={"description": "defaults to now"})
    acknowledge_due_at = fields.DateTime(
        dump_only=True,
        allow_none=True,
        metadata={
            "description": "when it must be acknowledged by, fixed when it was received "
            "(ATRIUM_COMPLAINT_ACKNOWLEDGE_HOURS then)"
        },
    )
    acknowledged_at = fields.DateTime(dump_only=True, allow_none=True)
    resolved_at = fields.DateTime(dump_only=True, allow_none=True)
    closed_at = fields.DateTime(dump_only=True, allow_none=True)
    seconds_to_acknowledge = fields.Function(
        lambda c: _seconds_between(c.received_at, c.acknowledged_at), dump_only=True, allow_none=True
    )
    seconds_to_resolve = fields.Function(
        lambda c: _seconds_between(c.received_at, c.resolved_at), dump_only=True, allow_none=True
    )
    seconds_to_close = fields.Function(
        lambda c: _seconds_between(c.received_at, c.closed_at), dump_only=True, allow_none=True
    )
    escalated_at = fields.DateTime(
        dump_only=True, allow_none=True, metadata={"description": "set when it was not acknowledged in time"}
    )
    escalated_to = fields.String(
        dump_only=True, allow_none=True, metadata={"description": "managers told, comma-separated"}
    )
    transitions = fields.List(
        fields.Dict(),
        dump_only=True,
        allow_none=True,
        metadata={"description": "every status change: {status, at, by}"},
    )
    instance_id = fields.UUID(dump_only=True, allow_none=True)
    created_by = fields.String(dump_only=True, allow_none=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class FeedbackSchema(Schema):
    id = fields.Integer(dump_only=True)
    client_id = fields.Integer(dump_only=True)
    csat = fields.Integer(
        allow_none=True,
        validate=validate.Range(min=1, max=5),
        metadata={"description": "customer satisfaction, 1 (very poor) to 5 (excellent)"},
    )
    nps = fields.Integer(
        allow_none=True,
        validate=validate.Range(min=0, max=10),
        metadata={"description": "likelihood to recommend, 0 to 10"},
    )
    comment = _text()
    subject_type = fields.String(validate=validate.OneOf(FEEDBACK_SUBJECTS), allow_none=True)
    subject_id = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=2**62))
    created_by = fields.String(dump_only=True, allow_none=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)

    @validates_schema
    def _rates_something(self, data, partial=False, **kwargs):
        if not partial and data.get("csat") is None and data.get("nps") is None:
            raise ValidationError({"csat": ["give csat, nps or both"]})
        if (data.get("subject_type") is None) != (data.get("subject_id") is None) and not partial:
            raise ValidationError({"subject_id": ["subject_type and subject_id go together"]})


@dataclass(frozen=True)
class RecordKind:
    """One kind of record kept under a client."""

    path: str  # URL segment, e.g. "follow-ups"
    label: str  # singular, for audit actions and OpenAPI names, e.g. "follow_up"
    model: type
    schema: type[Schema]
    order: Any  # lists are newest first by this column
    # The domain function that records a new one (and starts its process, audits it):
    # fn(engine, session, client_id, data, *, actor) -> record.
    create: Callable | None = None

    def record(self, engine, session, client_id: int, data: dict, *, actor: str):
        if self.create is not None:
            return self.create(engine, session, client_id, data, actor=actor)
        return create_record(engine, session, self.model, client_id, data, actor=actor)


RECORD_KINDS = [
    RecordKind("contacts", "contact", Contact, ContactSchema, Contact.id),
    RecordKind("engagements", "engagement", Engagement, EngagementSchema, Engagement.id),
    RecordKind("follow-ups", "follow_up", FollowUp, FollowUpSchema, FollowUp.id),
    RecordKind(
        "service-requests",
        "service_request",
        ServiceRequest,
        ServiceRequestSchema,
        ServiceRequest.id,
        create=service_requests.record_request,
    ),
    RecordKind("complaints", "complaint", Complaint, ComplaintSchema, Complaint.id, create=complaints.record_complaint),
    RecordKind("feedback", "feedback", Feedback, FeedbackSchema, Feedback.id),
]


def record_kind(label: str) -> RecordKind:
    return next(kind for kind in RECORD_KINDS if kind.label == label)


def _record_or_raise(session, kind: RecordKind, client_id: int, record_id: int):
    """The record, unless it is another client's or deleted (soft-deleted rows are kept, not shown)."""
    record = session.get(kind.model, record_id)
    if record is None or record.client_id != client_id or getattr(record, "deleted_at", None) is not None:
        raise NotFound(f"{kind.label.replace('_', ' ')} {record_id} of client {client_id} not found")
    return record


def _guarded(kind: RecordKind, name: str, *, creating: bool) -> type[Schema]:
    """`kind.schema` with the fields its process owns read-only (so documented), refused by name with the
    process that sets them rather than as unknown fields."""
    owned = PROCESS_OWNED.get(kind.model)
    if owned is None or owned.linked_only:  # a follow-up is checked against the record, in the view
        return kind.schema if creating else type(f"{name}PatchSchema", (kind.schema,), {})
    read_only = owned.fields - owned.set_on_create if creating else owned.fields

    def refuse_process_fields(self, data, **kwargs):
        if isinstance(data, dict):
            check_process_fields(kind.model, data, creating=creating)
        return data

    meta = type("Meta", (), {"dump_only": tuple(sorted(read_only))})
    return type(
        f"{name}{'Create' if creating else 'Patch'}Schema",
        (kind.schema,),
        {"Meta": meta, "refuse_process_fields": pre_load(refuse_process_fields)},
    )


def _register(kind: RecordKind) -> None:
    name = "".join(part.title() for part in kind.label.split("_"))
    page = page_schema(kind.schema, f"{name}Page")
    create_schema = _guarded(kind, name, creating=True)
    patch_schema = _guarded(kind, name, creating=False)

    class Collection(MethodView):
        @requires("clients:read")
        @blp.arguments(PageArgs, location="query")
        @blp.response(200, page)
        @errors(blp, 404, 422)
        def get(self, args, client_id):
            with process_engine().transaction() as session:
                visible_client(session, client_id)
                condition = (kind.model.client_id == client_id) & live(kind.model)
                rows, total = page_query(
                    session,
                    select(kind.model).where(condition).order_by(kind.order.desc()),
                    select(func.count()).select_from(kind.model).where(condition),
                    args,
                )
                return envelope([row[0] for row in rows], total, args)

        @requires("records:write")
        @blp.arguments(create_schema)
        @blp.response(201, kind.schema)
        @errors(blp, 404, 409, 422)
        def post(self, data, client_id):
            engine = process_engine()
            with engine.transaction() as session:
                visible_client(session, client_id)
                return kind.record(engine, session, client_id, data, actor=g.account.username)

    class Item(MethodView):
        @requires("clients:read")
        @blp.response(200, kind.schema)
        @errors(blp, 404)
        def get(self, client_id, record_id):
            with process_engine().transaction() as session:
                visible_client(session, client_id)
                return _record_or_raise(session, kind, client_id, record_id)

        @requires("records:write")
        @blp.arguments(patch_schema(partial=True))
        @blp.response(200, kind.schema)
        @errors(blp, 404, 422)
        def patch(self, data, client_id, record_id):
            with process_engine().transaction() as session:
                visible_client(session, client_id)
                record = _record_or_raise(session, kind, client_id, record_id)
                if kind.model is Contact:  # what a masked reader was shown, sent back, changes nothing
                    data = masking.unmasked_input(data, record, caller_masking(session))
                return update_record(session, record, data, actor=g.account.username)

        @requires("records:write")
        @blp.response(204)
        @errors(blp, 403, 404, 409)
        def delete(self, client_id, record_id):
            with process_engine().transaction() as session:
                visible_client(session, client_id)
                record = _record_or_raise(session, kind, client_id, record_id)
                content = kind.schema().dump(record) if kind.model in SOFT_DELETED else None
                delete_record(
                    session,
                    record,
                    actor=g.account.username,
                    is_lead=bool(set(g.account.roles) & LEADS),
                    content=content,
                )

    plural = kind.path.replace("-", " ")
    Collection.get.__doc__ = f"List a client's {plural}, newest first."
    Collection.post.__doc__ = f"Add a {kind.label.replace('_', ' ')} to a client."
    Item.get.__doc__ = f"One of a client's {plural}."
    Item.patch.__doc__ = f"Change some fields of one of a client's {plural}."
    Item.delete.__doc__ = (
        f"Delete one of a client's {plural}."
        + (
            " It is kept, hidden from lists and statistics, with its content in the audit trail; leads only."
            if kind.model in SOFT_DELETED
            else ""
        )
        + (" Refused (409) while its process is running." if hasattr(kind.model, "instance_id") else "")
    )
    blp.route(f"/<id:client_id>/{kind.path}", endpoint=f"{kind.label}_collection")(Collection)
    blp.route(f"/<id:client_id>/{kind.path}/<id:record_id>", endpoint=f"{kind.label}_item")(Item)


for _kind in RECORD_KINDS:
    _register(_kind)

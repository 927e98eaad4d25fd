"""Time, invoice requests, invoices and payments over HTTP (issue 15, "data in").

People record time on the engagements of clients they may see; an integration with `time:write` records
anyone's. Leads and an engagement's responsible partner request invoices. The finance system (scope
`invoices:write` / `payments:write`, or an admin) posts the invoices it issued and the payments it received,
each with an `Idempotency-Key`. Staff read the invoices and payments of clients they may see. The rules
live in atrium/time_entries.py and atrium/billing.py."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import ValidationError, fields, validate, validates_schema
from sqlalchemy import func, select

from atrium import billing, time_entries
from atrium.errors import Forbidden, NotFound
from storage.billing import INVOICE_STATUSES, Invoice, InvoiceRequest, Payment, TimeEntry
from storage.clients import Client

from .clients import owners_visible_to_caller, process_engine
from .docs import errors
from .idempotency import idempotent
from .pagination import PageArgs, envelope, page_query, page_schema
from .permissions import LEADS, requires, requires_scope
from .schema_base import Schema

blp = Blueprint("billing", __name__, url_prefix="/api", description="Time, invoice requests, invoices and payments")


def _cents(value: Decimal) -> None:
    try:
        exact = value == value.quantize(Decimal("0.01"))
    except InvalidOperation:  # too large to have cents at the context's precision
        exact = False
    if not exact:
        raise ValidationError("at most two decimals")


def _between(low: Decimal, high: Decimal, *, above_low: bool = False):
    """A bound check on an amount (validate.Range on a Decimal sent as a string would put its bounds in the
    OpenAPI document as strings, which is not valid there)."""

    def check(value: Decimal) -> None:
        if value < low or (above_low and value == low) or value > high:
            raise ValidationError(f"must be {'more than' if above_low else 'at least'} {low} and at most {high}")

    return check


def Amount(**kw):  # noqa: N802 -- a field factory, named like the fields it makes
    return fields.Decimal(
        as_string=True, allow_nan=False, validate=[_between(Decimal(0), Decimal("999999999999.99")), _cents], **kw
    )


# -- schemas -------------------------------------------------------------------------------------------------


class TimeEntryIn(Schema):
    person = fields.String(
        validate=validate.Length(min=1, max=100),
        metadata={"description": "who did the work: yourself by default; someone else for leads and integrations"},
    )
    work_date = fields.Date(required=True)
    hours = fields.Decimal(
        required=True,
        as_string=True,
        allow_nan=False,
        validate=[_between(Decimal(0), Decimal(24), above_low=True), _cents],
        metadata={"description": "more than 0, at most 24, two decimals; above ATRIUM_TIME_APPROVAL_HOURS it waits"},
    )
    billable = fields.Boolean(load_default=True)
    description = fields.String(validate=validate.Length(max=2000), allow_none=True)


class TimeEntryOut(Schema):
    id = fields.Integer()
    engagement_id = fields.Integer()
    client_id = fields.Integer()
    person = fields.String()
    work_date = fields.Date()
    hours = fields.Decimal(as_string=True)
    billable = fields.Boolean()
    description = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "recorded, pending_approval, approved or rejected"})
    instance_id = fields.UUID(allow_none=True, metadata={"description": "the approval process, when one was needed"})
    invoice_request_id = fields.Integer(allow_none=True)
    recorded_by = fields.String(allow_none=True)
    recorded_at = fields.DateTime()
    decided_by = fields.String(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)


class TimeEntryQuery(PageArgs):
    status = fields.String(validate=validate.OneOf(("recorded", "pending_approval", "approved", "rejected")))
    person = fields.String(validate=validate.Length(min=1, max=100))


class InvoiceRequestIn(Schema):
    until = fields.Date(metadata={"description": "bill time worked up to this day (default: all unbilled time)"})
    period_start = fields.Date(metadata={"description": "retainer: the first month billed (any day of it)"})
    period_end = fields.Date(metadata={"description": "retainer: the last month billed (any day of it)"})


class LineOut(Schema):
    kind = fields.String()
    description = fields.String()
    quantity = fields.String()
    unit_amount = fields.String()
    amount = fields.String()
    time_entry_ids = fields.List(fields.Integer())
    months = fields.List(fields.String())


class InvoiceRequestOut(Schema):
    id = fields.Integer()
    engagement_id = fields.Integer()
    client_id = fields.Integer()
    status = fields.String()
    currency = fields.String()
    lines = fields.List(fields.Nested(LineOut))
    total = fields.Decimal(as_string=True)
    requested_by = fields.String(allow_none=True)
    requested_at = fields.DateTime()


class InvoiceIn(Schema):
    number = fields.String(required=True, validate=validate.Length(min=1, max=50))
    engagement_id = fields.Integer(validate=validate.Range(min=1, max=2**62))
    invoice_request_id = fields.Integer(validate=validate.Range(min=1, max=2**62))
    currency = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{3}$", error="an ISO 4217 code"))
    net_amount = Amount(required=True)
    tax_amount = Amount(required=True)
    total_amount = Amount(required=True, metadata={"description": "net_amount + tax_amount"})
    issue_date = fields.Date(required=True)
    due_date = fields.Date(required=True)
    status = fields.String(load_default="issued", validate=validate.OneOf(INVOICE_STATUSES))

    @validates_schema
    def names_what_it_bills(self, data, **kwargs):
        if data.get("engagement_id") is None and data.get("invoice_request_id") is None:
            raise ValidationError("give engagement_id or invoice_request_id", "engagement_id")


class InvoiceOut(Schema):
    id = fields.Integer()
    number = fields.String()
    invoice_request_id = fields.Integer(allow_none=True)
    engagement_id = fields.Integer()
    client_id = fields.Integer()
    currency = fields.String()
    net_amount = fields.Decimal(as_string=True)
    tax_amount = fields.Decimal(as_string=True)
    total_amount = fields.Decimal(as_string=True)
    paid_amount = fields.Decimal(as_string=True)
    outstanding = fields.Decimal(as_string=True)
    issue_date = fields.Date()
    due_date = fields.Date()
    status = fields.String()
    follow_up_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class PaymentIn(Schema):
    invoice_id = fields.Integer(validate=validate.Range(min=1, max=2**62))
    invoice_number = fields.String(validate=validate.Length(min=1, max=50))
    amount = fields.Decimal(
        required=True,
        as_string=True,
        allow_nan=False,
        validate=[_between(Decimal(0), Decimal("999999999999.99"), above_low=True), _cents],
        metadata={"description": "more than 0, at most what is outstanding"},
    )
    paid_on = fields.Date(required=True)
    reference = fields.String(validate=validate.Length(max=100), allow_none=True)

    @validates_schema
    def names_one_invoice(self, data, **kwargs):
        given = [name for name in ("invoice_id", "invoice_number") if data.get(name) is not None]
        if len(given) != 1:
            raise ValidationError("give exactly one of invoice_id and invoice_number", "invoice_id")


class PaymentOut(Schema):
    id = fields.Integer()
    invoice_id = fields.Integer()
    client_id = fields.Integer()
    amount = fields.Decimal(as_string=True)
    paid_on = fields.Date()
    reference = fields.String(allow_none=True)
    recorded_by = fields.String(allow_none=True)
    recorded_at = fields.DateTime()
    outstanding = fields.Decimal(as_string=True, metadata={"description": "the invoice's, after this payment"})


class FollowUpOut(Schema):
    invoice_id = fields.Integer()
    follow_up_id = fields.Integer()


TimeEntryPage = page_schema(TimeEntryOut, "TimeEntryPage")
InvoicePage = page_schema(InvoiceOut, "InvoicePage")
PaymentPage = page_schema(PaymentOut, "PaymentPage")


# -- helpers -------------------------------------------------------------------------------------------------


def _integration() -> bool:
    return g.get("integration") is not None


def _is_lead() -> bool:
    return not _integration() and bool(set(g.account.roles) & LEADS)


def _owners(session):
    """Whose clients the caller sees (None: all). An integration sees every client."""
    return None if _integration() else owners_visible_to_caller(session)


def _visible_engagement(session, engagement_id: int):
    """The engagement, if its client is one the caller may see; else 404, as for one that does not exist."""
    engagement = time_entries.engagement_or_raise(session, engagement_id)
    client = session.get(Client, engagement.client_id)
    owners = _owners(session)
    if client is None or client.deleted_at is not None or (owners is not None and client.owner not in owners):
        raise NotFound(f"engagement {engagement_id} not found")
    return engagement


def _visible_client(session, client_id: int) -> Client:
    from atrium.clients import visible_client_or_raise

    return visible_client_or_raise(session, client_id, _owners(session))


def _visible_invoice(session, invoice_id: int) -> Invoice:
    invoice = session.get(Invoice, invoice_id)
    if invoice is None:
        raise NotFound(f"invoice {invoice_id} not found")
    try:
        _visible_client(session, invoice.client_id)
    except NotFound:
        raise NotFound(f"invoice {invoice_id} not found") from None
    return invoice


def _invoice_out(invoice: Invoice) -> dict:
    out = {column.key: getattr(invoice, column.key) for column in Invoice.__table__.columns}
    out["outstanding"] = billing.outstanding(invoice)
    return out


def _payment_out(payment: Payment, invoice: Invoice) -> dict:
    out = {column.key: getattr(payment, column.key) for column in Payment.__table__.columns}
    out["outstanding"] = billing.outstanding(invoice)
    return out


def _paged(session, model, condition, args, order):
    rows, total = page_query(
        session,
        select(model).where(*condition).order_by(*order),
        select(func.count()).select_from(model).where(*condition),
        args,
    )
    return [row[0] for row in rows], total


# -- time entries --------------------------------------------------------------------------------------------


@blp.route("/engagements/<id:engagement_id>/time-entries")
class TimeEntries(MethodView):
    @requires("time:read")
    @blp.arguments(TimeEntryQuery, location="query")
    @blp.response(200, TimeEntryPage)
    @errors(blp, 404, 422)
    def get(self, args, engagement_id):
        """The engagement's time entries, newest work first (clients you may see)."""
        with process_engine().transaction() as session:
            engagement = _visible_engagement(session, engagement_id)
            condition = [TimeEntry.engagement_id == engagement.id]
            if args.get("status"):
                condition.append(TimeEntry.status == args["status"])
            if args.get("person"):
                condition.append(TimeEntry.person == args["person"])
            items, total = _paged(
                session, TimeEntry, condition, args, (TimeEntry.work_date.desc(), TimeEntry.id.desc())
            )
            return envelope(items, total, args)

    @requires_scope("time:write", "time:write")
    @idempotent
    @blp.arguments(TimeEntryIn)
    @blp.response(201, TimeEntryOut)
    @errors(blp, 404, 409, 422)
    def post(self, data, engagement_id):
        """Record time on the engagement. Above ATRIUM_TIME_APPROVAL_HOURS (8) the entry is
        `pending_approval` and the engagement's responsible partner gets an approval task; otherwise it is
        `recorded` at once (event `time_entry.recorded`). Staff record their own time on clients they may
        see; leads and integrations (scope `time:write`, with an Idempotency-Key) name the person."""
        engine = process_engine()
        with engine.transaction() as session:
            engagement = _visible_engagement(session, engagement_id)
            entry = time_entries.record(
                engine,
                session,
                engagement,
                data,
                actor=g.account.username,
                may_name_others=_is_lead() or _integration(),
            )
            session.flush()
            session.refresh(entry)
            return entry


@blp.route("/engagements/<id:engagement_id>/time-entries/<id:entry_id>")
class TimeEntryOne(MethodView):
    @requires("time:read")
    @blp.response(200, TimeEntryOut)
    @errors(blp, 404)
    def get(self, engagement_id, entry_id):
        """One time entry."""
        with process_engine().transaction() as session:
            engagement = _visible_engagement(session, engagement_id)
            return time_entries.entry_or_raise(session, engagement, entry_id)

    @requires("time:write")
    @blp.response(204)
    @errors(blp, 404, 409)
    def delete(self, engagement_id, entry_id):
        """Void an entry not yet on an invoice request: who recorded it, whose time it is, or a lead. A
        pending approval is cancelled; time that had counted is announced as `time_entry.voided`."""
        engine = process_engine()
        with engine.transaction() as session:
            engagement = _visible_engagement(session, engagement_id)
            entry = time_entries.entry_or_raise(session, engagement, entry_id)
            time_entries.void(engine, session, entry, actor=g.account.username, is_lead=_is_lead())


# -- invoice requests ----------------------------------------------------------------------------------------


@blp.route("/engagements/<id:engagement_id>/invoice-requests")
class InvoiceRequests(MethodView):
    @requires("billing:read")
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(InvoiceRequestOut, "InvoiceRequestPage"))
    @errors(blp, 404, 422)
    def get(self, args, engagement_id):
        """The engagement's invoice requests, newest first."""
        with process_engine().transaction() as session:
            engagement = _visible_engagement(session, engagement_id)
            items, total = _paged(
                session,
                InvoiceRequest,
                [InvoiceRequest.engagement_id == engagement.id],
                args,
                (InvoiceRequest.requested_at.desc(), InvoiceRequest.id.desc()),
            )
            return envelope(items, total, args)

    @requires("billing:request")
    @idempotent
    @blp.arguments(InvoiceRequestIn)
    @blp.response(201, InvoiceRequestOut)
    @errors(blp, 404, 409, 422)
    def post(self, data, engagement_id):
        """Ask the finance system to invoice the engagement: its unbilled billable time (one line per
        person), its fixed fee (once) and, for a retainer, the fee per month of period_start..period_end not
        yet requested. Leads and the engagement's responsible partner. Nothing to bill: 422 saying why."""
        engine = process_engine()
        with engine.transaction() as session:
            engagement = _visible_engagement(session, engagement_id)
            request = billing.request_invoice(
                session, engine.settings, engagement, data, actor=g.account.username, is_lead=_is_lead()
            )
            session.flush()
            return request


# -- invoices ------------------------------------------------------------------------------------------------


@blp.route("/invoices")
class Invoices(MethodView):
    @requires_scope("invoices:write", "billing:write")
    @idempotent
    @blp.arguments(InvoiceIn)
    @blp.response(201, InvoiceOut)
    @errors(blp, 409, 422)
    def post(self, data):
        """Record an invoice the finance system issued (integration scope `invoices:write`, or an admin),
        with an Idempotency-Key. total_amount must be net_amount + tax_amount (422 naming it); a named
        invoice request becomes `invoiced`. Event `invoice.recorded`."""
        with process_engine().transaction() as session:
            invoice = billing.record_invoice(session, data, actor=g.account.username)
            session.flush()
            session.refresh(invoice)
            return _invoice_out(invoice)


@blp.route("/invoices/<id:invoice_id>")
class InvoiceOne(MethodView):
    @requires("billing:read")
    @blp.response(200, InvoiceOut)
    @errors(blp, 404)
    def get(self, invoice_id):
        """One invoice, with what is outstanding."""
        with process_engine().transaction() as session:
            return _invoice_out(_visible_invoice(session, invoice_id))


@blp.route("/invoices/<id:invoice_id>/payments")
class InvoicePayments(MethodView):
    @requires("billing:read")
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, PaymentPage)
    @errors(blp, 404, 422)
    def get(self, args, invoice_id):
        """The invoice's payments, newest first."""
        with process_engine().transaction() as session:
            invoice = _visible_invoice(session, invoice_id)
            items, total = _paged(
                session, Payment, [Payment.invoice_id == invoice.id], args, (Payment.paid_on.desc(), Payment.id.desc())
            )
            return envelope([_payment_out(p, invoice) for p in items], total, args)


@blp.route("/invoices/<id:invoice_id>/follow-up")
class InvoiceFollowUp(MethodView):
    @requires("billing:follow_up")
    @blp.response(201, FollowUpOut)
    @errors(blp, 404, 409)
    def post(self, invoice_id):
        """Start the follow-up of an unpaid invoice now (the daily job does it once it is past due): the
        client's owner or a lead. Once per invoice: a second is 409."""
        engine = process_engine()
        with engine.transaction() as session:
            invoice = _visible_invoice(session, invoice_id)
            client = session.get(Client, invoice.client_id)
            if not _is_lead() and client.owner != g.account.username:
                raise Forbidden("only the client's owner or a lead may start an invoice's follow-up")
            follow_up = billing.follow_up_overdue(engine, session, invoice, actor=g.account.username)
            return {"invoice_id": invoice.id, "follow_up_id": follow_up.id}


@blp.route("/engagements/<id:engagement_id>/invoices")
class EngagementInvoices(MethodView):
    @requires("billing:read")
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, InvoicePage)
    @errors(blp, 404, 422)
    def get(self, args, engagement_id):
        """The engagement's invoices, newest first."""
        with process_engine().transaction() as session:
            engagement = _visible_engagement(session, engagement_id)
            items, total = _paged(
                session,
                Invoice,
                [Invoice.engagement_id == engagement.id],
                args,
                (Invoice.issue_date.desc(), Invoice.id.desc()),
            )
            return envelope([_invoice_out(i) for i in items], total, args)


@blp.route("/clients/<id:client_id>/invoices")
class ClientInvoices(MethodView):
    @requires("billing:read")
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, InvoicePage)
    @errors(blp, 404, 422)
    def get(self, args, client_id):
        """The client's invoices, newest first."""
        with process_engine().transaction() as session:
            client = _visible_client(session, client_id)
            items, total = _paged(
                session, Invoice, [Invoice.client_id == client.id], args, (Invoice.issue_date.desc(), Invoice.id.desc())
            )
            return envelope([_invoice_out(i) for i in items], total, args)


@blp.route("/clients/<id:client_id>/payments")
class ClientPayments(MethodView):
    @requires("billing:read")
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, PaymentPage)
    @errors(blp, 404, 422)
    def get(self, args, client_id):
        """The client's payments, newest first."""
        with process_engine().transaction() as session:
            client = _visible_client(session, client_id)
            items, total = _paged(
                session, Payment, [Payment.client_id == client.id], args, (Payment.paid_on.desc(), Payment.id.desc())
            )
            wanted = {p.invoice_id for p in items}  # the page's invoices only, not every invoice of the client
            invoices = {i.id: i for i in session.scalars(select(Invoice).where(Invoice.id.in_(wanted)))}
            return envelope([_payment_out(p, invoices[p.invoice_id]) for p in items], total, args)


# -- payments ------------------------------------------------------------------------------------------------


@blp.route("/payments")
class Payments(MethodView):
    @requires_scope("payments:write", "billing:write")
    @idempotent
    @blp.arguments(PaymentIn)
    @blp.response(201, PaymentOut)
    @errors(blp, 409, 422)
    def post(self, data):
        """Record a payment of an invoice (integration scope `payments:write`, or an admin), with an
        Idempotency-Key: amount more than 0 and at most what is outstanding (422 naming `amount`). The
        invoice's paid_amount grows in the same transaction. Event `payment.recorded` with what is left."""
        with process_engine().transaction() as session:
            payment, invoice = billing.record_payment(session, data, actor=g.account.username)
            return _payment_out(payment, invoice)

"""Finance views: a client's billing (billed, paid, outstanding, overdue, unbilled time, its invoices), visible
as the client is; and the voucher export for a Chinese finance package (Kingdee or Yonyou, CSV or XLSX)."""

from __future__ import annotations

from flask import Response, current_app, g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate, validates_schema

from atrium import billing_summary, clock
from atrium import vouchers as voucher_service
from atrium.clients import sees_client
from atrium.errors import InvalidInput
from atrium.i18n import translate

from . import clients as client_api
from .audit import record as audit_record
from .docs import errors
from .permissions import has_permission, requires
from .schema_base import Schema

blp = Blueprint("finance", __name__, url_prefix="/api/finance", description="Finance: voucher export")

CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_PERIOD_DAYS = 366


def _money(metadata: dict | None = None):
    """An amount as a decimal string with two places ("14300.00"): never a float on the wire."""
    return fields.Decimal(
        as_string=True,
        places=2,
        required=True,
        metadata={"type": "string", "format": "decimal", "example": "14300.00", **(metadata or {})},
    )


class FiguresSchema(Schema):
    currency = fields.String(required=True)
    billed = _money(metadata={"description": "invoices' totals, cancelled ones left out"})
    paid = _money(metadata={"description": "payments received on them"})
    outstanding = _money(metadata={"description": "billed - paid"})
    overdue = _money(metadata={"description": "the outstanding part of invoices past their due date"})


class EngagementBillingSchema(Schema):
    engagement_id = fields.Integer(required=True)
    service_type = fields.String(required=True)
    description = fields.String(allow_none=True, required=True)
    figures = fields.List(fields.Nested(FiguresSchema), required=True, metadata={"description": "one per currency"})
    unbilled_hours = _money()
    unbilled_value = _money(metadata={"description": "hours x the engagement's hourly fee (0 for other fee bases)"})


class InvoiceSchema(Schema):
    id = fields.Integer(required=True)
    number = fields.String(required=True)
    engagement_id = fields.Integer(required=True)
    currency = fields.String(required=True)
    issue_date = fields.Date(required=True)
    due_date = fields.Date(required=True)
    total_amount = _money()
    paid_amount = _money()
    outstanding = _money()
    state = fields.String(required=True, validate=validate.OneOf(billing_summary.INVOICE_STATES))
    days_overdue = fields.Integer(required=True)


class ClientBillingSchema(Schema):
    client_id = fields.Integer(required=True)
    as_of = fields.Date(required=True, metadata={"description": "the day the figures are for (today)"})
    currency = fields.String(required=True, metadata={"description": "the currency unbilled time is valued in"})
    totals = fields.List(fields.Nested(FiguresSchema), required=True, metadata={"description": "one per currency"})
    unbilled_hours = _money()
    unbilled_value = _money()
    engagements = fields.List(fields.Nested(EngagementBillingSchema), required=True)
    invoices = fields.List(fields.Nested(InvoiceSchema), required=True)


@client_api.blp.route("/<id:client_id>/billing")
class ClientBilling(MethodView):
    @requires("clients:read")
    @client_api.blp.response(200, ClientBillingSchema)
    @errors(client_api.blp, 404)
    def get(self, client_id):
        """A client's billing: billed, paid, outstanding and overdue per currency, unbilled time, a row per
        engagement and its invoices with their state (paid, partly_paid, overdue, open, cancelled). Visible
        as the client is: another team's client is the same 404 as one that does not exist."""
        with client_api.process_engine().transaction() as session:
            client = client_api.visible_client(session, client_id)
            client_api.client_service.record_read_other_team(
                session, client, g.account, sees_all=has_permission(g.account.roles, "clients:read_all")
            )
            billing = billing_summary.client_billing(session, client.id)
            billing["currency"] = billing["totals"][0]["currency"] if billing["totals"] else "CNY"
            return billing


class VoucherArgs(Schema):
    from_ = fields.Date(required=True, data_key="from", metadata={"description": "first day (YYYY-MM-DD)"})
    to = fields.Date(required=True, metadata={"description": "last day, included"})
    layout = fields.String(required=True, validate=validate.OneOf(voucher_service.LAYOUTS))
    format = fields.String(load_default="csv", validate=validate.OneOf(voucher_service.FORMATS))

    @validates_schema
    def _period(self, data, **_):
        if "from_" not in data or "to" not in data:
            return
        if data["to"] < data["from_"]:
            raise InvalidInput("`to` is before `from`", {"to": ["must not be before from"]})
        if (data["to"] - data["from_"]).days > MAX_PERIOD_DAYS:
            raise InvalidInput("the period is longer than a year", {"to": ["at most a year after from"]})


VOUCHER_RESPONSE = {
    "200": {
        "description": "The vouchers as the package's import file (attachment)",
        "content": {CSV: {"schema": {"type": "string"}}, XLSX: {"schema": {"type": "string", "format": "binary"}}},
    }
}


@blp.route("/vouchers")
class Vouchers(MethodView):
    @requires("finance:export")
    @blp.arguments(VoucherArgs, location="query")
    @blp.doc(responses=VOUCHER_RESPONSE)
    @errors(blp, 422)
    def get(self, args):
        """Vouchers for the invoices issued (Dr receivable, Cr revenue and output VAT) and payments received
        (Dr bank, Cr receivable) in the period, in Kingdee's or Yonyou's import layout, as CSV (UTF-8 with
        BOM) or XLSX. Every voucher balances; a client whose name you may not see is written by number."""
        layout, form = args["layout"], args["format"]
        with client_api.process_engine().transaction() as session:
            owners = client_api.owners_visible_to_caller(session)

            def shown_name(client) -> str:
                if client.erased_at is not None or not sees_client(owners, client.owner):
                    return translate("finance.voucher.client_number", voucher_service.LOCALE, id=client.id)
                return client.name

            lines = voucher_service.voucher_lines(
                session,
                date_from=args["from_"],
                date_to=args["to"],
                accounts=current_app.extensions["atrium.settings"].voucher_accounts,
                shown_name=shown_name,
            )
            audit_record(
                session,
                "finance.vouchers_export",
                target="vouchers",
                detail={
                    "layout": layout,
                    "format": form,
                    "from": args["from_"].isoformat(),
                    "to": args["to"].isoformat(),
                    "vouchers": len({line.voucher for line in lines}),
                    "lines": len(lines),
                },
            )
        filename = f"vouchers-{layout}-{args['from_']:%Y%m%d}-{args['to']:%Y%m%d}-{clock.now():%H%M}.{form}"
        if form == "xlsx":
            body, mimetype = voucher_service.write_xlsx(layout, lines), XLSX
        else:
            body, mimetype = voucher_service.write_csv(layout, lines), CSV
        response = Response(
            body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
        )
        if form == "csv":
            response.mimetype_params["charset"] = "utf-8"
        return response

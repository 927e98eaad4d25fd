"""Reports: the catalogue, a report made on request (JSON, HTML, PDF, XLSX), schedules and their runs."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import Response, g, jsonify
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate, validates_schema
from sqlalchemy import func, select

from atrium import clock
from atrium.errors import Forbidden, InvalidInput, NotFound
from atrium.i18n import SUPPORTED
from reports.catalogue import REPORTS
from reports.making import FILTER_NAMES, MEDIA_TYPES, Viewer, make, report_or_raise, resolve_filters
from reports.periods import PERIODS, period_dates
from reports.render import RenderError
from reports.scheduling import create_schedule, delete_schedule
from storage.reports import FAILED, QUEUED, SUCCEEDED, ReportRun, ReportSchedule, pdf_filename

from .audit import record as audit_record
from .clients import process_engine
from .docs import errors
from .locale import request_locale
from .operations import Unavailable
from .pagination import PageArgs, envelope, page_query, page_schema
from .permissions import has_permission, requires
from .schema_base import Schema

log = logging.getLogger(__name__)
blp = Blueprint("reports", __name__, url_prefix="/api", description="Statistics, reports and their schedules")

MAX_PERIOD_DAYS = 3 * 366


class ReportInfoSchema(Schema):
    name = fields.String()
    title = fields.String()
    description = fields.String()
    formats = fields.List(fields.String())
    tables = fields.List(fields.String(), metadata={"description": "the statistics the report shows, in order"})


class ReportFilterArgs(Schema):
    owner = fields.String(
        validate=validate.Length(max=100), metadata={"description": "clients of this account manager"}
    )
    team = fields.String(validate=validate.Length(max=100), metadata={"description": "clients of this team's members"})
    service_type = fields.String(validate=validate.Length(max=100))
    process_key = fields.String(validate=validate.Length(max=200))


class ReportArgs(ReportFilterArgs):
    from_ = fields.Date(required=True, data_key="from", metadata={"description": "first day of the period"})
    to = fields.Date(required=True, metadata={"description": "last day of the period (included)"})
    format = fields.String(load_default="json", validate=validate.OneOf(list(MEDIA_TYPES)))

    @validates_schema
    def _period(self, data, **_):
        if data["to"] < data["from_"]:
            raise InvalidInput("`to` is before `from`", {"to": ["must not be before from"]})
        if (data["to"] - data["from_"]).days > MAX_PERIOD_DAYS:
            raise InvalidInput("the period is longer than three years", {"to": ["at most three years after from"]})


REPORT_RESPONSE = {
    "200": {
        "description": "The report: JSON tables, an HTML page, a PDF or an XLSX workbook",
        "content": {
            media: {
                "schema": {"type": "object"}
                if name == "json"
                else {"type": "string", "format": "binary" if name in ("pdf", "xlsx") else None}
            }
            for name, media in MEDIA_TYPES.items()
        },
    }
}


def _reader_locale() -> str:
    """The caller's language: the one their account chose, else the one their browser asks for (a report
    opened from a link carries the browser's Accept-Language, not the web app's)."""
    chosen = getattr(g.account, "locale", None)
    return chosen if chosen in SUPPORTED else request_locale()


def _viewer() -> Viewer:
    return Viewer(g.account.username, tuple(g.account.roles), _reader_locale())


@blp.route("/reports")
@requires("reports:read")
@blp.response(200, ReportInfoSchema(many=True))
@errors(blp)
def list_reports():
    """The catalogue of named reports, titled in the caller's language."""
    locale = _reader_locale()
    return [
        {
            "name": r.name,
            "title": r.title_in(locale),
            "description": r.description_in(locale),
            "formats": list(MEDIA_TYPES),
            "tables": [s.__name__ for s in r.statistics],
        }
        for r in REPORTS.values()
    ]


@blp.route("/reports/<name>")
@requires("reports:read")
@blp.arguments(ReportArgs, location="query")
@blp.doc(responses=REPORT_RESPONSE)
@errors(blp, 403, 404, 422, 503)
def get_report(args, name):
    """A report for a period (both days included) and optional filters, in the caller's language (their account's,
    else Accept-Language); account managers get their own clients' figures."""
    report = report_or_raise(name)
    parameters = {k: args[k] for k in FILTER_NAMES if args.get(k)}
    settings = process_engine().settings
    # The figures are read on the read replica when one is set (ATRIUM_DATABASE_REPLICA_URL); the audit row
    # that says they left is written on the primary, after them.
    with process_engine().read_transaction() as session:
        filters = resolve_filters(session, _viewer(), args["from_"], args["to"] + timedelta(days=1), parameters)
        try:
            made = make(session, report, filters, args["format"], generated_at=clock.now(), firm=settings.firm_name)
        except RenderError as exc:  # the figures are there but the document cannot be made: say why
            log.error("report %s could not be rendered: %s", name, exc)
            raise Unavailable(f"the report could not be rendered: {exc}") from None
    with process_engine().transaction() as session:
        # Client figures leave the database: the trail says which, for whom, in what form.
        audit_record(
            session,
            "report.view",
            target=f"report:{report.name}",
            detail={
                "from": args["from_"].isoformat(),
                "to": args["to"].isoformat(),
                "format": args["format"],
                "parameters": parameters,
            },
        )
    if args["format"] == "json":
        return jsonify(made)
    response = Response(made, mimetype=MEDIA_TYPES[args["format"]].split(";")[0])
    if args["format"] != "html":
        filename = f"{report.name}-{args['from_'].isoformat()}-{args['to'].isoformat()}.{args['format']}"
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    else:
        response.mimetype_params["charset"] = "utf-8"
    return response


# Schedules ------------------------------------------------------------------------------


class ScheduleSchema(Schema):
    id = fields.Integer(dump_only=True)
    report = fields.String(required=True, validate=validate.Length(min=1, max=100))
    cron = fields.String(
        required=True,
        validate=validate.Length(min=9, max=100),
        metadata={
            "description": "5 fields: minute hour day month weekday, e.g. `0 7 1 * *`; "
            "firing at most once a day unless the firm allows more"
        },
    )
    timezone = fields.String(
        load_default="UTC",
        validate=validate.Length(max=64),
        metadata={"description": "IANA time zone the cron expression is read in"},
    )
    period = fields.String(
        load_default="previous_month",
        validate=validate.OneOf(PERIODS),
        metadata={"description": "what each run covers, relative to when it fires"},
    )
    parameters = fields.Nested(ReportFilterArgs, load_default=dict)
    recipients = fields.List(
        fields.String(validate=validate.Length(min=1, max=320)),
        required=True,
        validate=validate.Length(min=1, max=50),
        metadata={
            "description": "usernames, or email addresses of accounts or in the firm's "
            "email domains, the PDF is mailed to"
        },
    )
    active = fields.Boolean(dump_only=True)
    next_run_at = fields.DateTime(dump_only=True)
    created_by = fields.String(dump_only=True)
    created_at = fields.DateTime(dump_only=True)


class ScheduleArgs(PageArgs):
    report = fields.String(validate=validate.Length(max=100))


SchedulePage = page_schema(ScheduleSchema, "ReportSchedulePage")


def _own_only() -> bool:
    return not has_permission(g.account.roles, "reports:read_all_runs")


@blp.route("/report-schedules")
class Schedules(MethodView):
    @requires("reports:schedule")
    @blp.arguments(ScheduleSchema)
    @blp.response(201, ScheduleSchema)
    @errors(blp, 403, 404, 409, 422)
    def post(self, data):
        """Make a report on a cron schedule and mail its PDF to the recipients; each firing is one run. The cron
        may fire at most once per ATRIUM_REPORT_MIN_INTERVAL (a day by default), each person keeps at most
        ATRIUM_REPORT_SCHEDULES_PER_PERSON schedules (409 beyond), and recipients are accounts (usernames or
        their email addresses) or addresses in ATRIUM_FIRM_EMAIL_DOMAINS."""
        with process_engine().transaction() as session:
            # Refused now, not at the first firing: filters the caller may not use, unknown recipients.
            period_from, period_to = period_dates(data["period"], clock.now(), "UTC")
            resolve_filters(session, _viewer(), period_from, period_to, data["parameters"])
            schedule = create_schedule(
                session,
                report=data["report"],
                cron=data["cron"],
                timezone_name=data["timezone"],
                period=data["period"],
                parameters=data["parameters"],
                recipients=data["recipients"],
                created_by=g.account.username,
                settings=process_engine().settings,
            )
            return schedule

    @requires("reports:read")
    @blp.arguments(ScheduleArgs, location="query")
    @blp.response(200, SchedulePage)
    @errors(blp, 422)
    def get(self, args):
        """Report schedules, newest first (account managers: their own)."""
        conditions = [ReportSchedule.created_by == g.account.username] if _own_only() else []
        if args.get("report"):
            conditions.append(ReportSchedule.report == args["report"])
        with process_engine().transaction() as session:
            rows, total = page_query(
                session,
                select(ReportSchedule).where(*conditions).order_by(ReportSchedule.id.desc()),
                select(func.count()).select_from(ReportSchedule).where(*conditions),
                args,
            )
            return envelope([row[0] for row in rows], total, args)


def _own_or_raise(session, model, row_id: int, owner: str, label: str):
    """The row, if the caller may see it: leads see all, others their own (404 otherwise, revealing nothing)."""
    row = session.get(model, row_id)
    if row is None or (_own_only() and getattr(row, owner) != g.account.username):
        raise NotFound(f"{label} {row_id} not found")
    return row


def _schedule_or_raise(session, schedule_id: int) -> ReportSchedule:
    return _own_or_raise(session, ReportSchedule, schedule_id, "created_by", "report schedule")


@blp.route("/report-schedules/<int:schedule_id>")
class ScheduleItem(MethodView):
    @requires("reports:read")
    @blp.response(200, ScheduleSchema)
    @errors(blp, 404)
    def get(self, schedule_id):
        """One report schedule."""
        with process_engine().transaction() as session:
            return _schedule_or_raise(session, schedule_id)

    @requires("reports:schedule")
    @blp.response(204)
    @errors(blp, 403, 404)
    def delete(self, schedule_id):
        """Stop a schedule and remove it; its past runs and their PDFs stay."""
        with process_engine().transaction() as session:
            schedule = _schedule_or_raise(session, schedule_id)
            if schedule.created_by != g.account.username and not has_permission(
                g.account.roles, "reports:read_all_runs"
            ):
                raise Forbidden("only its creator or a lead may remove a schedule")
            delete_schedule(session, schedule, actor=g.account.username)


# Runs -----------------------------------------------------------------------------------


class RunSchema(Schema):
    id = fields.Integer()
    schedule_id = fields.Integer(allow_none=True)
    report = fields.String()
    period_from = fields.Date()
    period_to = fields.Date(metadata={"description": "the day after the period (exclusive)"})
    parameters = fields.Dict()
    recipients = fields.List(fields.String())
    requested_by = fields.String()
    scheduled_for = fields.DateTime(allow_none=True)
    status = fields.String(metadata={"description": f"{QUEUED}, {SUCCEEDED} or {FAILED}"})
    attempts = fields.Integer()
    retry_at = fields.DateTime(allow_none=True, metadata={"description": "when a failed run is tried again"})
    error = fields.String(allow_none=True)
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    pdf_size = fields.Integer(allow_none=True)


class RunArgs(PageArgs):
    schedule_id = fields.Integer()
    report = fields.String(validate=validate.Length(max=100))
    status = fields.String(validate=validate.OneOf([QUEUED, SUCCEEDED, FAILED]))


RunPage = page_schema(RunSchema, "ReportRunPage")


def _run_or_raise(session, run_id: int) -> ReportRun:
    return _own_or_raise(session, ReportRun, run_id, "requested_by", "report run")


@blp.route("/report-runs")
@requires("reports:read")
@blp.arguments(RunArgs, location="query")
@blp.response(200, RunPage)
@errors(blp, 422)
def list_runs(args):
    """Report runs, newest first, with their outcome (account managers: their own)."""
    conditions = [ReportRun.requested_by == g.account.username] if _own_only() else []
    for name in ("schedule_id", "report", "status"):
        if args.get(name) is not None:
            conditions.append(getattr(ReportRun, name) == args[name])
    with process_engine().transaction() as session:
        rows, total = page_query(
            session,
            select(ReportRun).where(*conditions).order_by(ReportRun.id.desc()),
            select(func.count()).select_from(ReportRun).where(*conditions),
            args,
        )
        return envelope([row[0] for row in rows], total, args)


@blp.route("/report-runs/<int:run_id>")
@requires("reports:read")
@blp.response(200, RunSchema)
@errors(blp, 404)
def get_run(run_id):
    """One report run."""
    with process_engine().transaction() as session:
        return _run_or_raise(session, run_id)


@blp.route("/report-runs/<int:run_id>/pdf")
@requires("reports:read")
@blp.doc(
    responses={
        "200": {
            "description": "The run's PDF",
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        }
    }
)
@errors(blp, 404)
def get_run_pdf(run_id):
    """The PDF a run made (404 while it has none: queued or failed)."""
    with process_engine().transaction() as session:
        run = _run_or_raise(session, run_id)
        if run.status != SUCCEEDED:
            raise NotFound(f"report run {run_id} has no PDF: it is {run.status}")
        pdf, filename = run.pdf, pdf_filename(run.report, run.period_from)
        audit_record(
            session, "report.download", target=f"report_run:{run_id}", detail={"report": run.report, "format": "pdf"}
        )
    return Response(
        pdf, mimetype="application/pdf", headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )

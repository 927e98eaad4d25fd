"""Clients in and out in bulk over HTTP: export the filtered list as CSV or XLSX, import a spreadsheet
(dry run or all-or-nothing), and merge a duplicate client into another."""

from __future__ import annotations

import json
import tempfile

from flask import Response, current_app, g, send_file, stream_with_context
from flask_smorest import Blueprint
from marshmallow import ValidationError, fields, validate
from sqlalchemy import func, select
from webargs.flaskparser import FlaskParser
from werkzeug.datastructures import CombinedMultiDict

from atrium import clock
from atrium.client_export import XLSX_MAX_ROWS, clients_in_batches, csv_chunks, export_layout, write_xlsx
from atrium.client_import import check_mapping, client_rows, import_clients, read_table
from atrium.client_merge import RECORD_MODELS, merge_clients
from atrium.errors import InvalidInput, RowsInvalid
from storage.clients import SORT_COLUMNS, Client

from .audit import record as audit_record
from .clients import (
    ClientArgs,
    ClientSchema,
    caller_masking,
    client_list_conditions,
    owners_visible_to_caller,
    process_engine,
)
from .docs import errors
from .permissions import has_permission, requires
from .schema_base import Schema

CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORT_BATCH = 500
CONTACTS = ("phones", "emails", "addresses")


class MultipartParser(FlaskParser):
    """Reads a multipart body whole: the `files` location sees its file parts and its form fields, so one
    schema (and one documented request body) describes both."""

    def load_files(self, req, schema):
        return self._makeproxy(CombinedMultiDict([req.files, req.form]), schema)


blp = Blueprint("client_transfer", __name__, url_prefix="/api/clients", description="Client export, import and merge")
blp.ARGUMENTS_PARSER = MultipartParser()


# Export -------------------------------------------------------------------------------


class ExportArgs(ClientArgs):
    format = fields.String(
        load_default="csv",
        validate=validate.OneOf(["csv", "xlsx"]),
        metadata={"description": "csv (UTF-8 with BOM, streamed) or xlsx"},
    )


EXPORT_RESPONSE = {
    "200": {
        "description": "The clients as a spreadsheet (attachment)",
        "content": {CSV: {"schema": {"type": "string"}}, XLSX: {"schema": {"type": "string", "format": "binary"}}},
    }
}


@blp.route("/export")
@requires("clients:export")
@blp.arguments(ExportArgs(exclude=("page", "page_size")), location="query")
@blp.doc(responses=EXPORT_RESPONSE)
@errors(blp, 422)
def export_clients(args):
    """Download the clients you may see, with the same search and filters as the list, as CSV or XLSX.
    Cells a spreadsheet would run as formulas are written as text."""
    if args.get("deleted") and not has_permission(g.account.roles, "clients:restore"):
        args["deleted"] = False
    engine = process_engine()
    with engine.transaction() as session:
        conditions = client_list_conditions(session, args)
        layout = export_layout(session, caller_masking(session))
        count = session.scalar(select(func.count()).select_from(Client).where(*conditions))
        if args["format"] == "xlsx":
            if count > XLSX_MAX_ROWS:
                raise InvalidInput(
                    f"{count} clients do not fit in one sheet; use format=csv or narrow the filters",
                    {"format": [f"xlsx holds at most {XLSX_MAX_ROWS} rows"]},
                )
        # Client data leaves the firm: the trail says who took how many, in what form, chosen how (the
        # search text itself is personal data: only whether there was one).
        filters = {k: args[k] for k in ("tier", "status", "kind", "industry", "owner", "tag", "deleted") if args.get(k)}
        audit_record(
            session,
            "client.export",
            target="clients",
            detail={"format": args["format"], "rows": count, "filters": filters, "search": bool(args.get("q"))},
        )
    clients = clients_in_batches(
        engine.transaction,
        conditions,
        order_column=getattr(Client, SORT_COLUMNS[args["sort"].lstrip("-")]),
        descending=args["sort"].startswith("-"),
        batch_size=EXPORT_BATCH,
    )
    filename = f"clients-{clock.now():%Y%m%d-%H%M}.{args['format']}"
    if args["format"] == "xlsx":
        # A workbook is a zip finished at the end: written (write-only, flat memory) to a temporary file, then sent.
        target = tempfile.TemporaryFile()
        write_xlsx(layout, clients, target)
        target.seek(0)
        return send_file(target, mimetype=XLSX, as_attachment=True, download_name=filename)
    response = Response(
        stream_with_context(csv_chunks(layout, clients)),
        mimetype=CSV,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
    response.mimetype_params["charset"] = "utf-8"
    return response


# Import -------------------------------------------------------------------------------


class ImportForm(Schema):
    file = fields.Raw(
        required=True,
        metadata={
            "type": "string",
            "format": "binary",
            "description": "a .csv (UTF-8 or GB18030; comma, semicolon or tab) "
            "or .xlsx file; the first row holds the headers",
        },
    )
    mapping = fields.String(
        validate=validate.Length(min=2, max=20000),
        metadata={
            "description": "JSON object from column headers to client fields, e.g. "
            '{"Company": "name", "Phone": "phones"}. Fields: name, kind, industry, tier, status, '
            "owner, notes; tags, phones, emails, addresses (lists, split on ';'); address.street, "
            "address.city, address.region, address.postcode, address.country, address.label (one "
            "address from several columns); custom_fields (a JSON object) or custom_fields.<name>. "
            "Without it, columns named after client fields (an export) are used."
        },
    )
    dry_run = fields.Boolean(load_default=False, metadata={"description": "check every row, write nothing"})
    confirm_duplicates = fields.Boolean(
        load_default=False,
        metadata={"description": "import rows that match existing clients or earlier rows (listed as warnings)"},
    )


class RowProblemSchema(Schema):
    row = fields.Integer(required=True, metadata={"description": "row number in the file; the header is row 1"})
    column = fields.String(allow_none=True, metadata={"description": "the file's column header"})
    field = fields.String(required=True, metadata={"description": "the client field path, e.g. emails.1"})
    message = fields.String(required=True)
    duplicate_of = fields.Dict(
        metadata={
            "description": "{row} of this file, or {client_id, name, matched_on}, or "
            "for a client you may not see {withheld, matched_on}"
        }
    )


class ImportReportSchema(Schema):
    dry_run = fields.Boolean(required=True)
    rows = fields.Integer(required=True, metadata={"description": "data rows read"})
    valid_rows = fields.Integer(required=True)
    created = fields.Integer(required=True)
    client_ids = fields.List(fields.Integer(), required=True)
    problems = fields.List(
        fields.Nested(RowProblemSchema),
        required=True,
        metadata={"description": "why rows cannot be imported; any one refuses the whole file"},
    )
    warnings = fields.List(
        fields.Nested(RowProblemSchema),
        required=True,
        metadata={"description": "duplicates let through by confirm_duplicates"},
    )


def _field_errors(messages, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested {"emails": {0: ["..."]}} as {"emails.0": ["..."]}."""
    if isinstance(messages, dict):
        flat = {}
        for key, value in messages.items():
            flat.update(_field_errors(value, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix or "body": [str(m) for m in messages] if isinstance(messages, list) else [str(messages)]}


def _client_loader():
    """Rows through the same schema as POST /api/clients (one instance: building a schema costs more than a load)."""
    schema = ClientSchema()

    def load(data: dict) -> tuple[dict, dict]:
        try:
            return schema.load(data), {}
        except ValidationError as exc:
            return {}, _field_errors(exc.messages)

    return load


@blp.route("/import", methods=["POST"])
@requires("clients:import")
@blp.arguments(ImportForm, location="files")
@blp.response(200, ImportReportSchema)
@errors(blp, 413, 422)
def import_clients_file(form):
    """Import clients from a CSV or XLSX file. A dry run reports every row's problems (row, column, message)
    and writes nothing; a real import is all or nothing: any problem is a 422 with the same report."""
    settings = current_app.extensions["atrium.settings"]
    upload = form["file"]
    if not hasattr(upload, "read"):
        raise InvalidInput("file must be an uploaded file", {"file": ["must be a file part"]})
    content = upload.read(settings.import_max_bytes + 1)
    if len(content) > settings.import_max_bytes:
        raise InvalidInput("the file is too large", {"file": [f"at most {settings.import_max_bytes} bytes"]})
    mapping = None
    if form.get("mapping") is not None:
        try:
            mapping = json.loads(form["mapping"])
        except ValueError:
            raise InvalidInput("mapping is not JSON", {"mapping": ["must be a JSON object"]}) from None
    table = read_table(content, max_rows=settings.import_max_rows)
    mapping = check_mapping(mapping, table.headers)
    sees_all = has_permission(g.account.roles, "clients:read_all")
    engine = process_engine()
    with engine.transaction() as session:
        report = import_clients(
            session,
            engine,
            client_rows(session, table, mapping),
            load=_client_loader(),
            actor=g.account.username,
            dry_run=form["dry_run"],
            confirm_duplicates=form["confirm_duplicates"],
            default_owner=None if sees_all else g.account.username,
            owners=owners_visible_to_caller(session),
            file_name=getattr(upload, "filename", None),
        )
        if form["dry_run"]:
            session.rollback()
            return report.as_dict()
        if report.problems:
            raise RowsInvalid(
                f"{len({p.row for p in report.problems})} of {report.rows} rows cannot be imported; "
                "nothing was imported",
                [p.as_dict() for p in report.problems],
            )
        return report.as_dict()


# Merge --------------------------------------------------------------------------------


class MergeRequestSchema(Schema):
    from_client_id = fields.Integer(
        required=True,
        validate=validate.Range(min=1, max=2**62),
        metadata={"description": "the duplicate: its records move to this client, then it is deleted"},
    )


MovedSchema = Schema.from_dict(
    {
        **{kind: fields.List(fields.Integer(), required=True) for kind in RECORD_MODELS},
        "process_instances": fields.List(
            fields.UUID(), required=True, metadata={"description": "re-keyed from client:{from} to client:{id}"}
        ),
    },
    name="MergedRecords",
)


class MergeResultSchema(Schema):
    client = fields.Nested(ClientSchema, required=True)
    from_client_id = fields.Integer(required=True)
    moved = fields.Nested(MovedSchema, required=True)
    added = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.Raw()),
        required=True,
        metadata={
            "description": "tags, phones, emails, addresses, custom field names (and a "
            "missing industry or owner) the client gained"
        },
    )


@blp.route("/<id:client_id>/merge", methods=["POST"])
@requires("clients:merge")
@blp.arguments(MergeRequestSchema)
@blp.response(200, MergeResultSchema)
@errors(blp, 404, 409, 422)
def merge_client(data, client_id):
    """Merge a duplicate client into this one: contacts, engagements, follow-ups, service requests,
    complaints, feedback and process instances move here; tags, phones, emails and addresses are united;
    the duplicate is deleted (restorable) with a note of where it went."""
    engine = process_engine()
    with engine.transaction() as session:
        result = merge_clients(
            session,
            engine,
            into_id=client_id,
            from_id=data["from_client_id"],
            owners=owners_visible_to_caller(session),
            actor=g.account.username,
        )
        return {
            "client": result.client,
            "from_client_id": result.from_client_id,
            "moved": result.moved,
            # What the client gained, masked as the caller sees contact data (custom fields are named only).
            "added": {
                **result.added,
                **caller_masking(session).client({k: v for k, v in result.added.items() if k in CONTACTS}),
            },
        }

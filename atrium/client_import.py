"""Client imports: reading a CSV or XLSX upload, mapping its columns to client fields, and checking and
creating the clients with the API's own rules in a few bulk statements, collecting a report of every row's
problems. Imported clients are added through atrium/clients.py (`add_clients`), so each gets what any new
client gets in the same transaction: its status history, its follow-up cycle if active, and a
`client.create` audit row (source "import"); the import itself is one `client.import` row."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from atrium import audit
from atrium.client_export import ADDRESS_PARTS, FORMULA_STARTS
from atrium.clients import (
    CLIENT_FIELDS,
    OWNER_MUST_BE_ACTIVE,
    active_usernames,
    add_clients,
    blank_client,
    custom_field_errors,
    custom_field_validator,
    sees_client,
    withheld,
)
from atrium.errors import InvalidInput
from storage import crypto
from storage.clients import Client, identifiers_of, live_holders, matches_by_client
from storage.firm_settings import CLIENT_CUSTOM_FIELDS, setting_value

SCALAR_FIELDS = ("name", "kind", "industry", "tier", "status", "owner", "notes")
LIST_FIELDS = ("tags", "phones", "emails", "addresses")
ADDRESS_FIELDS = tuple(f"address.{part}" for part in ("label", *ADDRESS_PARTS))
LIST_SEPARATOR = ";"
# An XLSX is a zip; refuse one that would inflate beyond this (a zip bomb) before parsing it.
XLSX_MAX_INFLATED = 200 * 1024 * 1024
# Deflate rarely beats 100:1 on real sheets; a member inflating further (past a small size) is built to
# (Apache POI's ZipSecureFile uses the same ratio and grace size).
XLSX_MAX_RATIO = 100
XLSX_RATIO_GRACE = 100 * 1024
# Columns read from each row; a wider sheet is refused rather than read cell by cell to column XFD.
MAX_COLUMNS = 200
_CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0e-\x1f]")
_NOT_SPREADSHEETS = {
    b"%PDF": "a PDF",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"\xd0\xcf\x11\xe0": "an old binary Office file (.xls); save it as .xlsx",
}


@dataclass
class Table:
    """An uploaded sheet: its header cells and data rows, each with its row number as the user sees it."""

    headers: list[str]
    rows: list[tuple[int, list[str]]]


@dataclass
class RowProblem:
    row: int
    column: str | None
    field: str
    message: str
    duplicate_of: dict | None = None

    def as_dict(self) -> dict:
        found = {"row": self.row, "column": self.column, "field": self.field, "message": self.message}
        if self.duplicate_of is not None:
            found["duplicate_of"] = self.duplicate_of
        return found


@dataclass
class ClientRow:
    """One data row turned into client fields, remembering which column each value came from."""

    number: int
    data: dict = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)  # field path -> column header
    problems: list[RowProblem] = field(default_factory=list)

    def column_of(self, path: str) -> str | None:
        """The column behind a field path; 'emails.2' falls back to 'emails', then to None."""
        parts = path.split(".")
        while parts:
            column = self.origins.get(".".join(parts))
            if column is not None:
                return column
            parts.pop()
        return None

    def problem(self, path: str, message: str, **extra) -> RowProblem:
        found = RowProblem(self.number, self.column_of(path), path, message, **extra)
        self.problems.append(found)
        return found


@dataclass
class ImportReport:
    dry_run: bool
    rows: int = 0
    valid_rows: int = 0
    client_ids: list[int] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    # Duplicates let through by confirm_duplicates: not problems, but worth a look.
    warnings: list[RowProblem] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "dry_run": self.dry_run,
            "rows": self.rows,
            "valid_rows": self.valid_rows,
            "created": 0 if self.dry_run else len(self.client_ids),
            "client_ids": [] if self.dry_run else self.client_ids,
            "problems": [p.as_dict() for p in self.problems],
            "warnings": [p.as_dict() for p in self.warnings],
        }


# Reading ------------------------------------------------------------------------------


def _bad_file(message: str) -> InvalidInput:
    return InvalidInput(f"the file cannot be imported: {message}", {"file": [message]})


def read_table(content: bytes, *, max_rows: int) -> Table:
    """The first sheet of an XLSX workbook, or a CSV file (comma, semicolon or tab; UTF-8 or GB18030), read
    row by row and refused as soon as it passes `max_rows` data rows, as many blank ones, or MAX_COLUMNS."""
    if not content.strip():
        raise _bad_file("it is empty")
    for magic, what in _NOT_SPREADSHEETS.items():
        if content.startswith(magic):
            raise _bad_file(f"it is {what}, not a CSV or XLSX spreadsheet")
    if content.startswith(b"PK\x03\x04"):
        return _table(_xlsx_lines(content), max_rows=max_rows, what="workbook")
    return _table(_csv_lines(content), max_rows=max_rows, what="file")


def _xlsx_lines(content: bytes):
    """Rows as the sheet stores them, one at a time: the declared dimension (`<dimension ref=...>`) is
    ignored, so a 1 KB workbook claiming A1:XFD1048576 costs what its cells cost, not 17 billion."""
    from openpyxl import load_workbook  # only imports need the reader

    _check_archive(content)
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on a damaged workbook
        raise _bad_file(f"the workbook cannot be read ({type(exc).__name__})") from None
    try:
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()
        # One column past the limit, to tell a sheet that is too wide from one that fits.
        rows = sheet.iter_rows(max_col=MAX_COLUMNS + 1, values_only=True)
        # Row numbers as Excel shows them; read-only sheets yield every row from the first.
        for number, values in enumerate(rows, start=1):
            yield number, _trimmed([_cell_text(v) for v in values])
    except Exception as exc:
        raise _bad_file(f"the workbook cannot be read ({type(exc).__name__})") from None
    finally:
        workbook.close()


def _check_archive(content: bytes) -> None:
    """Refuse a zip that is no workbook, or that inflates too far in all or too steeply in one member."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            members = archive.infolist()
    except zipfile.BadZipFile:
        raise _bad_file("it is not a valid XLSX workbook") from None
    if "xl/workbook.xml" not in {member.filename for member in members}:
        raise _bad_file("it is a zip archive but not an XLSX workbook")
    if sum(member.file_size for member in members) > XLSX_MAX_INFLATED:
        raise _bad_file(f"the workbook inflates to more than {XLSX_MAX_INFLATED // (1024 * 1024)} MB")
    for member in members:
        if member.file_size > XLSX_RATIO_GRACE and member.file_size > XLSX_MAX_RATIO * max(member.compress_size, 1):
            raise _bad_file(
                f"{member.filename} inflates more than {XLSX_MAX_RATIO} times: "
                "it is not a spreadsheet an application saved"
            )


def _trimmed(cells: list[str]) -> list[str]:
    while cells and not cells[-1]:
        cells.pop()
    return cells


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a phone number typed as a number
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value).strip()


def _csv_lines(content: bytes):
    if b"\x00" in content:
        raise _bad_file("it is a binary file, not a CSV or XLSX spreadsheet")
    for encoding in ("utf-8-sig", "gb18030"):  # Excel in Chinese locales saves CSV as GBK
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise _bad_file("it is neither UTF-8 nor GB18030 text")
    if _CONTROL_CHARACTERS.search(text):
        raise _bad_file("it holds control characters; it is not a CSV or XLSX spreadsheet")
    first_line = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first_line.count)
    try:
        for number, cells in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), start=1):
            yield number, [cell.strip() for cell in cells]
    except csv.Error as exc:
        raise _bad_file(f"it is not valid CSV ({exc})") from None


def _table(lines, *, max_rows: int, what: str) -> Table:
    """The header and data rows from `lines`, consumed only as far as the limits allow."""
    headers: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    blank = 0
    for number, cells in lines:
        if len(_trimmed(cells)) > MAX_COLUMNS:
            raise _bad_file(f"row {number} goes past column {MAX_COLUMNS}; at most {MAX_COLUMNS} columns are read")
        if headers is None:
            if not any(cells):
                raise _bad_file("the first row must hold the column headers")
            headers = cells
        elif any(cells):
            rows.append((number, cells))
            if len(rows) > max_rows:
                raise _bad_file(f"it has more than {max_rows} rows; at most {max_rows} are imported at once, split it")
        else:
            blank += 1
            if blank > max_rows:
                raise _bad_file(
                    f"the {what} has more than {max_rows} blank rows (at most {max_rows} data rows "
                    "are imported at once); delete the blank rows or split it"
                )
    if headers is None:
        raise _bad_file("the first row must hold the column headers")
    if not rows:
        raise _bad_file("it has headers but no data rows")
    return Table(headers, rows)


# Mapping ------------------------------------------------------------------------------


def _custom_properties(session: Session) -> dict:
    schema = setting_value(session, key=CLIENT_CUSTOM_FIELDS) or {}
    properties = schema.get("properties") if isinstance(schema, dict) else None
    return properties if isinstance(properties, dict) else {}


def _is_target(name: str) -> bool:
    return (
        name in SCALAR_FIELDS
        or name in LIST_FIELDS
        or name in ADDRESS_FIELDS
        or name == "custom_fields"
        or (name.startswith("custom_fields.") and len(name) > len("custom_fields."))
    )


def check_mapping(mapping, headers: list[str]) -> dict[str, str]:
    """The mapping {column header: client field}, checked against the file; without one, the columns
    already named after client fields (an export) map to themselves."""
    if mapping is None:
        mapping = {h: h for h in headers if h and _is_target(h)}
        if "name" not in mapping.values():
            raise InvalidInput(
                "no column is named after a client field; send a mapping",
                {"mapping": ["required: no column is named 'name'"]},
            )
        return mapping
    if not isinstance(mapping, dict) or not mapping:
        raise InvalidInput(
            "mapping must be a JSON object from column headers to client fields",
            {"mapping": ["must be a non-empty JSON object"]},
        )
    errors: dict[str, list[str]] = {}
    seen: dict[str, str] = {}
    for header, target in mapping.items():
        path = f"mapping.{header}"
        if header not in headers:
            errors[path] = [f"no column '{header}' in the file (it has {', '.join(repr(h) for h in headers if h)})"]
        elif headers.count(header) > 1:
            errors[path] = [f"the file has {headers.count(header)} columns named '{header}'"]
        elif not isinstance(target, str) or not _is_target(target):
            errors[path] = [
                f"not a client field; one of {', '.join(SCALAR_FIELDS + LIST_FIELDS + ADDRESS_FIELDS)}, "
                "custom_fields or custom_fields.<name>"
            ]
        elif target in seen and target not in LIST_FIELDS:
            errors[path] = [f"'{target}' is already mapped from '{seen[target]}'"]
        else:
            seen[target] = header
    if "name" not in seen and not any(p.startswith("mapping.") for p in errors):
        errors["mapping"] = ["map one column to name"]
    if errors:
        raise InvalidInput("the mapping does not fit the file", errors)
    return mapping


def _unguarded(text: str) -> str:
    """Undo the export's formula guard, so an exported file imports back unchanged."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_STARTS) else text


def _custom_value(text: str, spec: dict):
    """A cell for a custom field, typed as the firm's schema declares (left as text when it does not parse,
    so the schema check reports it)."""
    kind = spec.get("type") if isinstance(spec, dict) else None
    try:
        if kind == "integer":
            return int(text)
        if kind == "number":
            return float(text) if any(c in text for c in ".eE") else int(text)
        if kind == "boolean" and text.casefold() in ("true", "false", "yes", "no", "1", "0"):
            return text.casefold() in ("true", "yes", "1")
        if kind == "array":
            return [part.strip() for part in text.split(LIST_SEPARATOR) if part.strip()]
    except ValueError:
        pass
    return text


def _columns_by_field(mapping: dict[str, str]) -> dict[str, str]:
    """Field path -> column, so a problem with a field (even one left empty, like a missing name) names the
    column it comes from; the whole of custom_fields is the JSON column's, else the first custom one's."""
    columns: dict[str, str] = {}
    for header, target in mapping.items():
        columns.setdefault(target, header)
        if target in ADDRESS_FIELDS:
            columns.setdefault("addresses", header)
        elif target.startswith("custom_fields."):
            columns.setdefault("custom_fields", header)
    columns.update({target: header for header, target in mapping.items() if target == "custom_fields"})
    return columns


def client_rows(session: Session, table: Table, mapping: dict[str, str]) -> list[ClientRow]:
    """Each data row as client fields (API input shape); cells that cannot be read become row problems."""
    index = {header: table.headers.index(header) for header in mapping}
    properties = _custom_properties(session)
    rows = []
    mapped = _columns_by_field(mapping)
    for number, cells in table.rows:
        row = ClientRow(number, origins=dict(mapped))
        address: dict[str, str] = {}
        for header, target in mapping.items():
            position = index[header]
            text = _unguarded(cells[position].strip()) if position < len(cells) else ""
            if not text:
                continue
            if target in SCALAR_FIELDS:
                row.data[target] = (
                    text.casefold() if target in ("kind", "status") else (text.upper() if target == "tier" else text)
                )
            elif target in LIST_FIELDS:
                items = [part.strip() for part in text.split(LIST_SEPARATOR) if part.strip()]
                if target == "addresses":
                    items = [{"street": item} for item in items]
                values = row.data.setdefault(target, [])
                for offset in range(len(items)):
                    row.origins[f"{target}.{len(values) + offset}"] = header
                values.extend(items)
            elif target in ADDRESS_FIELDS:
                part = target.split(".", 1)[1]
                address[part] = text
            elif target == "custom_fields":
                try:
                    value = json.loads(text)
                except ValueError:
                    value = None
                if not isinstance(value, dict):
                    row.problem("custom_fields", "must be a JSON object")
                    continue
                row.data["custom_fields"] = {**value, **row.data.get("custom_fields", {})}
            else:
                name = target.split(".", 1)[1]
                row.data.setdefault("custom_fields", {})[name] = _custom_value(text, properties.get(name, {}))
        if address:
            addresses = row.data.setdefault("addresses", [])
            for part in address:
                row.origins[f"addresses.{len(addresses)}.{part}"] = mapped[f"address.{part}"]
            addresses.append(address)
        rows.append(row)
    return rows


# Importing ----------------------------------------------------------------------------


def import_clients(
    session: Session,
    engine,
    rows: list[ClientRow],
    *,
    load: Callable[[dict], tuple[dict, dict]],
    actor: str,
    dry_run: bool,
    confirm_duplicates: bool = False,
    default_owner: str | None = None,
    owners: set[str] | None = None,
    file_name: str | None = None,
) -> ImportReport:
    """Check every row with create_client's rules, in bulk: `load` (the API's schema; returns the loaded
    data and field errors), an active owner, the firm's custom-field schema, and no duplicate (by the
    identifiers duplicate_candidates compares) of a live client or an earlier row unless `confirm_duplicates`.
    Unless it is a dry run or a row has a problem, add the clients to `session` (the caller commits), each
    with its follow-up cycle (through `engine`) and audit row, and a `client.import` row for `file_name`.
    Duplicates of clients not owned by `owners` (the importer's visible owners; None: all) are not named."""
    report = ImportReport(dry_run=dry_run, rows=len(rows))
    candidates: list[tuple[ClientRow, Client]] = []
    for row in rows:
        if not row.problems:
            data, errors = load(row.data)
            _add_problems(row, errors)
        if not row.problems:
            if default_owner and data.get("owner") is None:
                data["owner"] = default_owner
            client = blank_client(actor=actor)
            for name in CLIENT_FIELDS:
                if name in data:
                    setattr(client, name, data[name])
            candidates.append((row, client))
    active = active_usernames(session, {client.owner for _, client in candidates if client.owner})
    validator = custom_field_validator(session)
    valid = []
    for row, client in candidates:
        if client.owner is not None and client.owner not in active:
            row.problem("owner", OWNER_MUST_BE_ACTIVE)
        if validator is not None:
            _add_problems(row, custom_field_errors(validator, client.custom_fields or {}))
        if not row.problems:
            valid.append((row, client))

    duplicates = _duplicates(session, valid, owners)
    for row, client in valid:
        (report.warnings if confirm_duplicates else row.problems).extend(duplicates.get(row.number, []))
        if not row.problems:
            report.valid_rows += 1
    report.problems = [p for row in rows for p in row.problems]
    if not dry_run and not report.problems:
        clients = [client for _, client in valid]
        add_clients(session, engine, clients, actor=actor, source="import")
        report.client_ids = [client.id for client in clients]
        audit.record(
            session,
            "client.import",
            actor=actor,
            target="clients",
            detail={
                "file": (file_name or "")[:200],
                "rows": report.rows,
                "client_ids": report.client_ids,
                "confirmed_duplicates": len(report.warnings),
            },
        )
    return report


def _add_problems(row: ClientRow, errors: dict[str, list[str]]) -> None:
    for path, messages in errors.items():
        for message in messages:
            row.problem(path, message)


def _duplicates(
    session: Session, valid: list[tuple[ClientRow, Client]], owners: set[str] | None
) -> dict[int, list[RowProblem]]:
    """Row number -> its duplicates: live clients and earlier rows sharing a normalised name, phone or email;
    a client the importer may not see (not owned by `owners`) is counted, not named."""
    index_key = crypto.index_key(session)
    identifiers = {row.number: identifiers_of(client, index_key) for row, client in valid}
    holders = live_holders(session, set().union(*identifiers.values()))
    first_row: dict[tuple[str, str], int] = {}
    found: dict[int, list[tuple[dict, list[str]]]] = {}
    for row, _ in valid:
        mine = identifiers[row.number]
        for client_id, kinds in matches_by_client(mine, holders).items():
            found.setdefault(row.number, []).append(({"client_id": client_id}, kinds))
        earlier = matches_by_client(mine, {key: [first_row[key]] for key in mine if key in first_row})
        for number, kinds in earlier.items():
            found.setdefault(row.number, []).append(({"row": number}, kinds))
        for key in mine:
            first_row.setdefault(key, row.number)
    ids = {match["client_id"] for matches in found.values() for match, _ in matches if "client_id" in match}
    names = (
        {
            client_id: (name, owner)
            for client_id, name, owner in session.execute(
                select(Client.id, Client.name, Client.owner).where(Client.id.in_(ids))
            )
        }
        if ids
        else {}
    )
    rows = {row.number: row for row, _ in valid}
    problems: dict[int, list[RowProblem]] = {}
    for number, matches in found.items():
        row = rows[number]
        for match, kinds in matches:
            path = {"name": "name", "phone": "phones", "email": "emails"}[kinds[0]]
            what = " and ".join(kinds)
            if "row" in match:
                message, duplicate_of = f"same {what} as row {match['row']} of this file", match
            elif sees_client(owners, names[match["client_id"]][1]):
                name = names[match["client_id"]][0]
                message = f"same {what} as existing client {match['client_id']} ({name})"
                duplicate_of = {"client_id": match["client_id"], "name": name, "matched_on": kinds}
            else:
                duplicate_of = {"withheld": withheld(1, "possible duplicate"), "matched_on": kinds}
                message = f"same {what} as an existing client you may not see: {duplicate_of['withheld']['detail']}"
            problems.setdefault(number, []).append(
                RowProblem(number, row.column_of(path), path, message, duplicate_of=duplicate_of)
            )
    return problems

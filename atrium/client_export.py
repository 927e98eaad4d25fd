"""Client lists as spreadsheets: the columns, and CSV (streamed, formula-safe, UTF-8 with BOM) and XLSX writers."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from atrium.masking import FULL, Masking
from storage.clients import Client
from storage.firm_settings import CLIENT_CUSTOM_FIELDS, setting_value

# The columns carry the field names, so an exported file imports back without a mapping.
LEADING = (
    "id",
    "name",
    "kind",
    "tier",
    "status",
    "industry",
    "owner",
    "tags",
    "phones",
    "emails",
    "addresses",
    "notes",
)
TRAILING = ("created_at", "updated_at")
LIST_SEPARATOR = "; "
ADDRESS_PARTS = ("street", "city", "region", "postcode", "country")
# A spreadsheet treats a cell starting with one of these as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
XLSX_MAX_ROWS = 1_048_575  # the sheet's limit, less the header row
CSV_CHUNK_BYTES = 64 * 1024
BATCH_SIZE = 500


@dataclass(frozen=True)
class ExportLayout:
    """The columns of an export: one per custom field the firm's schema declares, else one JSON column; and
    how the person exporting sees contact data (atrium/masking.py)."""

    custom_names: tuple[str, ...] | None
    masking: Masking = FULL

    @property
    def headers(self) -> list[str]:
        custom = (
            [f"custom_fields.{name}" for name in self.custom_names]
            if self.custom_names is not None
            else ["custom_fields"]
        )
        return [*LEADING, *custom, *TRAILING]


def export_layout(session: Session, masking: Masking = FULL) -> ExportLayout:
    schema = setting_value(session, key=CLIENT_CUSTOM_FIELDS) or {}
    properties = schema.get("properties") if isinstance(schema, dict) else None
    return ExportLayout(tuple(properties) if isinstance(properties, dict) and properties else None, masking)


def clients_in_batches(
    transaction: Callable[[], AbstractContextManager[Session]],
    conditions: list,
    *,
    order_column,
    descending: bool,
    batch_size: int = BATCH_SIZE,
) -> Iterator[Client]:
    """The clients matching `conditions` ordered by `order_column` then id, read `batch_size` at a time, each
    batch in its own short transaction (keyset paging): a slow download holds no transaction open, which on
    SQLite would hold the write lock."""
    after = None
    while True:
        query = select(Client).where(*conditions)
        if after is not None:
            value, last_id = after
            beyond = order_column < value if descending else order_column > value
            query = query.where(or_(beyond, and_(order_column == value, Client.id > last_id)))
        query = query.order_by(order_column.desc() if descending else order_column.asc(), Client.id.asc())
        with transaction() as session:
            batch = session.scalars(query.limit(batch_size)).all()
        yield from batch
        if len(batch) < batch_size:
            return
        after = (getattr(batch[-1], order_column.key), batch[-1].id)


def address_text(address) -> str:
    """'office: 1 Quay St, Bristol, BS1 4DJ' from an address object."""
    if not isinstance(address, dict):
        return str(address)
    text = ", ".join(str(address[part]) for part in ADDRESS_PARTS if address.get(part))
    return f"{address['label']}: {text}" if address.get("label") else text


def client_row(layout: ExportLayout, client: Client) -> list[Any]:
    """One client as a row of plain values (str, int, float, bool, datetime or None), masked as
    `layout.masking` says."""
    contact = layout.masking.client(
        {
            "phones": client.phones or [],
            "emails": client.emails or [],
            "addresses": client.addresses or [],
            "custom_fields": client.custom_fields or {},
        }
    )
    custom = contact["custom_fields"]
    if layout.custom_names is None:
        custom_values = [json.dumps(custom, ensure_ascii=False) if custom else None]
    else:
        custom_values = [_scalar(custom.get(name)) for name in layout.custom_names]
    return [
        client.id,
        client.name,
        client.kind,
        client.tier,
        client.status,
        client.industry,
        client.owner,
        LIST_SEPARATOR.join(client.tags or []),
        LIST_SEPARATOR.join(contact["phones"]),
        LIST_SEPARATOR.join(contact["emails"]),
        LIST_SEPARATOR.join(map(address_text, contact["addresses"])),
        client.notes,
        *custom_values,
        client.created_at,
        client.updated_at,
    ]


def _scalar(value):
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else value


def csv_text(value) -> str:
    """A cell for CSV; text a spreadsheet would run as a formula gets a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_STARTS) else value
    return str(value)  # numbers are never formulas, and "-5" should stay a number


def csv_chunks(layout: ExportLayout, clients: Iterable[Client]) -> Iterator[bytes]:
    """The CSV file in chunks of about 64 KB: a byte-order mark (so Excel reads UTF-8), the header, the rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(layout.headers)
    yield "\ufeff".encode() + buffer.getvalue().encode()
    buffer.seek(0)
    buffer.truncate()
    for client in clients:
        writer.writerow([csv_text(v) for v in client_row(layout, client)])
        if buffer.tell() >= CSV_CHUNK_BYTES:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


def _xlsx_cell(sheet, value):
    if isinstance(value, datetime):
        # Excel dates have no time zone: written in UTC (the CSV keeps the offset).
        return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value
    if not isinstance(value, str):
        return value
    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    if value.startswith("="):
        # openpyxl would store it as a formula; typed as a string it is only ever shown.
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"
        return cell
    return value


def write_xlsx(layout: ExportLayout, clients: Iterable[Client], target: IO[bytes]) -> int:
    """Write the workbook to `target` row by row (openpyxl's write-only mode keeps memory flat); returns rows."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Clients")
    sheet.freeze_panes = "A2"
    for column, width in (("B", 36), ("H", 24), ("I", 24), ("J", 30), ("K", 40)):
        sheet.column_dimensions[column].width = width
    sheet.append(layout.headers)
    count = 0
    for client in clients:
        sheet.append([_xlsx_cell(sheet, v) for v in client_row(layout, client)])
        count += 1
    workbook.save(target)
    return count

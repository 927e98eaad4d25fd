"""Records that keep their shape whoever sends what: an import that cannot be inflated into gigabytes,
complaint and service-request fields only their processes set, complaints and feedback that are never
hard-deleted, and report schedules with a sane cadence, a quota and firm-only recipients."""
from __future__ import annotations

import io
import re
import time
import tracemalloc
import zipfile
from datetime import datetime, timezone

import pytest
from openpyxl.utils import get_column_letter
from sqlalchemy import update

from atrium.client_import import MAX_COLUMNS
from storage.accounts import Account

from .api_helpers import caller, make_app

# Import: spreadsheets built to explode -------------------------------------------------------------

_XLSX_PARTS = {
    "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
    'package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.'
    'xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override '
    'PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
    'worksheet+xml"/></Types>',
    "_rels/.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
    'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
    '2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
    "xl/workbook.xml": '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/'
    'spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
    '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>',
    "xl/_rels/workbook.xml.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
    'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
    'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
}


def crafted_xlsx(cells: dict[str, str], *, dimension: str | None = None, padding: str = "") -> bytes:
    """A workbook written by hand, as an attacker would: the cells given (inline strings), the dimension it
    claims, and any XML padding in the sheet."""
    rows: dict[int, list[str]] = {}
    for ref, text in cells.items():
        row = int(re.search(r"\d+", ref).group())
        rows.setdefault(row, []).append(f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>')
    sheet = ('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
             'spreadsheetml/2006/main">' + (f'<dimension ref="{dimension}"/>' if dimension else "") + "<sheetData>"
             + "".join(f'<row r="{n}">{"".join(row)}</row>' for n, row in sorted(rows.items()))
             + padding + "</sheetData></worksheet>")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, text in {**_XLSX_PARTS, "xl/worksheets/sheet1.xml": sheet}.items():
            archive.writestr(name, text)
    return buffer.getvalue()


@pytest.fixture
def import_app(db, services, clock):
    app = make_app(db, services)  # the default row limit, as a firm runs it
    yield app
    app.extensions["atrium.db"].dispose()


def upload(person, content: bytes):
    return person.post("/api/clients/import", data={"file": (io.BytesIO(content), "clients.xlsx"), "dry_run": "true"},
                       content_type="multipart/form-data")


def refused_quickly_in_little_memory(person, content: bytes) -> str:
    """The import's answer, which must be a 422 naming a limit, within seconds and 50 MB."""
    tracemalloc.start()
    started = time.monotonic()
    try:
        response = upload(person, content)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 422, response.json
    assert time.monotonic() - started < 20 and peak < 50 * 1024 * 1024, (time.monotonic() - started, peak)
    [message] = response.json["errors"]["file"]
    return message


def test_a_tiny_workbook_claiming_every_cell_of_a_sheet_is_refused_without_reading_them(import_app):
    partner = caller(import_app.test_client(), "partner")
    bomb = crafted_xlsx({"A1": "name", "B2": "Harbour Logistics Ltd", "XFD1048576": "x"},
                        dimension="A1:XFD1048576")
    assert len(bomb) < 2000
    message = refused_quickly_in_little_memory(partner, bomb)
    assert "more than 5000 blank rows" in message and "at most 5000 data rows" in message
    # The claimed dimension alone costs nothing: the sheet is read as the two cells it holds.
    claims_only = crafted_xlsx({"A1": "name", "A2": "Harbour Logistics Ltd"}, dimension="A1:XFD1048576")
    dry_run = upload(partner, claims_only)
    assert dry_run.status_code == 200 and dry_run.json["valid_rows"] == 1, dry_run.json


def test_a_sheet_wider_than_the_column_limit_is_refused_naming_it(import_app):
    partner = caller(import_app.test_client(), "partner")
    wide = crafted_xlsx({"A1": "name", f"{get_column_letter(MAX_COLUMNS + 1)}1": "extra",
                         "A2": "Harbour Logistics Ltd"})
    message = refused_quickly_in_little_memory(partner, wide)
    assert message == f"row 1 goes past column {MAX_COLUMNS}; at most {MAX_COLUMNS} columns are read"


def test_rows_past_the_row_limit_stop_the_reading_there(import_app):
    partner = caller(import_app.test_client(), "partner")
    many = crafted_xlsx({"A1": "name", **{f"A{n}": f"Client {n}" for n in range(2, 5003)}})
    message = refused_quickly_in_little_memory(partner, many)
    assert message == "it has more than 5000 rows; at most 5000 are imported at once, split it"


def test_a_sheet_that_inflates_far_beyond_any_real_one_is_refused_before_it_is_parsed(import_app):
    partner = caller(import_app.test_client(), "partner")
    padded = crafted_xlsx({"A1": "name", "A2": "Harbour Logistics Ltd"}, padding="<!--" + " " * 8_000_000 + "-->")
    assert len(padded) < 20_000
    message = refused_quickly_in_little_memory(partner, padded)
    assert message == "xl/worksheets/sheet1.xml inflates more than 100 times: it is not a spreadsheet an application saved"


# Report schedules: cadence, quota, recipients -------------------------------------------------------

@pytest.fixture
def reports_app(db, services, clock):
    clock.set(datetime(2026, 3, 20, 9, 0, tzinfo=timezone.utc))  # the clocks change in Europe in 9 days
    app = make_app(db, services, report_schedules_per_person=3)
    yield app
    app.extensions["atrium.db"].dispose()


def schedule(person, cron: str = "0 7 * * *", recipients=("partner",), **fields):
    return person.post("/api/report-schedules", json={"report": "complaints", "cron": cron, "period": "previous_day",
                                                      "recipients": list(recipients), **fields})


def test_a_schedule_firing_more_often_than_daily_is_refused_naming_cron(reports_app):
    manager = caller(reports_app.test_client(), "manager")
    for too_often in ("* * * * *", "*/5 * * * *", "0 7,19 * * *", "0 * * * 1"):
        refused = schedule(manager, too_often)
        assert refused.status_code == 422 and refused.json["errors"].keys() == {"cron"}, (too_often, refused.json)
        assert "at most once every 1 day" in refused.json["errors"]["cron"][0]
    # Daily, weekly, monthly are fine, a daily one too where the clocks change (23 hours apart in UTC).
    for cron, zone in [("0 7 * * *", "UTC"), ("30 6 * * 1", "Asia/Shanghai"), ("0 8 * * *", "Europe/London")]:
        made = schedule(manager, cron, timezone=zone)
        assert made.status_code == 201, (cron, made.json)


def test_the_firm_sets_the_shortest_interval(db, services, clock):
    app = make_app(db, services, report_min_interval_seconds=7 * 86400.0)
    try:
        manager = caller(app.test_client(), "manager")
        daily = schedule(manager, "0 7 * * *")
        assert daily.status_code == 422 and "at most once every 7 days" in daily.json["errors"]["cron"][0]
        assert schedule(manager, "0 7 * * 1").status_code == 201
        # The 31st and the 1st are a day apart once a month: found however far into the year it falls.
        assert schedule(manager, "0 7 1,31 * *").status_code == 422
    finally:
        app.extensions["atrium.db"].dispose()


def test_one_person_keeps_a_bounded_number_of_schedules(reports_app):
    http = reports_app.test_client()
    manager, partner = caller(http, "manager"), caller(http, "partner")
    made = [schedule(manager, f"0 {hour} * * *") for hour in (6, 7, 8)]
    assert [m.status_code for m in made] == [201, 201, 201]
    fourth = schedule(manager, "0 9 * * *")
    assert fourth.status_code == 409 and "(3)" in fourth.json["detail"], fourth.json
    assert schedule(partner, "0 9 * * *").status_code == 201  # a quota per person, not for the firm
    assert manager.delete(f"/api/report-schedules/{made[0].json['id']}").status_code == 204
    assert schedule(manager, "0 9 * * *").status_code == 201


def test_reports_are_mailed_only_to_accounts_and_their_own_addresses_by_default(reports_app):
    manager = caller(reports_app.test_client(), "manager")
    with reports_app.extensions["atrium.engine"].transaction() as session:
        session.execute(update(Account).where(Account.username == "partner").values(email="Partner@Firm.example"))
    refused = schedule(manager, recipients=["partner", "leak@gmail.com", "nobody", "partner@firm.example"])
    assert refused.status_code == 422, refused.json
    assert refused.json["errors"] == {
        "recipients.1": [("leak@gmail.com: reports are mailed only to an account's (no firm email domains are "
                          "configured) email address")],
        "recipients.2": ["nobody: not an account (give a username or an email address)"]}
    # An account's own address is always fine, whatever its case.
    assert schedule(manager, recipients=["partner", "partner@firm.example"]).status_code == 201


def test_a_firm_with_email_domains_may_mail_reports_there_and_nowhere_else(db, services, clock):
    app = make_app(db, services, firm_email_domains=("firm.example", "firm.cn"))
    try:
        manager = caller(app.test_client(), "manager")
        assert schedule(manager, recipients=["cfo@firm.example", "board@FIRM.CN"]).status_code == 201
        wrong = schedule(manager, recipients=["cfo@firm.example", "cfo@firm.example.evil.com", "x@sub.firm.cn"])
        assert wrong.status_code == 422 and set(wrong.json["errors"]) == {"recipients.1", "recipients.2"}
        assert "an address in firm.example, firm.cn" in wrong.json["errors"]["recipients.1"][0]
    finally:
        app.extensions["atrium.db"].dispose()

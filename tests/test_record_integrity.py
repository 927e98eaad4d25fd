"""Records that keep their shape whoever sends what: an import that cannot be inflated into gigabytes,
complaint and service-request fields only their processes set, complaints and feedback that are never
hard-deleted, and report schedules with a sane cadence, a quota and firm-only recipients."""

from __future__ import annotations

import io
import re
import time
import tracemalloc
import uuid
import zipfile
from datetime import datetime, timedelta, timezone

import pytest
from openpyxl.utils import get_column_letter
from sqlalchemy import update

from atrium.client_import import MAX_COLUMNS
from reports.statistics import satisfaction
from reports.tables import Filters
from storage.accounts import Account
from storage.client_records import Complaint, Feedback, FollowUp

from .api_helpers import caller, make_app
from .test_process_complaint import build_app as build_complaint_app
from .test_process_complaint import new_client as new_complaint_client
from .test_process_complaint import people_of as complaint_people
from .test_process_complaint import register_complaint

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
    sheet = (
        '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
        'spreadsheetml/2006/main">'
        + (f'<dimension ref="{dimension}"/>' if dimension else "")
        + "<sheetData>"
        + "".join(f'<row r="{n}">{"".join(row)}</row>' for n, row in sorted(rows.items()))
        + padding
        + "</sheetData></worksheet>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, text in {**_XLSX_PARTS, "xl/worksheets/sheet1.xml": sheet}.items():
            archive.writestr(name, text)
    return buffer.getvalue()


@pytest.fixture
def import_app(app):
    return app  # the default row limit, as a firm runs it


def upload(person, content: bytes):
    return person.post(
        "/api/clients/import",
        data={"file": (io.BytesIO(content), "clients.xlsx"), "dry_run": "true"},
        content_type="multipart/form-data",
    )


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
    bomb = crafted_xlsx({"A1": "name", "B2": "Harbour Logistics Ltd", "XFD1048576": "x"}, dimension="A1:XFD1048576")
    assert len(bomb) < 2000
    message = refused_quickly_in_little_memory(partner, bomb)
    assert "more than 5000 blank rows" in message and "at most 5000 data rows" in message
    # The claimed dimension alone costs nothing: the sheet is read as the two cells it holds.
    claims_only = crafted_xlsx({"A1": "name", "A2": "Harbour Logistics Ltd"}, dimension="A1:XFD1048576")
    dry_run = upload(partner, claims_only)
    assert dry_run.status_code == 200 and dry_run.json["valid_rows"] == 1, dry_run.json


def test_a_sheet_wider_than_the_column_limit_is_refused_naming_it(import_app):
    partner = caller(import_app.test_client(), "partner")
    wide = crafted_xlsx(
        {"A1": "name", f"{get_column_letter(MAX_COLUMNS + 1)}1": "extra", "A2": "Harbour Logistics Ltd"}
    )
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
    assert (
        message == "xl/worksheets/sheet1.xml inflates more than 100 times: it is not a spreadsheet an application saved"
    )


# Report schedules: cadence, quota, recipients -------------------------------------------------------


@pytest.fixture
def reports_app(app_factory, clock):
    clock.set(datetime(2026, 3, 20, 9, 0, tzinfo=timezone.utc))  # the clocks change in Europe in 9 days
    return app_factory(report_schedules_per_person=3)


def schedule(person, cron: str = "0 7 * * *", recipients=("partner",), **fields):
    return person.post(
        "/api/report-schedules",
        json={"report": "complaints", "cron": cron, "period": "previous_day", "recipients": list(recipients), **fields},
    )


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
        "recipients.1": [
            (
                "leak@gmail.com: reports are mailed only to an account's (no firm email domains are "
                "configured) email address"
            )
        ],
        "recipients.2": ["nobody: not an account (give a username or an email address)"],
    }
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


# Records outside their process ----------------------------------------------------------------------


@pytest.fixture
def complaint_app(app_factory):
    return app_factory(build=build_complaint_app)


@pytest.fixture
def staff(complaint_app):
    return complaint_people(complaint_app)


def test_a_complaints_status_and_satisfaction_are_set_only_by_its_process(staff, clock):
    desk, manager = staff["service_desk"], staff["manager"]
    complaint = register_complaint(staff)
    url = f"/api/clients/{complaint['client_id']}/complaints/{complaint['id']}"
    forged = desk.patch(url, json={"status": "closed", "satisfaction": 5, "resolution": "Nothing to do"})
    assert forged.status_code == 422, forged.json
    assert forged.json["errors"] == {
        name: ["set by the complaint process"] for name in ("resolution", "satisfaction", "status")
    }
    for field, value in [
        ("received_at", "2026-01-01T00:00:00Z"),
        ("acknowledged_at", "2026-01-01T00:00:00Z"),
        ("transitions", []),
        ("escalated_to", "nobody"),
        ("instance_id", None),
    ]:
        refused = manager.patch(url, json={field: value})
        assert refused.status_code == 422 and refused.json["errors"] == {field: ["set by the complaint process"]}
    record = desk.get(url).json
    assert (record["status"], record["satisfaction"], record["resolution"]) == ("registered", None, None)
    # What the client said is the registrant's to correct.
    assert (
        desk.patch(url, json={"description": "Fined for a late VAT return", "severity": "critical"}).status_code == 200
    )
    # Nor is a new complaint born closed and rated.
    born_closed = desk.post(
        f"/api/clients/{complaint['client_id']}/complaints",
        json={"description": "Rude reply", "status": "closed", "satisfaction": 1},
    )
    assert born_closed.status_code == 422 and set(born_closed.json["errors"]) == {"status", "satisfaction"}
    # The document says so too: those fields are read-only in the request bodies.
    document = desk.get("/api/openapi.json").json["components"]["schemas"]
    assert document["ComplaintPatch"]["properties"]["status"]["readOnly"] is True
    assert "readOnly" not in document["ComplaintPatch"]["properties"]["description"]


def test_a_service_requests_status_assignee_and_rating_are_set_only_by_its_process(staff):
    desk = staff["service_desk"]
    client_id = new_complaint_client(staff["partner"])
    base = f"/api/clients/{client_id}/service-requests"
    born_closed = desk.post(base, json={"title": "VAT question", "status": "closed", "rating": 5, "assignee": "viewer"})
    assert born_closed.status_code == 422
    assert born_closed.json["errors"] == {
        name: ["set by the service request process"] for name in ("assignee", "rating", "status")
    }
    made = desk.post(base, json={"title": "VAT question", "priority": "high", "type": "tax"})
    assert made.status_code == 201, made.json
    url = f"{base}/{made.json['id']}"
    for field, value in [
        ("status", "resolved"),
        ("assignee", "service_desk"),
        ("rating", 5),
        ("priority", "low"),
        ("sla_due_at", "2030-01-01T00:00:00Z"),
        ("resolution", "done"),
    ]:
        refused = desk.patch(url, json={field: value})
        assert refused.status_code == 422, (field, refused.json)
        assert refused.json["errors"] == {field: ["set by the service request process"]}
    assert desk.patch(url, json={"content": "About last quarter's return"}).status_code == 200


def test_a_follow_up_the_cycle_opened_is_recorded_through_its_task_not_by_patch(staff, complaint_app, clock):
    am = staff["partner"]
    client_id = new_complaint_client(staff["partner"])
    by_hand = am.post(f"/api/clients/{client_id}/follow-ups", json={"channel": "visit"})
    assert by_hand.status_code == 201
    base = f"/api/clients/{client_id}/follow-ups"
    assert am.patch(f"{base}/{by_hand.json['id']}", json={"outcome": "ok"}).status_code == 200  # the recorder's own
    with complaint_app.extensions["atrium.engine"].transaction() as session:
        opened = FollowUp(
            client_id=client_id,
            planned_at=clock.now(),
            channel="call",
            instance_id=uuid.uuid4(),
            created_at=clock.now(),
            updated_at=clock.now(),
        )
        session.add(opened)
        session.flush()
        opened_id = opened.id
    refused = am.patch(f"{base}/{opened_id}", json={"outcome": "ok", "done_at": clock.now().isoformat()})
    assert refused.status_code == 422
    assert refused.json["errors"] == {
        "done_at": ["set by the follow-up process"],
        "outcome": ["set by the follow-up process"],
    }


def test_a_complaint_is_deleted_only_by_a_lead_only_after_its_process_and_only_softly(staff, complaint_app, clock):
    desk, manager, admin = staff["service_desk"], staff["manager"], staff["admin"]
    complaint = register_complaint(staff)
    base = f"/api/clients/{complaint['client_id']}"
    url = f"{base}/complaints/{complaint['id']}"

    refused = desk.delete(url)
    assert refused.status_code == 403 and "only a manager, partner or admin" in refused.json["detail"]
    running = manager.delete(url)
    assert running.status_code == 409 and "still running" in running.json["detail"], running.json
    assert desk.get(url).status_code == 200

    assert admin.post(f"/api/process-instances/{complaint['instance_id']}/cancel").status_code == 200
    assert manager.delete(url).status_code == 204
    assert desk.get(url).status_code == 404
    assert manager.delete(url).status_code == 404
    assert desk.get(f"{base}/complaints").json["total"] == 0
    assert "complaint" not in [e["kind"] for e in desk.get(f"{base}/timeline").json["items"]]
    # The row stays, marked; the audit trail keeps what it said.
    with complaint_app.extensions["atrium.engine"].transaction() as session:
        kept = session.get(Complaint, complaint["id"])
        assert kept.deleted_by == "manager" and kept.deleted_at == clock.now()
        assert kept.description == complaint["description"]
        month = Filters(clock.now().date().replace(day=1), clock.now().date() + timedelta(days=1))
        assert satisfaction.complaints_by_severity(session, month).rows == []
        assert [row[1] for row in satisfaction.complaints_trend(session, month).rows] == [0]
    [entry] = admin.get("/api/audit?action=complaint.delete").json["items"]
    assert (
        entry["actor"] == "manager"
        and entry["target"] == f"client:{complaint['client_id']}/complaints/{complaint['id']}"
    )
    assert entry["detail"]["soft"] is True
    assert entry["detail"]["record"]["description"] == complaint["description"]
    assert entry["detail"]["record"]["status"] == "registered"


def test_feedback_is_deleted_only_by_a_lead_and_leaves_lists_and_statistics(staff, complaint_app, clock):
    desk, partner, admin = staff["service_desk"], staff["partner"], staff["admin"]
    client_id = new_complaint_client(partner)
    base = f"/api/clients/{client_id}/feedback"
    made = desk.post(base, json={"csat": 1, "nps": 0, "comment": "Never again"})
    assert made.status_code == 201
    month = Filters(clock.now().date().replace(day=1), clock.now().date() + timedelta(days=1))
    with complaint_app.extensions["atrium.engine"].transaction() as session:
        assert satisfaction.csat_distribution(session, month).as_dicts()[0]["responses"] == 1

    assert desk.delete(f"{base}/{made.json['id']}").status_code == 403
    assert partner.delete(f"{base}/{made.json['id']}").status_code == 204
    assert desk.get(base).json["total"] == 0
    with complaint_app.extensions["atrium.engine"].transaction() as session:
        assert all(row["responses"] == 0 for row in satisfaction.csat_distribution(session, month).as_dicts())
        assert all(row["responses"] == 0 for row in satisfaction.nps_summary(session, month).as_dicts())
        assert session.get(Feedback, made.json["id"]).comment == "Never again"
    [entry] = admin.get("/api/audit?action=feedback.delete").json["items"]
    assert entry["detail"]["record"]["comment"] == "Never again" and entry["actor"] == "partner"

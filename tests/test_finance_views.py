"""Finance views: a client's billing (billed, paid, outstanding, overdue, unbilled time) as the panel and the
API show it, visible as the client is; the billing report; and the attacks on them."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import event

from atrium.billing_summary import client_billing, engagement_billing
from reports.statistics.billing import billing_by_client, billing_by_engagement
from reports.tables import Filters
from storage.client_records import Engagement
from storage.clients import Client

from .api_helpers import people_in_two_teams
from .factories import make_client
from .finance_factories import make_engagement, make_invoice, make_payment, make_time_entry

# The clock starts on Monday 5 January 2026. account_manager and am_tax are the "tax" team; am_audit is alone.
TODAY = date(2026, 1, 5)


def seed(session) -> dict:
    """Harbour (account_manager's): a tax engagement with INV-001 (11,300 with 1,300 VAT, paid 5,000, due
    last month: overdue 6,300), INV-002 (2,000, fully paid), INV-003 (cancelled) and 3.5 approved hours on
    an hourly fee of 800; an audit engagement with INV-004 (1,000 due next month, unpaid) and time already
    requested (not unbilled). Granite (am_audit's): INV-005 (500)."""
    harbour = make_client(session, name="Harbour Logistics", owner="account_manager")
    granite = make_client(session, name="Granite Audit", owner="am_audit")
    tax = make_engagement(session, harbour.id, service_type="tax", fee_basis="hourly", fee_amount=Decimal("800"))
    audit = make_engagement(session, harbour.id, service_type="audit")
    inv1 = make_invoice(
        session, tax, "INV-001", "11300.00", tax="1300.00", issue_date=date(2025, 11, 1), due_date=date(2025, 12, 1)
    )
    make_payment(session, inv1, "5000.00", paid_on=date(2025, 12, 10))
    inv2 = make_invoice(session, tax, "INV-002", "2000.00", issue_date=date(2025, 12, 1), due_date=date(2025, 12, 31))
    make_payment(session, inv2, "2000.00", paid_on=date(2025, 12, 20))
    make_invoice(session, tax, "INV-003", "9999.00", status="cancelled", issue_date=date(2025, 12, 2))
    make_invoice(session, audit, "INV-004", "1000.00", issue_date=date(2026, 1, 2), due_date=date(2026, 2, 1))
    make_time_entry(session, tax, "3.50")
    make_time_entry(session, tax, "2.00", billable=False)
    make_time_entry(session, tax, "1.00", status="pending_approval")
    make_time_entry(session, audit, "4.00", status="recorded")
    granite_work = make_engagement(session, granite.id)
    make_invoice(session, granite_work, "INV-005", "500.00", issue_date=date(2025, 12, 15))
    return {"harbour": harbour.id, "granite": granite.id, "tax": tax.id, "audit": audit.id}


def test_billed_paid_outstanding_overdue_and_unbilled_time_of_a_client(process_engine, clock):
    with process_engine.transaction() as session:
        ids = seed(session)
        billing = client_billing(session, ids["harbour"])
    assert billing["as_of"] == TODAY
    assert billing["totals"] == [
        {
            "currency": "CNY",
            "billed": Decimal("14300.00"),
            "paid": Decimal("7000.00"),
            "outstanding": Decimal("7300.00"),
            "overdue": Decimal("6300.00"),
        }
    ]
    assert all(isinstance(v, Decimal) for v in billing["totals"][0].values() if v != "CNY")
    # 3.5 approved hours at 800 on the hourly engagement; 4 recorded hours on the fixed-fee one (no value).
    assert (billing["unbilled_hours"], billing["unbilled_value"]) == (Decimal("7.50"), Decimal("2800.00"))
    rows = {row["service_type"]: row for row in billing["engagements"]}
    assert rows["tax"]["figures"][0]["outstanding"] == Decimal("6300.00")
    assert rows["audit"]["figures"][0]["overdue"] == Decimal("0.00")
    assert (rows["audit"]["unbilled_hours"], rows["audit"]["unbilled_value"]) == (Decimal("4.00"), Decimal("0.00"))
    states = {invoice["number"]: (invoice["state"], invoice["days_overdue"]) for invoice in billing["invoices"]}
    assert states == {
        "INV-001": ("overdue", 35),
        "INV-002": ("paid", 0),
        "INV-003": ("cancelled", 0),
        "INV-004": ("open", 0),
    }


def test_time_on_an_invoice_request_is_not_unbilled_and_a_later_day_makes_more_overdue(process_engine, clock):
    with process_engine.transaction() as session:
        ids = seed(session)
        later = client_billing(session, ids["harbour"], as_of=date(2026, 2, 2))
    assert later["totals"][0]["overdue"] == Decimal("7300.00")  # INV-004 fell due on 1 February
    partly = {i["number"]: i["state"] for i in later["invoices"]}
    assert partly["INV-004"] == "overdue"


def test_the_figures_of_many_engagements_take_a_fixed_number_of_queries(process_engine, clock):
    with process_engine.transaction() as session:
        for n in range(12):
            client = make_client(session, name=f"Client {n}")
            engagement = make_engagement(session, client.id)
            make_invoice(session, engagement, f"INV-{n:03d}", "100.00")
            make_time_entry(session, engagement, "1.00")
        statements = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(session.get_bind(), "before_cursor_execute", listener)
        try:
            rows = engagement_billing(session, None)
        finally:
            event.remove(session.get_bind(), "before_cursor_execute", listener)
    assert len(rows) == 12 and len(statements) == 3


# The API ----------------------------------------------------------------------------------------------


@pytest.fixture
def firm(app, clock):
    people = people_in_two_teams(app)
    with app.extensions["atrium.engine"].transaction() as session:
        ids = seed(session)
    return people, ids


def test_the_owner_reads_a_clients_billing_with_amounts_as_decimal_strings(firm):
    people, ids = firm
    response = people["account_manager"].get(f"/api/clients/{ids['harbour']}/billing")
    assert response.status_code == 200, response.json
    body = response.json
    assert body["totals"] == [
        {"currency": "CNY", "billed": "14300.00", "paid": "7000.00", "outstanding": "7300.00", "overdue": "6300.00"}
    ]
    assert (body["unbilled_hours"], body["unbilled_value"], body["currency"]) == ("7.50", "2800.00", "CNY")
    assert [i["number"] for i in body["invoices"]] == ["INV-004", "INV-003", "INV-002", "INV-001"]
    assert body["invoices"][-1]["state"] == "overdue" and body["invoices"][-1]["outstanding"] == "6300.00"


def test_the_team_and_readers_of_every_client_see_it_and_another_team_gets_404(firm):
    people, ids = firm
    url = f"/api/clients/{ids['harbour']}/billing"
    for who in ("am_tax", "viewer", "service_desk", "partner", "admin", "manager"):
        assert people[who].get(url).status_code == 200, who
    other = people["am_audit"].get(url)
    missing = people["am_audit"].get("/api/clients/999999/billing")
    assert other.status_code == missing.status_code == 404
    assert other.json["title"] == missing.json["title"]
    assert people["account_manager"].get(f"/api/clients/{ids['granite']}/billing").status_code == 404


def test_billing_needs_a_login_and_refuses_hostile_ids(firm, client):
    people, ids = firm
    assert client.get(f"/api/clients/{ids['harbour']}/billing").status_code == 401
    for hostile in ("abc", "-1", "1%20OR%201=1", "99999999999999999999999", "1.5", "%00"):
        response = people["partner"].get(f"/api/clients/{hostile}/billing")
        assert response.status_code in (404, 422), (hostile, response.status_code)
        assert response.content_type.startswith("application/problem+json")
    assert people["partner"].post(f"/api/clients/{ids['harbour']}/billing").status_code == 405


def test_a_deleted_client_has_no_billing(firm, app, clock):
    people, ids = firm
    with app.extensions["atrium.engine"].transaction() as session:
        session.get(Client, ids["harbour"]).deleted_at = clock.now()
    assert people["partner"].get(f"/api/clients/{ids['harbour']}/billing").status_code == 404


# The report -----------------------------------------------------------------------------------------------

DECEMBER = Filters(date(2025, 12, 1), date(2026, 1, 1))


def test_the_billing_report_per_client_and_engagement_as_the_period_ended(process_engine, clock):
    with process_engine.transaction() as session:
        seed(session)
        by_client = billing_by_client(session, DECEMBER)
        by_engagement = billing_by_engagement(session, DECEMBER)
        own = billing_by_client(session, Filters(DECEMBER.date_from, DECEMBER.date_to, owners=("am_audit",)))
        chinese = billing_by_client(session, Filters(DECEMBER.date_from, DECEMBER.date_to, locale="zh-CN"))
    # December: INV-002 (2,000, paid on 20 Dec) and Granite's INV-005 (500, due 14 Jan: not yet overdue).
    assert by_client.rows == [
        ("Granite Audit", "CNY", Decimal("500.00"), Decimal("0.00"), Decimal("500.00"), Decimal("0.00")),
        ("Harbour Logistics", "CNY", Decimal("2000.00"), Decimal("2000.00"), Decimal("0.00"), Decimal("0.00")),
    ]
    assert [c.title for c in by_client.columns] == ["Client", "Currency", "Billed", "Paid", "Outstanding", "Overdue"]
    assert "2025-12-31" in by_client.note
    assert [(row[0], row[1].split()[1], row[6]) for row in by_engagement.rows] == [
        ("Granite Audit", "tax", Decimal("0.00")),
        ("Harbour Logistics", "tax", Decimal("0.00")),
    ]
    assert own.rows == [by_client.rows[0]]
    assert chinese.title == "按客户统计的开票与收款"
    assert [c.title for c in chinese.columns] == ["客户", "币种", "已开票", "已收款", "未收款", "逾期"]
    assert "2025年12月31日" in chinese.note


def test_november_is_overdue_at_the_end_of_a_later_period(process_engine, clock):
    with process_engine.transaction() as session:
        ids = seed(session)
        table = billing_by_client(session, Filters(date(2025, 11, 1), date(2026, 1, 1)))
        rows = {row[0]: row for row in table.rows}
        # INV-001 (11,300, 5,000 paid, due 1 Dec) and INV-002: 6,300 overdue on 31 December.
        assert rows["Harbour Logistics"][2:] == (
            Decimal("13300.00"),
            Decimal("7000.00"),
            Decimal("6300.00"),
            Decimal("6300.00"),
        )
        assert session.get(Engagement, ids["tax"]) is not None


def test_the_billing_report_through_the_api_in_both_languages_as_pdf_and_xlsx(firm):
    people, ids = firm
    period = "from=2025-11-01&to=2025-12-31"
    english = people["partner"].get(f"/api/reports/billing?{period}")
    assert english.status_code == 200, english.json
    assert english.json["title"] == "Billing"
    assert [t["name"] for t in english.json["tables"]] == ["billing_by_client", "billing_by_engagement"]
    chinese = people["partner"].get(f"/api/reports/billing?{period}", headers={"Accept-Language": "zh-CN"})
    assert chinese.json["title"] == "开票与收款"
    own = people["am_audit"].get(f"/api/reports/billing?{period}")
    assert [row["client"] for row in own.json["tables"][0]["rows"]] == ["Granite Audit"]
    assert people["am_audit"].get(f"/api/reports/billing?{period}&owner=account_manager").status_code == 403
    pdf = people["partner"].get(f"/api/reports/billing?{period}&format=pdf", headers={"Accept-Language": "zh-CN"})
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    xlsx = people["partner"].get(f"/api/reports/billing?{period}&format=xlsx")
    assert xlsx.status_code == 200 and xlsx.data.startswith(b"PK")
    book = load_workbook(io.BytesIO(xlsx.data))
    sheet = book["billing_by_client"]
    assert [c.value for c in sheet[1]] == ["Client", "Currency", "Billed", "Paid", "Outstanding", "Overdue"]
    assert sheet["C2"].number_format == "#,##0.00"
    assert people["service_desk"].get(f"/api/reports/billing?{period}").status_code == 403
    assert ids

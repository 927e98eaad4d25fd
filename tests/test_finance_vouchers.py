"""The voucher export for Kingdee and Yonyou: a balanced voucher per invoice issued and per payment received in
the period, both layouts in CSV (UTF-8 with BOM, formula-safe) and XLSX, amounts with two places, the account
codes from the settings, audited; and the attacks on it."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from atrium.settings import Settings
from storage.audit import AuditEntry
from storage.clients import Client

from .api_helpers import people_in_two_teams
from .factories import make_client
from .finance_factories import make_engagement, make_invoice, make_payment

URL = "/api/finance/vouchers?from=2025-12-01&to=2025-12-31"
KINGDEE = ["凭证日期", "凭证字", "凭证号", "附单据数", "摘要", "科目代码", "科目名称", "借方金额", "贷方金额"]
YONYOU = ["制单日期", "凭证类别", "凭证编号", "附单据数", "摘要", "科目编码", "借方金额", "贷方金额"]


@pytest.fixture
def firm(app, clock):
    """December 2025: INV-101 to 广州明德 (11,300 with 1,300 VAT) on 3 Dec, paid 5,000 on 10 Dec; INV-102 to
    =HYPERLINK (2,000, no VAT) on 5 Dec; a cancelled INV-103; INV-100 in November paid on 2 Dec; INV-104 in
    January."""
    people = people_in_two_teams(app)
    with app.extensions["atrium.engine"].transaction() as session:
        mingde = make_client(session, name="广州明德会计师集团有限公司", owner="account_manager")
        hostile = make_client(session, name='=HYPERLINK("http://evil.example","x")', owner="am_audit")
        work = make_engagement(session, mingde.id)
        other = make_engagement(session, hostile.id)
        november = make_invoice(session, work, "INV-100", "1000.00", issue_date=date(2025, 11, 20))
        make_payment(session, november, "1000.00", paid_on=date(2025, 12, 2))
        inv101 = make_invoice(session, work, "INV-101", "11300.00", tax="1300.00", issue_date=date(2025, 12, 3))
        make_payment(session, inv101, "5000.00", paid_on=date(2025, 12, 10))
        make_invoice(session, other, "INV-102", "2000.00", issue_date=date(2025, 12, 5))
        make_invoice(session, work, "INV-103", "700.00", status="cancelled", issue_date=date(2025, 12, 6))
        make_invoice(session, work, "INV-104", "300.00", issue_date=date(2026, 1, 2))
    return people


def _csv(response) -> list[dict]:
    assert response.status_code == 200, response.data[:500]
    assert response.data.startswith("\ufeff".encode())
    return list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))


def _balanced(lines, number, debit, credit) -> dict:
    sums = defaultdict(lambda: [Decimal("0"), Decimal("0")])
    for line in lines:
        sums[line[number]][0] += Decimal(str(line[debit]))
        sums[line[number]][1] += Decimal(str(line[credit]))
    assert all(d == c for d, c in sums.values()), dict(sums)
    return sums


def test_kingdee_csv_has_a_balanced_voucher_per_invoice_and_payment_of_the_period(firm):
    lines = _csv(firm["partner"].get(URL + "&layout=kingdee&format=csv"))
    assert list(lines[0])[: len(KINGDEE)] == KINGDEE
    sums = _balanced(lines, "凭证号", "借方金额", "贷方金额")
    # INV-100's payment (2 Dec), INV-101 (3 Dec), INV-102 (5 Dec), INV-101's payment (10 Dec).
    assert {n: d for n, (d, _) in sums.items()} == {
        "1": Decimal("1000.00"),
        "2": Decimal("11300.00"),
        "3": Decimal("2000.00"),
        "4": Decimal("5000.00"),
    }
    invoice = [line for line in lines if line["凭证号"] == "2"]
    assert [(x["科目代码"], x["科目名称"], x["借方金额"], x["贷方金额"]) for x in invoice] == [
        ("1122", "应收账款", "11300.00", "0.00"),
        ("6001", "主营业务收入", "0.00", "10000.00"),
        ("222101", "应交税费-应交增值税(销项税额)", "0.00", "1300.00"),
    ]
    assert {x["摘要"] for x in invoice} == {"开票 INV-101 广州明德会计师集团有限公司"}
    assert {(x["凭证日期"], x["凭证字"], x["币别"]) for x in invoice} == {("2025-12-03", "记", "RMB")}
    payment = [line for line in lines if line["凭证号"] == "4"]
    assert [(x["科目代码"], x["借方金额"], x["贷方金额"], x["摘要"]) for x in payment] == [
        ("1002", "5000.00", "0.00", "收款 INV-101 广州明德会计师集团有限公司"),
        ("1122", "0.00", "5000.00", "收款 INV-101 广州明德会计师集团有限公司"),
    ]
    assert not any("INV-103" in x["摘要"] or "INV-104" in x["摘要"] for x in lines)


def test_yonyou_csv_and_both_xlsx_layouts_balance_with_two_decimal_amounts(firm):
    lines = _csv(firm["partner"].get(URL + "&layout=yonyou"))
    assert list(lines[0])[: len(YONYOU)] == YONYOU
    assert len(_balanced(lines, "凭证编号", "借方金额", "贷方金额")) == 4
    assert all(x["借方金额"].count(".") == 1 and len(x["借方金额"].split(".")[1]) == 2 for x in lines)
    for layout, headers, number, debit, credit in (
        ("kingdee", KINGDEE, "凭证号", "借方金额", "贷方金额"),
        ("yonyou", YONYOU, "凭证编号", "借方金额", "贷方金额"),
    ):
        response = firm["admin"].get(URL + f"&layout={layout}&format=xlsx")
        assert response.status_code == 200 and response.data.startswith(b"PK")
        sheet = load_workbook(io.BytesIO(response.data)).active
        rows = list(sheet.iter_rows(values_only=True))
        assert list(rows[0][: len(headers)]) == headers
        records = [dict(zip(rows[0], row)) for row in rows[1:]]
        assert len(_balanced(records, number, debit, credit)) == 4
        column = rows[0].index(debit) + 1
        assert sheet.cell(2, column).number_format == "0.00"
        assert isinstance(sheet.cell(2, column).value, (int, float))


def test_the_period_filter_and_an_empty_period(firm):
    january = _csv(firm["partner"].get("/api/finance/vouchers?from=2026-01-01&to=2026-01-31&layout=kingdee"))
    assert {x["摘要"] for x in january} == {"开票 INV-104 广州明德会计师集团有限公司"}
    one_day = _csv(firm["partner"].get("/api/finance/vouchers?from=2025-12-10&to=2025-12-10&layout=yonyou"))
    assert {x["凭证编号"] for x in one_day} == {"1"} and len(one_day) == 2
    assert _csv(firm["partner"].get("/api/finance/vouchers?from=2024-01-01&to=2024-01-31&layout=yonyou")) == []


def test_a_client_name_a_spreadsheet_would_run_is_neutralised(firm):
    for layout in ("kingdee", "yonyou"):
        response = firm["manager"].get(URL + f"&layout={layout}")
        text = response.data.decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(text)))
        assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
        assert any('=HYPERLINK("http://evil.example","x")' in cell for row in rows for cell in row)
        sheet = load_workbook(io.BytesIO(firm["manager"].get(URL + f"&layout={layout}&format=xlsx").data)).active
        assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_the_export_is_audited(firm, app):
    firm["partner"].get(URL + "&layout=kingdee&format=xlsx")
    with app.extensions["atrium.engine"].transaction() as session:
        row = session.scalars(select(AuditEntry).where(AuditEntry.action == "finance.vouchers_export")).one()
    assert row.actor == "partner"
    assert row.detail == {
        "layout": "kingdee",
        "format": "xlsx",
        "from": "2025-12-01",
        "to": "2025-12-31",
        "vouchers": 4,
        "lines": 9,
    }


def test_only_leads_export_vouchers(firm, client):
    assert client.get(URL + "&layout=kingdee").status_code == 401
    for role in ("account_manager", "service_desk", "viewer"):
        response = firm[role].get(URL + "&layout=kingdee")
        assert response.status_code == 403, role
        assert response.content_type.startswith("application/problem+json")
    for role in ("admin", "partner", "manager"):
        assert firm[role].get(URL + "&layout=kingdee").status_code == 200, role


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2025-13-01&to=2025-12-31&layout=kingdee", "from"),
        ("from=yesterday&to=2025-12-31&layout=kingdee", "from"),
        ("from=2025-12-01&to=2025-12-31';--&layout=kingdee", "to"),
        ("from=2025-12-31&to=2025-12-01&layout=kingdee", "to"),
        ("from=2020-01-01&to=2025-12-31&layout=kingdee", "to"),
        ("to=2025-12-31&layout=kingdee", "from"),
        ("from=2025-12-01&to=2025-12-31&layout=sap", "layout"),
        ("from=2025-12-01&to=2025-12-31", "layout"),
        ("from=2025-12-01&to=2025-12-31&layout=kingdee&format=pdf", "format"),
        ("from=2025-12-01&to=2025-12-31&layout=kingdee%00", "layout"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(firm, query, field):
    response = firm["partner"].get(f"/api/finance/vouchers?{query}")
    assert response.status_code == 422, response.json
    assert response.content_type.startswith("application/problem+json")
    assert field in str(response.json["errors"]), response.json


def test_an_erased_client_is_written_by_its_number(firm, app, clock):
    with app.extensions["atrium.engine"].transaction() as session:
        client = session.scalars(select(Client).where(Client.name.like("=HYPERLINK%"))).one()
        client.erased_at, client_id = clock.now(), client.id
    lines = _csv(firm["partner"].get(URL + "&layout=yonyou"))
    assert {x["摘要"] for x in lines if "INV-102" in x["摘要"]} == {f"开票 INV-102 客户 #{client_id}"}
    assert not any("HYPERLINK" in x["摘要"] for x in lines)


def test_account_codes_come_from_the_settings():
    settings = Settings.from_env(
        {"ATRIUM_ACCOUNT_RECEIVABLE": "1122.01", "ATRIUM_ACCOUNT_BANK": "100201", "ATRIUM_ACCOUNT_OUTPUT_VAT": ""}
    )
    assert settings.voucher_accounts == {
        "receivable": "1122.01",
        "revenue": "6001",
        "output_vat": "222101",
        "bank": "100201",
    }
    with pytest.raises(ValueError, match="ATRIUM_ACCOUNT_REVENUE"):
        Settings.from_env({"ATRIUM_ACCOUNT_REVENUE": "=1+1"})

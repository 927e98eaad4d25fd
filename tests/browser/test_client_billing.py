"""A client's billing in the browser: the account manager opens her client's "Billing" tab and sees what was
billed, paid, outstanding and overdue, the unbilled time, a row per engagement and the invoices with their
due dates (the overdue one tagged in red), in English and in Chinese, at desktop and phone width."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

from playwright.sync_api import expect

from atrium import clock

from ..finance_factories import make_engagement, make_invoice, make_payment, make_time_entry
from .client_steps import as_person, new_client, signed_in


def _billed(live_server, client_id: int) -> None:
    """Tax (hourly at 800): INV-001 11,300 paid 5,000 and overdue 40 days; INV-002 2,000 paid in full;
    3.5 unbilled hours. Audit: INV-003 1,000 due in 20 days."""
    today = clock.now().date()
    engine = live_server.app.extensions["atrium.engine"]
    with engine.transaction() as session:
        tax = make_engagement(
            session, client_id, service_type="Annual tax filing", fee_basis="hourly", fee_amount=Decimal("800")
        )
        audit = make_engagement(session, client_id, service_type="Statutory audit")
        first = make_invoice(
            session,
            tax,
            "INV-001",
            "11300.00",
            tax="1300.00",
            issue_date=today - timedelta(days=70),
            due_date=today - timedelta(days=40),
        )
        make_payment(session, first, "5000.00", paid_on=today - timedelta(days=30))
        second = make_invoice(session, tax, "INV-002", "2000.00", issue_date=today - timedelta(days=20))
        make_payment(session, second, "2000.00", paid_on=today - timedelta(days=5))
        make_invoice(
            session,
            audit,
            "INV-003",
            "1000.00",
            issue_date=today - timedelta(days=10),
            due_date=today + timedelta(days=20),
        )
        make_time_entry(session, tax, "3.50")


def test_the_account_manager_sees_her_clients_billing_in_english_and_chinese(live_server, page, shot):
    amy = as_person(live_server, "amy")
    client = new_client(amy, "Harbour Logistics Ltd", owner="amy", status="active", tier="A")
    _billed(live_server, client["id"])

    signed_in(page, live_server, "amy")
    page.goto(f"{live_server.url}/clients/{client['id']}")
    page.get_by_role("tab", name="Billing").click()
    totals = page.get_by_role("region", name="Billing totals")
    for title, amount in (
        ("Billed", "¥14,300.00"),
        ("Paid", "¥7,000.00"),
        ("Outstanding", "¥7,300.00"),
        ("Overdue", "¥6,300.00"),
    ):
        expect(totals.locator(".ant-statistic").filter(has_text=title).get_by_text(amount)).to_be_visible()
    expect(totals.get_by_text("3.5 h")).to_be_visible()
    expect(totals.get_by_text("¥2,800.00")).to_be_visible()
    engagements = page.get_by_role("table").first
    expect(engagements.get_by_role("row", name=re.compile("Annual tax filing.*¥13,300.00.*¥6,300.00"))).to_be_visible()
    invoices = page.locator(".billing-section .ant-table").nth(1)
    overdue = invoices.get_by_role("row", name=re.compile("INV-001"))
    expect(overdue.get_by_text("Overdue 40 days")).to_be_visible()
    expect(overdue.locator(".ant-tag-red")).to_be_visible()
    expect(invoices.get_by_role("row", name=re.compile("INV-002")).get_by_text("Paid", exact=True)).to_be_visible()
    expect(invoices.get_by_role("row", name=re.compile("INV-003")).get_by_text("Open")).to_be_visible()
    shot(page, "billing-en-desktop")
    page.set_viewport_size({"width": 360, "height": 780})
    expect(totals.get_by_text("¥7,300.00")).to_be_visible()
    shot(page, "billing-en-phone")
    page.set_viewport_size({"width": 1280, "height": 860})

    page.get_by_text("中文", exact=True).click()
    page.get_by_role("tab", name="开票与收款").click()
    totals = page.get_by_role("region", name="开票与收款合计")
    for title, amount in (
        ("已开票", "¥14,300.00"),
        ("已收款", "¥7,000.00"),
        ("未收款", "¥7,300.00"),
        ("逾期", "¥6,300.00"),
    ):
        expect(totals.locator(".ant-statistic").filter(has_text=title).get_by_text(amount)).to_be_visible()
    expect(totals.get_by_text("未开票工时")).to_be_visible()
    expect(totals.get_by_text("3.5 小时")).to_be_visible()
    invoices = page.locator(".billing-section .ant-table").nth(1)
    expect(invoices.get_by_role("row", name=re.compile("INV-001")).get_by_text("逾期 40 天")).to_be_visible()
    expect(invoices.get_by_role("row", name=re.compile("INV-002")).get_by_text("已收款", exact=True)).to_be_visible()
    shot(page, "billing-zh-desktop")
    page.set_viewport_size({"width": 360, "height": 780})
    shot(page, "billing-zh-phone")


def test_another_teams_account_manager_cannot_open_the_billing(live_server, page):
    amy = as_person(live_server, "amy")
    client = new_client(amy, "Harbour Logistics Ltd", owner="amy", status="active", tier="A")
    _billed(live_server, client["id"])
    assert as_person(live_server, "alan").get(f"/api/clients/{client['id']}/billing").status_code == 404
    signed_in(page, live_server, "alan")
    page.goto(f"{live_server.url}/clients/{client['id']}?tab=billing")
    expect(page.get_by_text("¥14,300.00")).to_have_count(0)

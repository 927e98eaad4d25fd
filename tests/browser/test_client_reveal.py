"""Masked contact data on the client page: a viewer sees phones, emails and addresses masked, reveals one
field with a reason (asked in a dialog, in English or Chinese) and sees it in full in place, audited; a
failed reveal says why; an administrator, who sees everything in full, is offered no reveal at all."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import select

from storage.audit import AuditEntry

from .client_steps import as_person, new_client, signed_in

PHONE = "13800131234"
EMAIL = "carol@example.com"
STREET = "88 Tianhe Road"


def harbour(live_server) -> dict:
    amy = as_person(live_server, "amy")
    return new_client(
        amy,
        "Pearl River Trading",
        owner="amy",
        status="active",
        phones=[PHONE],
        emails=[EMAIL],
        addresses=[{"label": "office", "street": STREET, "city": "Guangzhou", "country": "China"}],
    )


def reveal_rows(live_server) -> list[tuple]:
    with live_server.app.extensions["atrium.engine"].transaction() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action == "client.reveal").order_by(AuditEntry.id))
        return [(r.actor, r.target, r.outcome, r.detail) for r in rows]


def test_a_viewer_reveals_a_phone_for_a_reason_and_sees_it_in_full_audited(live_server, page, shot):
    client = harbour(live_server)
    signed_in(page, live_server, "vera")
    page.goto(f"{live_server.url}/clients/{client['id']}")
    expect(page.get_by_role("heading", name="Pearl River Trading", level=1)).to_be_visible()
    details = page.locator(".client-details")
    expect(details.get_by_text("138****1234")).to_be_visible()
    expect(details.get_by_text("c***@example.com")).to_be_visible()
    expect(details.get_by_text(PHONE)).to_have_count(0)
    shot(page, "viewer-masked")

    page.get_by_role("button", name="Reveal Phones").click()
    dialog = page.get_by_role("dialog", name="Reveal Phones")
    expect(dialog).to_contain_text("recorded in the audit trail")
    dialog.get_by_role("button", name="Reveal").click()
    expect(dialog.get_by_text("Say why you need to see it.")).to_be_visible()
    dialog.get_by_label("Why do you need it?").fill("to call")
    dialog.get_by_role("button", name="Reveal").click()
    expect(dialog.get_by_text("Say a little more: at least 10 characters.")).to_be_visible()
    shot(page, "reveal-reason-asked")
    assert reveal_rows(live_server) == []
    dialog.get_by_label("Why do you need it?").fill("The client asked us to call back about the invoice")
    dialog.get_by_role("button", name="Reveal").click()
    expect(dialog).to_be_hidden()
    expect(details.get_by_role("link", name=PHONE)).to_be_visible()
    expect(details.get_by_text("Shown in full")).to_be_visible()
    expect(page.get_by_role("button", name="Reveal Phones")).to_have_count(0)
    # The other fields stay masked.
    expect(details.get_by_text("c***@example.com")).to_be_visible()
    expect(page.get_by_role("button", name="Reveal Emails")).to_be_visible()
    shot(page, "phone-revealed")
    assert reveal_rows(live_server) == [
        (
            "vera",
            f"client:{client['id']}",
            "success",
            {"field": "phones", "reason": "The client asked us to call back about the invoice"},
        )
    ]

    # In Chinese: the same action, its dialog and its messages.
    page.get_by_text("中文", exact=True).click()
    page.get_by_role("button", name="查看完整邮箱").click()
    dialog = page.get_by_role("dialog", name="查看完整邮箱")
    expect(dialog).to_contain_text("记入审计日志")
    dialog.get_by_role("button", name="查 看").or_(dialog.get_by_role("button", name="查看")).click()
    expect(dialog.get_by_text("请说明为何需要查看。")).to_be_visible()
    dialog.get_by_label("查看原因").fill("客户来电要求我们发送对账单到此邮箱")
    shot(page, "reveal-dialog-zh")
    dialog.get_by_role("button", name="查 看").or_(dialog.get_by_role("button", name="查看")).click()
    expect(dialog).to_be_hidden()
    expect(details.get_by_role("link", name=EMAIL)).to_be_visible()
    expect(details.get_by_text("已显示完整内容")).to_have_count(2)
    shot(page, "email-revealed-zh")

    # Gone after a reload: revealing is for the moment, not kept.
    page.reload()
    expect(details.get_by_text("138****1234")).to_be_visible()
    expect(details.get_by_text(PHONE)).to_have_count(0)
    page.set_viewport_size({"width": 360, "height": 780})
    expect(page.get_by_role("button", name="查看完整电话")).to_be_visible()
    shot(page, "masked-phone-size-zh")
    page.set_viewport_size({"width": 1280, "height": 860})

    # A reveal the server refuses (the client was removed meanwhile) is said plainly, in the dialog.
    partner = as_person(live_server, "paula")
    assert partner.delete(f"/api/clients/{client['id']}").status_code == 204
    page.get_by_role("button", name="查看完整地址").click()
    dialog = page.get_by_role("dialog", name="查看完整地址")
    dialog.get_by_label("查看原因").fill("需要上门拜访，核对办公地址")
    dialog.get_by_role("button", name="查 看").or_(dialog.get_by_role("button", name="查看")).click()
    expect(dialog.get_by_role("alert")).to_contain_text("不存在")
    expect(details.get_by_text(STREET)).to_have_count(0)
    shot(page, "reveal-refused-zh")
    assert [row[3]["field"] for row in reveal_rows(live_server)] == ["phones", "emails"]


def test_an_admin_sees_contact_data_in_full_and_no_reveal_action(live_server, page, shot):
    client = harbour(live_server)
    signed_in(page, live_server, "ada")
    page.goto(f"{live_server.url}/clients/{client['id']}")
    details = page.locator(".client-details")
    expect(details.get_by_role("link", name=PHONE)).to_be_visible()
    expect(details.get_by_role("link", name=EMAIL)).to_be_visible()
    expect(details.get_by_text(STREET)).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("^Reveal"))).to_have_count(0)
    shot(page, "admin-full")

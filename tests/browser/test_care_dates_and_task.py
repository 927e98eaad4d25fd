"""Relationship care in the browser: an account manager records a contact's lunar birthday on the client
page and sees when it falls next; once the firm switches care on, the founding anniversary a few days
ahead puts a care task in the owner's inbox with the suggested greeting, in the client's language."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import expect

from atrium import clock
from engine.scheduler import fire_due_timers

from .client_steps import as_person, new_client, signed_in


def test_the_owner_records_a_lunar_birthday_and_prepares_the_anniversary_from_the_inbox(live_server, page, shot):
    amy, ada = as_person(live_server, "amy"), as_person(live_server, "ada")
    client = new_client(
        amy, "Pearl River Trading", owner="amy", status="active", tier="A", emails=["ceo@pearl.example"]
    )
    contact = amy.post(
        f"/api/clients/{client['id']}/contacts", json={"name": "Chen Jie", "emails": ["chen@pearl.example"]}
    )
    assert contact.status_code == 201, contact.json

    signed_in(page, live_server, "amy")
    page.goto(f"{live_server.url}/clients/{client['id']}")
    expect(page.get_by_role("heading", name="Pearl River Trading", level=1)).to_be_visible()
    page.get_by_role("tab", name="Care dates").click()
    expect(page.get_by_role("tab", name="Care dates")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_text("No care dates yet")).to_be_visible()
    page.get_by_role("button", name="Add care date").click()
    dialog = page.get_by_role("dialog", name="New care date")
    dialog.get_by_label("Whose").click()
    page.locator(".ant-select-item-option", has_text="Chen Jie").click()
    expect(page.locator(".ant-select-dropdown:visible")).to_have_count(0)
    dialog.locator(".ant-form-item", has_text="Calendar").locator(".ant-select-selector").click()
    page.locator(".ant-select-item-option", has_text="Lunar").click()
    expect(page.locator(".ant-select-dropdown:visible")).to_have_count(0)
    dialog.get_by_label("Month").fill("8")
    dialog.get_by_label("Day").fill("31")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.get_by_text(re.compile("day must be 1 to 30"))).to_be_visible()  # the server names the field
    dialog.get_by_label("Day").fill("15")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    section = page.get_by_role("region", name="Care dates")
    expect(section.get_by_text("Lunar month 8, day 15")).to_be_visible()
    expect(section.get_by_text("Chen Jie")).to_be_visible()
    expect(page.get_by_text("Coming holidays:")).to_be_visible()  # tier A gets the firm's holidays too
    shot(page, "care-dates")

    # The firm switches care on; the founding anniversary is five days ahead, within tier A's 14 days.
    settings = ada.get("/api/settings/care").json
    assert ada.put("/api/settings/care", json={**settings, "enabled": True, "default_locale": "en"}).status_code == 200
    soon = clock.now().date() + timedelta(days=5)
    founded = {"kind": "founding_anniversary", "month": soon.month, "day": soon.day, "year": soon.year - 10}
    assert amy.post(f"/api/clients/{client['id']}/care-dates", json=founded).status_code == 201
    # The cycle was waiting for a later occasion: the new date makes it plan afresh, so it is not missed.
    fire_due_timers(live_server.app.extensions["atrium.engine"])

    page.goto(f"{live_server.url}/inbox?tab=assigned")
    task_link = page.get_by_role("link", name=re.compile("^Prepare .* for Pearl River Trading"))
    expect(task_link.first).to_be_visible()
    shot(page, "care-task-in-inbox")
    task_link.first.click()
    expect(page.get_by_label("Greeting subject (mailed when you choose the greeting mail)")).to_have_value(
        "Congratulations on Pearl River Trading's anniversary"
    )
    shot(page, "care-task-form")

    # In Chinese: the section, its lunar date and the coming festivals.
    page.goto(f"{live_server.url}/clients/{client['id']}?tab=care")
    page.get_by_text("中文", exact=True).click()
    section = page.get_by_role("region", name="关怀日期")
    expect(section.get_by_text("农历8月15日")).to_be_visible()
    expect(page.get_by_text("即将到来的节日：")).to_be_visible()
    expect(page.get_by_text(re.compile("春节"))).to_be_visible()
    shot(page, "care-dates-zh")

"""Scenario 5: a viewer reads everything and sees no button to change or start anything; opening an
action's address directly gives the friendly refusal, not a broken page."""

from __future__ import annotations

from playwright.sync_api import expect

from .client_steps import as_person, new_client, signed_in


def test_viewer_sees_no_edit_start_or_new_buttons_and_action_urls_refuse_kindly(live_server, page, shot):
    amy = as_person(live_server, "amy")
    client = new_client(amy, "广州明德会计师集团有限公司", owner="amy", status="active")
    made = amy.post(f"/api/clients/{client['id']}/contacts", json={"name": "王芳", "role": "财务经理"})
    assert made.status_code == 201, made.json

    signed_in(page, live_server, "vera")
    expect(page.get_by_role("link", name="Start work")).to_have_count(0)
    shot(page, "viewer-inbox")

    page.get_by_role("link", name="Clients").click()
    expect(page.get_by_role("link", name="广州明德会计师集团有限公司")).to_be_visible()
    for name in ("New client", "Export to Excel (XLSX)", "Export to CSV"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)
        expect(page.get_by_role("link", name=name)).to_have_count(0)
    shot(page, "viewer-client-list")

    page.get_by_role("link", name="广州明德会计师集团有限公司").click()
    expect(page.get_by_role("heading", name="广州明德会计师集团有限公司", level=1)).to_be_visible()
    for name in ("New service request", "Record a complaint", "Edit client"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)
    page.get_by_role("tab", name="Contacts").click()
    expect(page.get_by_role("table").get_by_text("王芳")).to_be_visible()
    expect(page.get_by_role("button", name="Add a contact")).to_have_count(0)
    expect(page.get_by_role("button", name="Edit 王芳")).to_have_count(0)
    shot(page, "viewer-client-page")

    for path in ("/clients/new", f"/clients/{client['id']}/edit", "/start"):
        page.goto(live_server.url + path)
        expect(page.get_by_role("heading", name="You can't open this page")).to_be_visible()
        expect(page.get_by_role("button", name="Back to the inbox")).to_be_visible()
    shot(page, "viewer-refused")

    page.set_viewport_size({"width": 360, "height": 780})
    page.goto(f"{live_server.url}/clients/{client['id']}")
    expect(page.get_by_role("heading", name="广州明德会计师集团有限公司", level=1)).to_be_visible()
    shot(page, "viewer-client-page-phone")

    page.get_by_text("中文", exact=True).click()
    expect(page.get_by_role("tab", name="概览")).to_be_visible()
    expect(page.get_by_text("潜在").or_(page.get_by_text("活跃")).first).to_be_visible()
    shot(page, "viewer-client-page-phone-zh")


def test_a_client_of_another_team_is_not_found_kindly(live_server, page, shot):
    alan = as_person(live_server, "alan")
    client = new_client(alan, "South Harbour Trading", owner="alan")
    signed_in(page, live_server, "amy")
    page.goto(f"{live_server.url}/clients/{client['id']}")
    expect(page.get_by_role("heading", name="Client not found")).to_be_visible()
    expect(page.get_by_role("button", name="Back to clients")).to_be_visible()
    shot(page, "client-not-found")

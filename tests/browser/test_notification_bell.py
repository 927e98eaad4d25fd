"""The bell in every screen's header: how many unread notifications, the list of them linking to their
task, and marking them read."""

from __future__ import annotations

from playwright.sync_api import expect

from .client_steps import as_person, complete, new_client, open_task, signed_in


def test_assignee_sees_the_assignment_under_the_bell_opens_its_task_link_and_marks_all_read(live_server, page, shot):
    amy, dee = as_person(live_server, "amy"), as_person(live_server, "dee")
    client = new_client(amy, "广州明德会计师集团有限公司", owner="amy")
    made = dee.post(f"/api/clients/{client['id']}/service-requests", json={"title": "Payroll question"})
    assert made.status_code == 201, made.json
    instance_id = made.json["instance_id"]
    complete(dee, open_task(dee, instance_id, "triage"), decision="accept", type="payroll", priority="normal")
    complete(dee, open_task(dee, instance_id, "assign"), assignee="sam")
    work = open_task(as_person(live_server, "sam"), instance_id, "work")

    page.set_viewport_size({"width": 360, "height": 780})
    signed_in(page, live_server, "sam")
    bell = page.get_by_role("button", name="Notifications, 1 unread")
    expect(bell).to_be_visible()
    bell.click()
    panel = page.get_by_role("dialog", name="Notifications")
    expect(panel).to_be_visible()
    link = panel.get_by_role("link")
    expect(link).to_have_attribute("href", f"/tasks/{work['id']}")
    page.wait_for_timeout(400)  # the drawer's slide-in, for the screenshot
    shot(page, "bell-open-phone")

    panel.get_by_role("button", name="Mark all as read").click()
    page.get_by_role("tooltip").get_by_role("button", name="Mark all as read").click()
    expect(panel.get_by_text("You're all caught up.")).to_be_visible()
    expect(page.get_by_role("button", name="Notifications", exact=True)).to_be_visible()
    shot(page, "bell-caught-up-phone")

"""Scenario 3: a partner rejects an approval without a reason and is told, next to the reason field,
to give one; with a reason, after confirming, the request is rejected and leaves her inbox."""

from __future__ import annotations

import re

from .conftest import log_in
from .seed import api_as, create_client, open_tasks, request_approval

CLIENT = "广州明德会计师集团有限公司"


def test_a_partner_rejecting_an_approval_must_give_a_reason_and_confirm(live_server, page, shot):
    amy = api_as(live_server, "amy")
    client = create_client(amy, CLIENT, owner="amy")
    instance = request_approval(amy, amount=42000, client_id=client["id"])

    log_in(page, live_server, "paula")
    page.get_by_role("heading", name="Inbox").wait_for()
    offered = page.get_by_role("tab", name=re.compile("Offered to me"))
    offered.click()
    task_link = page.get_by_role("link", name=re.compile(CLIENT))
    task_link.wait_for()
    # The row says what the task is about: the fee and the client, not only "Decide on the request".
    assert "42,000" in task_link.inner_text()
    assert offered.get_attribute("aria-selected") == "true" and "1" in offered.inner_text()
    shot(page, "inbox-offered")
    page.set_viewport_size({"width": 360, "height": 780})
    shot(page, "inbox-offered-phone")
    page.set_viewport_size({"width": 1280, "height": 860})

    task_link.click()
    page.get_by_role("heading", level=1, name=re.compile(CLIENT)).wait_for()
    # Beside the form: the client, with a link to its page, and who asked.
    about = page.get_by_role("complementary", name="About this task")
    assert about.get_by_role("link", name=CLIENT).get_attribute("href") == f"/clients/{client['id']}"
    about.get_by_text("amy").first.wait_for()

    page.get_by_role("radio", name=re.compile("^reject$", re.IGNORECASE)).check()
    page.get_by_role("button", name="Complete task").click()
    reason_item = page.locator(".ant-form-item").filter(has=page.get_by_label("Reason"))
    reason_item.get_by_text("Fill in this field.").wait_for()
    assert page.get_by_role("alert").filter(has_text="Some fields need your attention").is_visible()
    assert page.get_by_role("dialog").count() == 0  # nothing was asked or sent yet
    shot(page, "reason-missing")

    page.get_by_label("Reason").fill("The fee is above the cap in the engagement letter.")
    page.get_by_role("button", name="Complete task").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("The request is rejected and the requester is told").wait_for()
    shot(page, "confirm-reject")
    dialog.get_by_role("button", name=re.compile("reject", re.IGNORECASE)).click()

    page.wait_for_url(re.compile(r"/inbox$"))
    page.get_by_text(re.compile("^Done: ")).wait_for()
    page.get_by_role("tab", name=re.compile("Offered to me")).click()
    page.get_by_text("Nothing offered to you right now").wait_for()
    assert page.get_by_role("link", name=re.compile(CLIENT)).count() == 0
    shot(page, "inbox-after-reject")

    history = amy.get(f"/api/process-instances/{instance['id']}").json
    assert history["status"] == "completed"
    assert not open_tasks(api_as(live_server, "paula"), view="offered")


def test_a_task_one_may_not_see_is_a_friendly_page(live_server, page, shot):
    amy = api_as(live_server, "amy")
    client = create_client(amy, CLIENT, owner="amy")
    request_approval(amy, amount=42000, client_id=client["id"])
    [decide] = open_tasks(api_as(live_server, "paula"), view="offered")
    log_in(page, live_server, "dee")  # the service desk: not offered, not theirs
    page.get_by_role("heading", name="Inbox").wait_for()
    page.goto(f"{live_server.url}/tasks/{decide['id']}")
    page.get_by_role("heading", name=re.compile("can't open|not found", re.IGNORECASE)).wait_for()
    page.get_by_role("link", name="Back to the inbox").first.wait_for()
    shot(page, "task-refused")
    page.goto(f"{live_server.url}/tasks/00000000-0000-0000-0000-000000000000")
    page.get_by_role("heading", name="Page not found").wait_for()

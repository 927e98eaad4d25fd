"""Scenario 1, the partner's part: an onboarding proposed by an account manager waits in the partner's
inbox under its subject; she opens it, approves after the confirmation, and the new client exists.
Also the start page the account manager begins such work from."""

from __future__ import annotations

import re

from .conftest import log_in
from .seed import api_as, propose_client

CLIENT = "广州明德会计师集团有限公司"


def test_a_partner_approves_an_onboarding_from_her_inbox(live_server, page, shot):
    amy = api_as(live_server, "amy")
    propose_client(amy, CLIENT, owner="amy")

    log_in(page, live_server, "paula")
    page.get_by_role("heading", name="Inbox").wait_for()
    page.get_by_role("tab", name=re.compile("Offered to me")).click()
    task_link = page.get_by_role("link", name=re.compile(CLIENT))
    task_link.wait_for()
    shot(page, "inbox-onboarding")
    task_link.click()

    page.get_by_role("heading", level=1, name=re.compile(CLIENT)).wait_for()
    # What is under review is shown read-only, as text.
    page.get_by_text("陈静").first.wait_for()
    shot(page, "onboarding-review")
    page.set_viewport_size({"width": 360, "height": 780})
    shot(page, "onboarding-review-phone")
    page.set_viewport_size({"width": 1280, "height": 860})

    page.get_by_role("radio", name=re.compile("^approve$", re.IGNORECASE)).check()
    page.get_by_role("button", name="Complete task").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("The request is approved").wait_for()
    dialog.get_by_role("button", name=re.compile("approve", re.IGNORECASE)).click()
    page.wait_for_url(re.compile(r"/inbox$"))
    page.get_by_text(re.compile("^Done: ")).wait_for()
    shot(page, "inbox-after-approval")

    found = amy.get("/api/clients", query_string={"q": "明德"}).json["items"]
    assert [c["name"] for c in found] == [CLIENT]


def test_an_account_manager_sees_what_she_may_start_and_starts_an_approval(live_server, page, shot):
    log_in(page, live_server, "amy")
    page.get_by_role("heading", name="Inbox").wait_for()
    page.get_by_text("No tasks assigned to you").wait_for()
    shot(page, "inbox-empty")
    page.get_by_role("link", name="Start work").click()
    page.get_by_role("heading", name="Start work").wait_for()
    start = page.get_by_role("button", name=re.compile("^Start: .*(approval|Approval)"))
    start.first.wait_for()
    shot(page, "start")
    page.set_viewport_size({"width": 360, "height": 780})
    shot(page, "start-phone")
    page.set_viewport_size({"width": 1280, "height": 860})
    start.first.click()

    page.get_by_role("heading", level=1).wait_for()
    page.get_by_role("radio", name=re.compile("^fee$", re.IGNORECASE)).check()
    page.get_by_label("Amount").fill("2500")
    page.get_by_label("Justification").fill("Extra site visits")
    shot(page, "start-approval-form")
    page.get_by_role("button", name="Start").click()
    # The request form opens for the starter to check and submit.
    page.wait_for_url(re.compile(r"/tasks/"))
    page.get_by_role("button", name="Complete task").wait_for()
    assert page.get_by_label("Amount").input_value() == "2500"
    shot(page, "started-first-task")

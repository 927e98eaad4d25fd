"""Scenario 6: keyboard only. Log in, open the first task from the inbox, fill its form, submit and
confirm, with Tab, arrows, Space and Enter: no clicks anywhere."""

from __future__ import annotations

import re

from .conftest import password
from .seed import api_as, create_client, request_approval

CLIENT = "广州明德会计师集团有限公司"
MAX_TABS = 60


def focused(page) -> dict:
    return page.evaluate("""() => { const e = document.activeElement;
        return {tag: e.tagName, text: (e.innerText || e.value || '').trim(), role: e.getAttribute('role'),
                label: e.getAttribute('aria-label') || '', type: e.getAttribute('type') || ''}; }""")


def tab_until(page, matches, what: str) -> dict:
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        now = focused(page)
        if matches(now):
            return now
    raise AssertionError(f"Tab never reached {what}")


def test_keyboard_only_from_login_to_a_completed_task(live_server, page, shot):
    amy = api_as(live_server, "amy")
    client = create_client(amy, CLIENT, owner="amy")
    request_approval(amy, amount=42000, client_id=client["id"])

    page.goto(live_server.url + "/login")
    page.get_by_role("heading", name="Log in to Atrium").wait_for()
    # The username field has the focus on arrival.
    page.keyboard.type("paula")
    page.keyboard.press("Tab")
    page.keyboard.type(password("paula"))
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Inbox").wait_for()

    # The tabs: reach the selected one, then the arrow key moves to "Offered to me".
    tab_until(page, lambda e: e["role"] == "tab", "the inbox tabs")
    page.keyboard.press("ArrowRight")
    assert focused(page)["text"].startswith("Offered to me")
    page.get_by_role("link", name=re.compile(CLIENT)).wait_for()
    tab_until(page, lambda e: e["tag"] == "A" and CLIENT in e["text"], "the first task")
    shot(page, "keyboard-inbox-focus")
    page.keyboard.press("Enter")

    page.get_by_role("heading", level=1, name=re.compile(CLIENT)).wait_for()
    # The decision: Tab to the choices, Space picks the first (approve).
    tab_until(page, lambda e: e["type"] == "radio", "the decision")
    page.keyboard.press("Space")
    assert page.get_by_role("radio", name=re.compile("^approve$", re.IGNORECASE)).is_checked()
    tab_until(page, lambda e: e["tag"] == "TEXTAREA" or e["label"] == "Reason" or e["type"] == "text", "the reason")
    page.keyboard.type("Within the agreed budget.")
    tab_until(page, lambda e: e["tag"] == "BUTTON" and e["text"] == "Complete task", "the submit button")
    shot(page, "keyboard-form")
    page.keyboard.press("Enter")

    dialog = page.get_by_role("dialog")
    dialog.get_by_text("The request is approved").wait_for()
    shot(page, "keyboard-confirm")
    # The confirm button has the focus: Enter confirms.
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/inbox$"))
    page.get_by_text(re.compile("^Done: ")).wait_for()
    shot(page, "keyboard-done")

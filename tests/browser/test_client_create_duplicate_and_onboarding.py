"""Scenario 1: an account manager creates a client with a Chinese name through the form, meets the
duplicate warning when creating it again, confirms, then starts onboarding for another client; a partner
sees it in her inbox under its subject and approves it; the new client is on the list, with its timeline."""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect

from .client_steps import signed_in
from .conftest import log_in

NAME = "广州明德会计师集团有限公司"
OTHER = "深圳华信科技有限公司"


def _fill_new_client(page, name: str, phone: str) -> None:
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Industry").fill("会计")
    phones = page.get_by_label("Phones")
    phones.fill(phone)
    phones.press("Enter")


def test_account_manager_creates_a_chinese_client_meets_the_duplicate_and_starts_onboarding(live_server, page, shot):
    signed_in(page, live_server, "amy")
    page.get_by_role("link", name="Clients").click()
    expect(page.get_by_role("heading", name="Clients", level=1)).to_be_visible()
    expect(page.get_by_text("No clients yet.")).to_be_visible()
    shot(page, "client-list-empty")

    # The first time: created, and its page opens.
    page.get_by_role("button", name="New client").click()
    expect(page.get_by_role("heading", name="New client")).to_be_visible()
    page.get_by_role("button", name="Create client").click()
    expect(page.get_by_text("Enter the client's name")).to_be_visible()  # checked before anything is sent
    _fill_new_client(page, NAME, "020-8888 1234")
    shot(page, "client-new-form")
    page.get_by_role("button", name="Create client").click()
    expect(page.get_by_role("heading", name=NAME, level=1)).to_be_visible()
    first_url = page.url
    first_id = int(re.search(r"/clients/(\d+)$", first_url).group(1))
    shot(page, "client-page-new")

    # The second time: the warning lists the first, which opens in its own tab.
    page.goto(live_server.url + "/clients/new")
    _fill_new_client(page, NAME, "+86 20 8888 1234")
    page.get_by_role("button", name="Create client").click()
    warning = page.get_by_role("alert").filter(has_text="This client may already exist")
    expect(warning).to_be_visible()
    candidate = warning.get_by_role("link", name=f"Open {NAME} (in a new tab)")
    expect(candidate).to_have_attribute("href", f"/clients/{first_id}")
    expect(warning.get_by_text("Same name")).to_be_visible()
    expect(warning.get_by_text("Same phone")).to_be_visible()
    shot(page, "client-duplicate-warning")

    warning.get_by_role("button", name="Create anyway").click()
    dialog = page.get_by_role("dialog", name="Create this client even though it looks like an existing one?")
    expect(dialog).to_be_visible()
    shot(page, "client-duplicate-confirm")
    dialog.get_by_role("button", name="Create anyway").click()
    expect(page.get_by_role("heading", name=NAME, level=1)).to_be_visible()
    assert page.url != first_url

    # Both are on the list; two characters of the name find them, as typed.
    page.get_by_role("link", name="Clients").click()
    page.get_by_label("Search clients").fill("明德")
    expect(page.get_by_text("1–2 of 2 clients")).to_be_visible()
    expect(page.get_by_role("link", name=NAME)).to_have_count(2)
    page.get_by_label("Search clients").fill("8888")
    expect(page).to_have_url(re.compile(r"q=8888"))  # both searches find both: wait for this one to apply
    expect(page.get_by_text("1–2 of 2 clients")).to_be_visible()
    shot(page, "client-list-search")
    page.set_viewport_size({"width": 360, "height": 780})
    shot(page, "client-list-search-phone")
    page.set_viewport_size({"width": 1280, "height": 860})

    # Typing a search and following a link before the search applies: the next page stays (it once pulled
    # the person back to the list when the next page's code took longer to load than the typing pause).
    def slow_start_page(route):
        time.sleep(1.0)  # longer than the typing pause
        route.continue_()

    page.route(re.compile(r"/assets/StartPage-[^/]*\.js$"), slow_start_page)
    page.get_by_label("Search clients").fill("广州")
    page.get_by_role("link", name="Start work").click()
    expect(page).to_have_url(re.compile(r"/start$"))
    expect(page.get_by_role("heading", name="Start work", level=1)).to_be_visible()
    page.unroute(re.compile(r"/assets/StartPage-[^/]*\.js$"))
    expect(page).to_have_url(re.compile(r"/start$"))

    # Onboarding another client: from Start work, the intake form, submitted.
    # The first listing of startable processes in a run reads every deployed definition: allow it time on a
    # loaded machine (it timed out at 20 s twice in full runs, never alone).
    page.get_by_role("button", name=re.compile("^Start: Client onboarding")).click(timeout=60_000)
    expect(page.get_by_role("heading", level=1, name="Client onboarding")).to_be_visible()
    page.get_by_label("Client name").fill(OTHER)
    page.get_by_label("Industry").fill("软件")
    page.get_by_label("Service").fill("audit")
    page.get_by_label("Fee", exact=True).fill("42000")
    shot(page, "onboarding-intake")
    page.get_by_role("button", name="Start", exact=True).click()
    # The intake opens as the starter's first task, filled in, to check and submit.
    expect(page.get_by_role("heading", level=1, name="Describe a new client for onboarding")).to_be_visible()
    page.get_by_role("button", name="Complete task").click()
    page.wait_for_url(re.compile(r"/inbox"))

    # A partner finds it in her inbox under its subject, and approves it after the confirmation.
    partner = page.context.browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 860})
    try:
        paula = partner.new_page()
        log_in(paula, live_server, "paula")
        paula.get_by_role("tab", name=re.compile("Offered to me")).click()
        review = paula.get_by_role("link", name=f"Approve new client {OTHER}")
        expect(review).to_be_visible()
        shot(paula, "partner-inbox-onboarding")
        review.click()
        paula.get_by_role("radio", name=re.compile("^approve$", re.IGNORECASE)).check()
        paula.get_by_role("button", name="Complete task").click()
        dialog = paula.get_by_role("dialog")
        expect(dialog).to_be_visible()
        dialog.get_by_role("button", name=re.compile("approve", re.IGNORECASE)).click()
        paula.wait_for_url(re.compile(r"/inbox$"))
        expect(paula.get_by_text(re.compile("^Done: "))).to_be_visible()
    finally:
        partner.close()

    # The new client is on amy's list, and its page's timeline tells how it came.
    page.get_by_role("link", name="Clients").click()
    page.get_by_label("Search clients").fill("华信")
    expect(page.get_by_text("1–1 of 1 clients")).to_be_visible()
    page.get_by_role("link", name=OTHER).click()
    expect(page.get_by_role("heading", name=OTHER, level=1)).to_be_visible()
    page.get_by_role("tab", name="Timeline").click()
    timeline = page.get_by_role("tabpanel", name="Timeline")
    expect(timeline.get_by_text(re.compile("onboarding|Client onboarding", re.IGNORECASE)).first).to_be_visible()
    shot(page, "new-client-timeline")


def test_field_errors_from_the_server_show_next_to_their_fields_at_phone_width(live_server, page, shot):
    page.set_viewport_size({"width": 360, "height": 780})
    signed_in(page, live_server, "amy")
    page.goto(live_server.url + "/clients/new")
    page.get_by_label("Name", exact=True).fill("Harbour Logistics")
    page.get_by_label("Owner").fill("nobody-here")
    page.get_by_role("button", name="Create client").click()
    expect(page.get_by_text("Some fields need your attention; see the messages next to them.")).to_be_visible()
    expect(page.get_by_text("must name an active account")).to_be_visible()
    emails = page.get_by_label("Emails")
    emails.fill("not-an-address")
    emails.press("Enter")
    page.get_by_role("button", name="Create client").click()
    expect(page.get_by_text("Not a valid email address.")).to_be_visible()
    expect(page.get_by_label("Emails")).to_have_attribute("aria-invalid", "true")
    shot(page, "client-form-errors-phone")

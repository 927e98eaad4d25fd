"""After an administrator resets a password, the person's only screen is choosing a new one; then
they carry on signed in, and the temporary password no longer opens the account."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .conftest import log_in
from .seed import api_as

NEW_PASSWORD = "copper lanterns drift over the harbour"


def test_a_reset_password_must_be_changed_before_anything_else(live_server, page, shot):
    reset = api_as(live_server, "ada").post("/api/accounts/amy/password-reset", json={})
    assert reset.status_code == 200, reset.json
    temporary = reset.json["temporary_password"]

    log_in(page, live_server, "amy", pwd=temporary)
    expect(page.get_by_role("heading", name="Change your password")).to_be_visible()
    expect(page.get_by_text("An administrator reset your password")).to_be_visible()
    page.goto(live_server.url + "/clients")  # no side door: every screen is the password form
    expect(page.get_by_role("heading", name="Change your password")).to_be_visible()

    page.get_by_label("Current password").fill(temporary)
    page.get_by_label("New password", exact=True).fill("short")
    page.get_by_label("New password again").fill("shorter")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("The two new passwords are not the same.")).to_be_visible()
    page.get_by_label("New password again").fill("short")
    page.get_by_role("button", name="Change password").click()
    # the server's refusal (too short) is shown next to the field it concerns
    expect(page.get_by_text(re.compile("between 10 and 1000"))).to_be_visible()
    shot(page, "password-refused")

    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("heading", name="Inbox")).to_be_visible()
    shot(page, "password-changed")

    refused = live_server.app.test_client().post("/api/auth/session", json={"username": "amy", "password": temporary})
    assert refused.status_code == 401

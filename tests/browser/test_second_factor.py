"""A person with a second factor: the login form asks for the code once the password is right, says
so plainly when the code is wrong, and lets them in with the right one."""

from __future__ import annotations

from dataclasses import replace

import pyotp
from playwright.sync_api import expect

from .conftest import log_in, password
from .seed import api_as


def test_the_login_form_asks_for_the_code_of_an_account_with_a_second_factor(live_server, page, shot, clock):
    vera = api_as(live_server, "vera")
    secret = vera.post("/api/me/totp").json["secret"]
    totp = pyotp.TOTP(secret)

    def code(steps: int = 0) -> str:
        return totp.at(int(clock.now().timestamp()) + 30 * steps)

    assert vera.post("/api/me/totp/confirm", json={"code": code()}).status_code == 200
    clock.advance(seconds=30)

    log_in(page, live_server, "vera")
    expect(page.get_by_text("This account has a second factor")).to_be_visible()
    field = page.get_by_label("Code from your authenticator app")
    expect(field).to_be_focused()
    shot(page, "code-asked")
    wrong = next(f"{n:06d}" for n in range(1000) if f"{n:06d}" not in {code(-1), code(), code(1)})
    field.fill(wrong)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("The code is not right or was already used")
    field.fill(code())
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Inbox")).to_be_visible()
    shot(page, "logged-in")


def test_a_role_that_requires_a_second_factor_opens_only_its_enrolment_until_added(live_server, page, shot, clock):
    # The setting, as ATRIUM_REQUIRE_TOTP_ROLES=partner would give it (read by every request).
    app = live_server.app
    app.extensions["atrium.settings"] = replace(app.extensions["atrium.settings"], require_totp_roles=("partner",))

    log_in(page, live_server, "paula")
    expect(page.get_by_role("heading", name="Second factor")).to_be_visible()
    expect(page.get_by_text("Your role requires a second factor")).to_be_visible()
    page.goto(live_server.url + "/clients")  # no side door
    expect(page.get_by_role("heading", name="Second factor")).to_be_visible()
    page.get_by_role("button", name="Add a second factor").click()
    secret = page.get_by_label("Key:").inner_text().strip()
    page.get_by_label("The 6-digit code the app shows").fill(pyotp.TOTP(secret).at(int(clock.now().timestamp())))
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_text("The second factor is on")).to_be_visible()
    codes = page.get_by_role("list", name="Recovery codes").get_by_role("listitem")
    expect(codes).to_have_count(10)
    shot(page, "recovery-codes")
    recovery = codes.first.inner_text().strip()
    page.get_by_role("button", name="I have saved them").click()
    expect(page.get_by_role("heading", name="Clients")).to_be_visible()  # where she was going

    # The next login needs a code: a recovery code does.
    answer = app.test_client().post(
        "/api/auth/session", json={"username": "paula", "password": password("paula"), "otp": recovery}
    )
    assert answer.status_code == 200 and answer.json["user"]["totp_enabled"] is True


def test_changing_the_password_of_an_account_with_a_second_factor_ends_at_the_login_form(live_server, page, clock):
    vera = api_as(live_server, "vera")
    secret = vera.post("/api/me/totp").json["secret"]
    totp = pyotp.TOTP(secret)
    assert vera.post("/api/me/totp/confirm", json={"code": totp.at(int(clock.now().timestamp()))}).status_code == 200
    clock.advance(seconds=30)
    log_in(page, live_server, "vera")
    page.get_by_label("Code from your authenticator app").fill(totp.at(int(clock.now().timestamp())))
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Inbox")).to_be_visible()
    page.goto(live_server.url + "/password")
    expect(page.get_by_role("link", name="Second factor: on")).to_be_visible()
    page.get_by_label("Current password").fill(password("vera"))
    page.get_by_label("New password", exact=True).fill("copper lanterns drift over the harbour")
    page.get_by_label("New password again").fill("copper lanterns drift over the harbour")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("Your password is changed. Log in again")).to_be_visible()
    expect(page.get_by_role("heading", name="Log in to Atrium")).to_be_visible()

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


def _signed_in_with_code(page, live_server, clock, username: str) -> pyotp.TOTP:
    """`username` enrolled (through the API) and logged in through the form with a code; their TOTP."""
    person = api_as(live_server, username)
    totp = pyotp.TOTP(person.post("/api/me/totp").json["secret"])
    assert person.post("/api/me/totp/confirm", json={"code": totp.at(int(clock.now().timestamp()))}).status_code == 200
    clock.advance(seconds=30)
    log_in(page, live_server, username)
    page.get_by_label("Code from your authenticator app").fill(totp.at(int(clock.now().timestamp())))
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Inbox")).to_be_visible()
    return totp


def test_a_person_gets_new_recovery_codes_then_turns_the_second_factor_off(live_server, page, shot, clock):
    totp = _signed_in_with_code(page, live_server, clock, "vera")
    page.goto(live_server.url + "/second-factor")
    expect(page.get_by_text("A second factor is on for your account")).to_be_visible()
    shot(page, "manage")

    page.get_by_role("button", name="Get new recovery codes").click()
    expect(page.get_by_role("heading", name="New recovery codes")).to_be_visible()
    page.get_by_label("Your password").fill(password("vera"))
    page.get_by_label("The 6-digit code the app shows").fill("000000")
    page.get_by_role("button", name="Get new codes").click()
    expect(page.get_by_text("That code is not right or was already used")).to_be_visible()
    clock.advance(seconds=30)
    page.get_by_label("The 6-digit code the app shows").fill(totp.at(int(clock.now().timestamp())))
    page.get_by_label("Your password").fill("not my password at all")
    page.get_by_role("button", name="Get new codes").click()
    expect(page.get_by_text("That password is not right.")).to_be_visible()
    shot(page, "new-codes-refused")
    page.get_by_label("Your password").fill(password("vera"))
    clock.advance(seconds=30)
    page.get_by_label("The 6-digit code the app shows").fill(totp.at(int(clock.now().timestamp())))
    page.get_by_role("button", name="Get new codes").click()
    expect(page.get_by_text("New recovery codes made")).to_be_visible()
    codes = page.get_by_role("list", name="Recovery codes").get_by_role("listitem")
    expect(codes).to_have_count(10)
    new_codes = [code.strip() for code in codes.all_inner_texts()]
    shot(page, "new-codes")
    page.get_by_role("button", name="I have saved them").click()

    # In Chinese: turn it off with one of the new recovery codes.
    page.get_by_text("中文", exact=True).click()
    page.get_by_role("button", name="关闭双重验证").click()
    expect(page.get_by_role("heading", name="关闭双重验证")).to_be_visible()
    page.get_by_label("您的密码").fill(password("vera"))
    page.get_by_label("应用显示的验证码或一个恢复码").fill(new_codes[0])
    shot(page, "turn-off-zh")
    page.get_by_role("button", name="确认关闭").click()
    expect(page.get_by_text("双重验证已关闭")).to_be_visible()
    expect(page.get_by_role("button", name="添加双重验证")).to_be_visible()
    shot(page, "turned-off-zh")

    # The password alone logs in again.
    answer = live_server.app.test_client().post(
        "/api/auth/session", json={"username": "vera", "password": password("vera")}
    )
    assert answer.status_code == 200 and answer.json["user"]["totp_enabled"] is False


def test_a_role_that_requires_a_second_factor_is_offered_no_way_to_turn_it_off(live_server, page, shot, clock):
    app = live_server.app
    app.extensions["atrium.settings"] = replace(app.extensions["atrium.settings"], require_totp_roles=("partner",))
    _signed_in_with_code(page, live_server, clock, "paula")
    page.goto(live_server.url + "/second-factor")
    expect(page.get_by_text("Your role requires a second factor, so it cannot be turned off")).to_be_visible()
    expect(page.get_by_role("button", name="Get new recovery codes")).to_be_visible()
    expect(page.get_by_role("button", name="Turn the second factor off")).to_have_count(0)
    shot(page, "required-manage")

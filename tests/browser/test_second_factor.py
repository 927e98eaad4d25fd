"""A person with a second factor: the login form asks for the code once the password is right, says
so plainly when the code is wrong, and lets them in with the right one."""

from __future__ import annotations

import pyotp
from playwright.sync_api import expect

from .conftest import log_in
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

"""The second factor (TOTP): enrolling and confirming, logging in with a code or a recovery code, codes
not accepted twice, guessing throttled, roles that require one, turning it off and an admin's reset."""

from __future__ import annotations

import pyotp
import pytest
from sqlalchemy import select

from storage.audit import AuditEntry

from .api_helpers import Caller, caller, login, password_for

OTP_REQUIRED = "https://atrium.example/problems/otp-required"
OTP_INVALID = "https://atrium.example/problems/otp-invalid"


def code_of(secret: str, clock, steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(int(clock.now().timestamp()) + 30 * steps)


def enrol(person: Caller, clock) -> tuple[str, list[str]]:
    started = person.post("/api/me/totp")
    assert started.status_code == 201, started.json
    secret = started.json["secret"]
    confirmed = person.post("/api/me/totp/confirm", json={"code": code_of(secret, clock)})
    assert confirmed.status_code == 200, confirmed.json
    return secret, confirmed.json["recovery_codes"]


def login_with(client, username: str, otp=None, *, how: str = "token", address: str = "198.51.100.7"):
    body = {"username": username, "password": password_for(username)}
    if otp is not None:
        body["otp"] = otp
    path = "/api/auth/token" if how == "token" else "/api/auth/session"
    return client.post(path, json=body, environ_base={"REMOTE_ADDR": address})


def audit_rows(client, action: str, **query) -> list[dict]:
    admin = caller(client, "admin")
    return admin.get("/api/audit", query_string={"action": action, **query}).json["items"]


def test_enrolling_shows_the_secret_once_and_a_first_code_activates_it_with_recovery_codes(client, clock):
    viewer = caller(client, "viewer")
    started = viewer.post("/api/me/totp")
    assert started.status_code == 201
    secret = started.json["secret"]
    assert started.json["otpauth_uri"].startswith("otpauth://totp/Atrium:viewer?secret=" + secret)
    me = viewer.get("/api/me").json
    assert me["totp_enabled"] is False and me["totp_required"] is False and secret not in str(me)
    # Pending only: logging in still needs the password alone.
    assert login_with(client, "viewer").status_code == 200
    wrong = viewer.post("/api/me/totp/confirm", json={"code": "000000" if code_of(secret, clock) != "000000" else "1"})
    assert wrong.status_code == 422 and "code" in wrong.json["errors"]
    confirmed = viewer.post("/api/me/totp/confirm", json={"code": code_of(secret, clock)})
    assert confirmed.status_code == 200
    codes = confirmed.json["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert viewer.get("/api/me").json["totp_enabled"] is True
    # Never shown again: a new enrolment is refused while one is active.
    again = viewer.post("/api/me/totp")
    assert again.status_code == 409 and again.mimetype == "application/problem+json"
    assert viewer.post("/api/me/totp/confirm", json={"code": code_of(secret, clock)}).status_code == 409
    enabled = audit_rows(client, "account.totp.enable")
    assert [(r["actor"], r["target"], r["detail"]) for r in enabled] == [
        ("viewer", "account:viewer", {"recovery_codes": 10})
    ]
    assert [r["actor"] for r in audit_rows(client, "account.totp.enrolment")] == ["viewer"]


def test_login_needs_the_code_once_enabled_and_refuses_wrong_and_replayed_ones(client, clock):
    secret, _ = enrol(caller(client, "viewer"), clock)
    clock.advance(seconds=30)  # the confirming code's step is used
    for how in ("token", "session"):
        missing = login_with(client, "viewer", how=how)
        assert missing.status_code == 401 and missing.json["type"] == OTP_REQUIRED, how
    wrong = login_with(client, "viewer", "123456" if code_of(secret, clock) != "123456" else "654321")
    assert wrong.status_code == 401 and wrong.json["type"] == OTP_INVALID
    # A wrong password with any code is the usual refusal: the code is not looked at.
    bad_password = client.post(
        "/api/auth/token", json={"username": "viewer", "password": "not-the-password", "otp": code_of(secret, clock)}
    )
    assert bad_password.status_code == 401 and bad_password.json["type"].endswith("/invalid-credentials")
    code = code_of(secret, clock)
    issued = login_with(client, "viewer", code)
    assert issued.status_code == 200 and issued.json["totp_enrolment_required"] is False
    replayed = login_with(client, "viewer", code, how="session")
    assert replayed.status_code == 401 and replayed.json["type"] == OTP_INVALID
    # An earlier step's code (still within the drift allowed) is no good after a later one either.
    assert login_with(client, "viewer", code_of(secret, clock, steps=-1)).status_code == 401
    clock.advance(seconds=30)
    session = login_with(client, "viewer", code_of(secret, clock), how="session")
    assert session.status_code == 200 and session.json["user"]["totp_enabled"] is True
    reasons = [r["detail"]["reason"] for r in audit_rows(client, "login", outcome="denied")]
    assert sorted(reasons) == sorted(
        ["otp missing", "otp missing", "wrong otp", "wrong password", "otp replayed", "otp replayed"]
    )
    granted = audit_rows(client, "login", outcome="success")
    assert [r["detail"].get("second_factor") for r in granted if r["actor"] == "viewer"][:2] == [True, True]


def test_a_code_from_the_next_step_is_accepted_for_clock_drift_but_not_two_steps_away(client, clock):
    secret, _ = enrol(caller(client, "viewer"), clock)
    assert login_with(client, "viewer", code_of(secret, clock, steps=2)).status_code == 401
    assert login_with(client, "viewer", code_of(secret, clock, steps=1)).status_code == 200


def test_a_recovery_code_logs_in_once(client, clock):
    _, codes = enrol(caller(client, "viewer"), clock)
    used = login_with(client, "viewer", codes[3].upper())  # case and dash do not matter
    assert used.status_code == 200
    again = login_with(client, "viewer", codes[3])
    assert again.status_code == 401 and again.json["type"] == OTP_INVALID
    assert login_with(client, "viewer", codes[4].replace("-", "")).status_code == 200
    rows = audit_rows(client, "account.totp.recovery_used")
    assert sorted(r["detail"]["remaining"] for r in rows) == [8, 9]
    assert {r["actor"] for r in rows} == {"viewer"}


def test_guessing_codes_with_the_right_password_is_throttled_like_wrong_passwords(client, clock):
    secret, _ = enrol(caller(client, "viewer"), clock)
    limit = client.application.extensions["atrium.settings"].login_max_failures
    right = code_of(secret, clock, steps=1)
    guesses = (f"{n:06d}" for n in range(1000) if f"{n:06d}" not in {right, code_of(secret, clock)})
    for _ in range(limit):
        assert login_with(client, "viewer", next(guesses), address="203.0.113.66").status_code == 401
    throttled = login_with(client, "viewer", right, address="203.0.113.66")
    assert throttled.status_code == 429 and throttled.json["type"].endswith("/login-throttled")
    # A missing code counts too (it tells the password is right).
    for _ in range(limit):
        assert login_with(client, "viewer", address="203.0.113.67").status_code == 401
    assert login_with(client, "viewer", address="203.0.113.67").status_code == 429


@pytest.mark.app(require_totp_roles=("admin", "partner"))
def test_a_role_that_requires_it_opens_only_the_enrolment_until_enrolled(client, clock):
    issued = login_with(client, "partner")
    assert issued.status_code == 200 and issued.json["totp_enrolment_required"] is True
    partner = Caller(client, issued.json["access_token"])
    me = partner.get("/api/me")
    assert me.status_code == 200 and me.json["totp_required"] is True and me.json["totp_enabled"] is False
    limited = partner.get("/api/clients")
    assert limited.status_code == 403 and limited.json["type"].endswith("/totp-enrolment-required")
    # Other roles are not concerned.
    viewer = login_with(client, "viewer")
    assert viewer.json["totp_enrolment_required"] is False
    assert Caller(client, viewer.json["access_token"]).get("/api/clients").status_code == 200
    secret, _ = enrol(partner, clock)
    assert partner.get("/api/clients").status_code == 200  # the same token, now enrolled
    clock.advance(seconds=30)
    code = code_of(secret, clock)
    refused = partner.delete("/api/me/totp", json={"password": password_for("partner"), "code": code})
    assert refused.status_code == 403 and refused.json["type"].endswith("/totp-required")
    assert partner.get("/api/me").json["totp_enabled"] is True
    # (The admin must enrol too: the audit is read from the database.)
    with client.application.extensions["atrium.engine"].transaction() as session:
        details = session.scalars(
            select(AuditEntry.detail)
            .where(AuditEntry.action == "login", AuditEntry.actor == "partner")
            .order_by(AuditEntry.id)
        ).all()
    assert details == [{"how": "token", "totp_enrolment_required": True}]


def test_the_owner_turns_it_off_with_password_and_code(client, clock):
    viewer = caller(client, "viewer")
    secret, codes = enrol(viewer, clock)
    clock.advance(seconds=30)
    wrong_password = viewer.delete(
        "/api/me/totp", json={"password": "not-the-password", "code": code_of(secret, clock)}
    )
    assert wrong_password.status_code == 422 and "password" in wrong_password.json["errors"]
    wrong_code = viewer.delete("/api/me/totp", json={"password": password_for("viewer"), "code": "abcde-fghij"})
    assert wrong_code.status_code == 422 and "code" in wrong_code.json["errors"]
    missing = viewer.delete("/api/me/totp", json={"password": password_for("viewer")})
    assert missing.status_code == 422 and "code" in missing.json["errors"]
    assert viewer.get("/api/me").json["totp_enabled"] is True
    off = viewer.delete("/api/me/totp", json={"password": password_for("viewer"), "code": code_of(secret, clock)})
    assert off.status_code == 204
    assert login_with(client, "viewer").status_code == 200
    assert viewer.delete("/api/me/totp", json={"password": password_for("viewer"), "code": codes[0]}).status_code == 409
    assert [r["actor"] for r in audit_rows(client, "account.totp.disable", outcome="success")] == ["viewer"]


def test_the_owner_gets_new_recovery_codes_with_password_and_a_current_code_and_the_old_ones_stop_working(
    client, clock
):
    viewer = caller(client, "viewer")
    secret, old_codes = enrol(viewer, clock)
    clock.advance(seconds=30)
    new = viewer.post(
        "/api/me/totp/recovery-codes", json={"password": password_for("viewer"), "code": code_of(secret, clock)}
    )
    assert new.status_code == 200, new.json
    codes = new.json["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10 and not set(codes) & set(old_codes)
    clock.advance(seconds=30)
    assert login_with(client, "viewer", old_codes[0]).json["type"] == OTP_INVALID
    assert login_with(client, "viewer", codes[0]).status_code == 200
    rows = audit_rows(client, "account.totp.recovery_codes", outcome="success")
    assert [(r["actor"], r["target"], r["detail"]) for r in rows] == [
        ("viewer", "account:viewer", {"recovery_codes": 10})
    ]
    assert not any(c in str(rows) for c in codes)


def test_new_recovery_codes_attacks(client, clock):
    viewer, manager = caller(client, "viewer"), caller(client, "manager")
    secret, codes = enrol(viewer, clock)
    manager_secret, manager_codes = enrol(manager, clock)
    clock.advance(seconds=30)
    url = "/api/me/totp/recovery-codes"
    good = {"password": password_for("viewer"), "code": code_of(secret, clock)}
    # No session: nothing.
    assert client.post(url, json=good).status_code == 401
    wrong_password = viewer.post(url, json={**good, "password": "not-the-password"})
    assert wrong_password.status_code == 422 and "password" in wrong_password.json["errors"]
    wrong = next(f"{n:06d}" for n in range(1000) if f"{n:06d}" not in {code_of(secret, clock, s) for s in (-1, 0, 1)})
    wrong_code = viewer.post(url, json={**good, "code": wrong})
    assert wrong_code.status_code == 422 and "code" in wrong_code.json["errors"]
    # A recovery code does not make new ones (whoever asks must hold the device), nor is it spent.
    recovery = viewer.post(url, json={**good, "code": codes[0]})
    assert recovery.status_code == 422 and "code" in recovery.json["errors"]
    # Someone else's code is not the caller's: the manager's current code does not work for the viewer.
    theirs = viewer.post(url, json={**good, "code": code_of(manager_secret, clock)})
    assert theirs.status_code == 422 or code_of(manager_secret, clock) == code_of(secret, clock)
    for body in ({}, {"password": password_for("viewer")}, {"code": code_of(secret, clock)}):
        bad = viewer.post(url, json=body)
        assert bad.status_code == 422 and bad.mimetype == "application/problem+json", body
    # None of that replaced anything: the old recovery codes still log in, the one tried above too.
    assert audit_rows(client, "account.totp.recovery_codes", outcome="success") == []
    assert login_with(client, "viewer", codes[0]).status_code == 200
    # The viewer's new codes leave the manager's alone.
    assert viewer.post(url, json=good).status_code == 200
    assert login_with(client, "manager", manager_codes[0]).status_code == 200
    # Without a second factor there is nothing to replace.
    partner = caller(client, "partner")
    none = partner.post(url, json={"password": password_for("partner"), "code": "123456"})
    assert none.status_code == 409 and none.mimetype == "application/problem+json"


def test_an_admin_resets_a_lost_device_and_no_one_else_can(client, clock):
    viewer = caller(client, "viewer")
    enrol(viewer, clock)
    for person in (caller(client, "manager"), caller(client, "partner"), viewer):
        refused = person.post("/api/accounts/viewer/totp-reset")
        assert refused.status_code == 403 and refused.mimetype == "application/problem+json"
    assert login_with(client, "viewer").status_code == 401
    admin = caller(client, "admin")
    assert admin.post("/api/accounts/no-such-person/totp-reset").status_code == 404
    reset = admin.post("/api/accounts/viewer/totp-reset")
    assert reset.status_code == 200 and reset.json["username"] == "viewer"
    assert login_with(client, "viewer").status_code == 200
    rows = audit_rows(client, "account.totp.reset")
    assert [(r["actor"], r["target"], r["detail"]) for r in rows] == [
        ("admin", "account:viewer", {"was_enabled": True})
    ]


def test_no_one_confirms_or_learns_someone_elses_enrolment(client, clock):
    viewer, manager = caller(client, "viewer"), caller(client, "manager")
    secret = viewer.post("/api/me/totp").json["secret"]
    # The manager has no enrolment of their own: the viewer's code confirms nothing.
    stolen = manager.post("/api/me/totp/confirm", json={"code": code_of(secret, clock)})
    assert stolen.status_code == 409 and stolen.mimetype == "application/problem+json"
    # Their own enrolment has its own secret, which the viewer's code does not match.
    assert manager.post("/api/me/totp").json["secret"] != secret
    assert manager.post("/api/me/totp/confirm", json={"code": code_of(secret, clock)}).status_code == 422
    assert manager.get("/api/me").json["totp_enabled"] is False and viewer.get("/api/me").json["totp_enabled"] is False
    assert login(client, "manager").status_code == 200
    # Not logged in: nothing.
    assert client.post("/api/me/totp").status_code == 401
    for body in ({}, {"code": ""}, {"code": 123456}, {"code": "1" * 101}):
        bad = viewer.post("/api/me/totp/confirm", json=body)
        assert bad.status_code == 422 and "code" in bad.json["errors"], body


def test_the_setting_names_known_roles_only():
    from atrium.settings import Settings

    assert Settings.from_env({"ATRIUM_REQUIRE_TOTP_ROLES": "admin, partner"}).require_totp_roles == ("admin", "partner")
    assert Settings.from_env({}).require_totp_roles == ()
    with pytest.raises(ValueError, match="ATRIUM_REQUIRE_TOTP_ROLES"):
        Settings.from_env({"ATRIUM_REQUIRE_TOTP_ROLES": "admin,root"})


def test_one_code_sent_in_parallel_logs_in_once(pg, services, clock):
    from concurrent.futures import ThreadPoolExecutor

    from .api_helpers import make_app

    app = make_app(pg, services)
    try:
        secret, codes = enrol(caller(app.test_client(), "viewer"), clock)
        clock.advance(seconds=30)
        for otp in (code_of(secret, clock), codes[0]):
            with ThreadPoolExecutor(max_workers=6) as pool:
                statuses = list(
                    pool.map(
                        lambda n: login_with(app.test_client(), "viewer", otp, address=f"192.0.2.{n}").status_code,
                        range(6),
                    )
                )
            assert sorted(statuses) == [200] + [401] * 5, otp
    finally:
        app.extensions["atrium.db"].dispose()


def test_the_cli_removes_a_second_factor_when_no_admin_can(client, clock, monkeypatch, capsys):
    from atrium.cli import main

    db_url = client.application.extensions["atrium.settings"].database_url
    monkeypatch.setenv("ATRIUM_DATABASE_URL", db_url)
    enrol(caller(client, "admin"), clock)
    assert login_with(client, "admin").json["type"] == OTP_REQUIRED
    assert main(["user", "totp-reset", "--username", "no-such-person"]) != 0
    assert main(["user", "totp-reset", "--username", "admin"]) == 0
    assert "Removed the second factor of admin" in capsys.readouterr().out
    assert login_with(client, "admin").status_code == 200

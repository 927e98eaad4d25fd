"""Login security: throttling that outsiders cannot turn against the owner, the same answer for every
refused login, strong passwords, changing and resetting them, and the tokens that dies with them."""

from __future__ import annotations

import io
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from atrium import accounts as account_service
from atrium.cli import main
from atrium.settings import Settings

from .api_helpers import Caller, caller, login, make_app, password_for

OUTSIDER = "203.0.113.66"
OWNER = "198.51.100.7"


@pytest.fixture
def password_checks(monkeypatch):
    """Every argon2 verification a login makes, as (hash, password): the real check still runs."""
    checks, lock = [], threading.Lock()
    real_verify = account_service.verify_password

    def counting_verify(password_hash, password):
        with lock:
            checks.append((password_hash, password))
        return real_verify(password_hash, password)

    monkeypatch.setattr(account_service, "verify_password", counting_verify)
    return checks


def login_from(client, address: str, username: str, password: str | None = None):
    return client.post(
        "/api/auth/token",
        json={"username": username, "password": password or password_for(username)},
        environ_base={"REMOTE_ADDR": address},
    )


def test_thirty_parallel_wrong_passwords_check_at_most_the_limit(pg, services, clock, password_checks):
    app = make_app(pg, services)
    limit = app.extensions["atrium.settings"].login_max_failures

    def guess(n):
        return login_from(app.test_client(), OUTSIDER, "viewer", f"wrong-guess-{n}").status_code

    try:
        with ThreadPoolExecutor(max_workers=30) as pool:
            statuses = list(pool.map(guess, range(30)))
        assert len(password_checks) == limit
        assert sorted(statuses) == [401] * limit + [429] * (30 - limit)
        # The owner, elsewhere, is not locked out by it.
        assert login_from(app.test_client(), OWNER, "viewer").status_code == 200
    finally:
        app.extensions["atrium.db"].dispose()


def test_an_outsiders_wrong_passwords_do_not_stop_the_owner_logging_in_from_elsewhere(client):
    for n in range(5):
        assert login_from(client, OUTSIDER, "viewer", f"guess-{n}").status_code == 401
    refused = login_from(client, OUTSIDER, "viewer", "guess-5")
    assert refused.status_code == 429 and refused.mimetype == "application/problem+json"
    assert refused.json["type"].endswith("/login-throttled") and refused.headers["Retry-After"] == "1"
    assert login_from(client, OWNER, "viewer").status_code == 200


def test_throttled_guessing_waits_longer_after_each_further_failure(client, clock):
    for n in range(5):
        assert login_from(client, OUTSIDER, "viewer", f"guess-{n}").status_code == 401
    waits = []
    for n in range(12):
        refused = login_from(client, OUTSIDER, "viewer", "guess")
        assert refused.status_code == 429
        waits.append(int(refused.headers["Retry-After"]))
        clock.advance(seconds=waits[-1])
        assert login_from(client, OUTSIDER, "viewer", f"guess-{n}").status_code == 401
    assert waits == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]  # capped at login_lock_seconds


def test_guessing_one_username_from_many_addresses_delays_the_owner_only_briefly(client, clock):
    settings = client.application.extensions["atrium.settings"]
    for n in range(settings.login_username_max_failures):
        assert login_from(client, f"192.0.2.{n}", "viewer", "guess").status_code == 401
    refused = login_from(client, OWNER, "viewer")  # the right password waits too: it is not checked
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    for n in range(10):  # the attack goes on from fresh addresses as soon as it may
        clock.advance(seconds=int(login_from(client, "192.0.2.200", "viewer", "guess").headers["Retry-After"]))
        assert login_from(client, f"192.0.2.{100 + n}", "viewer", "guess").status_code == 401
    refused = login_from(client, OWNER, "viewer")
    assert refused.headers["Retry-After"] == str(settings.login_username_max_delay_seconds)
    clock.advance(seconds=settings.login_username_max_delay_seconds)
    assert login_from(client, OWNER, "viewer").status_code == 200


def test_one_address_spraying_many_usernames_is_throttled(db, services, clock):
    app = make_app(db, services, login_address_max_failures=10)  # 100 by default: a firm's office shares one
    client = app.test_client()
    try:
        for n in range(10):
            assert login_from(client, OUTSIDER, f"someone-{n}", "Winter2026!").status_code == 401
        assert login_from(client, OUTSIDER, "viewer").status_code == 429
        assert login_from(client, OWNER, "viewer").status_code == 200
    finally:
        app.extensions["atrium.db"].dispose()


def test_throttling_answers_the_same_for_known_and_unknown_usernames(client):
    answers = []
    for username in ("viewer", "no-such-person"):
        for n in range(5):
            assert login_from(client, OUTSIDER, username, f"guess-{n}").status_code == 401
        refused = login_from(client, OUTSIDER, username, "guess")
        answers.append((refused.status_code, refused.headers["Retry-After"], refused.json))
    assert answers[0] == answers[1]


def test_every_refused_login_is_the_same_answer_after_the_same_work(client, password_checks):
    admin = caller(client, "admin")
    assert admin.post("/api/accounts/partner/deactivate").status_code == 200
    password_checks.clear()
    answers = {}
    for case, username, password in (
        ("unknown", "no-such-person", "whatever-password"),
        ("wrong", "viewer", "wrong-password"),
        ("deactivated, right password", "partner", password_for("partner")),
    ):
        before = len(password_checks)
        response = login(client, username, password)
        assert len(password_checks) == before + 1, f"{case}: one argon2 verification, like the others"
        answers[case] = (response.status_code, response.mimetype, response.json)
    assert len({repr(answer) for answer in answers.values()}) == 1, answers
    assert answers["wrong"][0] == 401 and answers["wrong"][2]["detail"] == "wrong username or password"
    # The deactivated account's right password was never checked against its hash: nothing to confirm.
    partner_hash = client.application.extensions["atrium.engine"]
    with partner_hash.transaction() as session:
        real_hash = account_service.account_or_raise(session, "partner").password_hash
    assert all(checked_hash != real_hash for checked_hash, _ in password_checks)
    reasons = [row["detail"]["reason"] for row in admin.get("/api/audit?action=login&outcome=denied").json["items"]]
    assert sorted(reasons) == ["account deactivated", "unknown account", "wrong password"]


# Passwords ---------------------------------------------------------------------------------------


def test_weak_passwords_are_refused_with_advice(client):
    admin = caller(client, "admin")
    for weak in ("password123", "qwertyuiop", "Password2024", "iloveyou123"):
        response = admin.post("/api/accounts", json={"username": "lin", "password": weak, "roles": ["viewer"]})
        assert response.status_code == 422 and "too easy to guess" in response.json["errors"]["password"], weak
    made = admin.post("/api/accounts", json={"username": "lin", "password": "tea-kettle-orbit-42", "roles": ["viewer"]})
    assert made.status_code == 201


def test_the_cli_refuses_a_weak_password_too(tmp_path, monkeypatch, capsys, clock):
    monkeypatch.setenv("ATRIUM_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    assert main(["migrate"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("password123\n"))
    assert main(["user", "create", "--username", "kim", "--password-stdin", "--role", "viewer"]) == 1
    assert "too easy to guess" in capsys.readouterr().err


def test_people_change_their_own_password_with_the_current_one_and_old_tokens_die(client):
    viewer = caller(client, "viewer")
    other_session = caller(client, "viewer")
    wrong = viewer.post(
        "/api/me/password", json={"current_password": "not-my-password", "new_password": "tea-kettle-orbit-42"}
    )
    assert wrong.status_code == 422 and "current_password" in wrong.json["errors"]
    weak = viewer.post(
        "/api/me/password", json={"current_password": password_for("viewer"), "new_password": "password123"}
    )
    assert weak.status_code == 422 and "new_password" in weak.json["errors"]
    assert viewer.get("/api/me").status_code == 200  # refused changes change nothing
    changed = viewer.post(
        "/api/me/password", json={"current_password": password_for("viewer"), "new_password": "tea-kettle-orbit-42"}
    )
    assert changed.status_code == 200 and changed.headers["Cache-Control"] == "no-store"
    for old in (viewer, other_session):
        refused = old.get("/api/me")
        assert refused.status_code == 401 and "revoked" in refused.json["detail"]
    assert Caller(client, changed.json["access_token"]).get("/api/me").status_code == 200
    assert login(client, "viewer").status_code == 401
    assert login(client, "viewer", "tea-kettle-orbit-42").status_code == 200


def test_guessing_the_current_password_through_a_stolen_token_is_throttled(client):
    thief = caller(client, "viewer")
    for n in range(5):
        assert (
            thief.post(
                "/api/me/password", json={"current_password": f"guess-{n}", "new_password": "tea-kettle-orbit-42"}
            ).status_code
            == 422
        )
    assert (
        thief.post(
            "/api/me/password", json={"current_password": password_for("viewer"), "new_password": "tea-kettle-orbit-42"}
        ).status_code
        == 429
    )


def test_an_admin_reset_revokes_tokens_and_forces_a_change_at_next_login(client):
    viewer = caller(client, "viewer")
    admin = caller(client, "admin")
    reset = admin.post("/api/accounts/viewer/password-reset", json={})
    assert reset.status_code == 200 and reset.headers["Cache-Control"] == "no-store"
    temporary = reset.json["temporary_password"]
    assert viewer.get("/api/me").status_code == 401
    assert login(client, "viewer").status_code == 401  # the old password is gone
    issued = login(client, "viewer", temporary)
    assert issued.status_code == 200 and issued.json["password_change_required"] is True
    limited = Caller(client, issued.json["access_token"])
    refused = limited.get("/api/tasks")
    assert refused.status_code == 403 and refused.json["type"].endswith("/password-change-required")
    assert limited.get("/api/me").status_code == 200
    changed = limited.post(
        "/api/me/password", json={"current_password": temporary, "new_password": "tea-kettle-orbit-42"}
    )
    assert changed.status_code == 200 and changed.json["password_change_required"] is False
    assert Caller(client, changed.json["access_token"]).get("/api/tasks").status_code == 200
    assert limited.get("/api/me").status_code == 401
    again = login(client, "viewer", "tea-kettle-orbit-42")
    assert again.status_code == 200 and again.json["password_change_required"] is False


def test_an_admin_may_set_the_temporary_password_if_it_is_strong(client):
    admin = caller(client, "admin")
    weak = admin.post("/api/accounts/viewer/password-reset", json={"password": "password123"})
    assert weak.status_code == 422
    assert (
        admin.post("/api/accounts/viewer/password-reset", json={"password": "tea-kettle-orbit-42"}).json[
            "temporary_password"
        ]
        == "tea-kettle-orbit-42"
    )
    assert login(client, "viewer", "tea-kettle-orbit-42").json["password_change_required"] is True


def test_only_admins_reset_passwords(client):
    for role in ("manager", "partner", "viewer"):
        response = caller(client, role).post("/api/accounts/service_desk/password-reset", json={})
        assert response.status_code == 403, role
    assert login(client, "service_desk").status_code == 200  # unchanged


def test_production_refuses_a_secret_key_shorter_than_32_bytes():
    with pytest.raises(RuntimeError, match="at least 32 bytes"):
        Settings(env="production", database_url="sqlite://", secret_key="s" * 31).check_production()
    Settings(env="production", database_url="sqlite://", secret_key="s" * 32).check_production()

"""TOTP secrets wrapped by the master key: no secret readable in the accounts table, logins with a code
unchanged, `atrium keys rotate` re-wrapping them (the old master key can then go), and migration 0019."""

from __future__ import annotations

import os

import pyotp
import pytest
from sqlalchemy import text

from atrium.encryption import rotate
from storage import crypto
from storage.accounts import Account
from storage.db import make_session_factory

from .api_helpers import caller
from .test_second_factor import code_of, enrol, login_with


def account_row(db, username: str):
    with db.connect() as conn:
        return conn.execute(
            text("SELECT totp_secret, totp_pending_secret, totp_kek_id FROM accounts WHERE username = :u"),
            {"u": username},
        ).one()


def test_the_accounts_table_holds_no_totp_secret_and_login_with_a_code_works(client, db, clock, keyring):
    viewer = caller(client, "viewer")
    started = viewer.post("/api/me/totp")
    assert started.status_code == 201, started.json
    pending = started.json["secret"]
    row = account_row(db, "viewer")
    assert row.totp_secret is None and row.totp_kek_id == keyring.current_id
    assert pending not in repr(tuple(row)) and pending.lower() not in repr(tuple(row)).lower()
    confirmed = viewer.post("/api/me/totp/confirm", json={"code": code_of(pending, clock)})
    assert confirmed.status_code == 200, confirmed.json
    row = account_row(db, "viewer")
    assert row.totp_pending_secret is None and row.totp_secret.startswith(crypto.PREFIX)
    assert pending not in repr(tuple(row)) and row.totp_kek_id == keyring.current_id

    clock.advance(seconds=30)
    assert login_with(client, "viewer").status_code == 401
    assert login_with(client, "viewer", code_of(pending, clock)).status_code == 200


def test_a_secret_moved_to_another_account_does_not_unwrap(client, db, clock, keyring):
    enrol(caller(client, "viewer"), clock)
    enrol(caller(client, "manager"), clock)
    with db.begin() as conn:
        conn.execute(
            text(
                "UPDATE accounts SET totp_secret = (SELECT totp_secret FROM accounts WHERE username = 'viewer') "
                "WHERE username = 'manager'"
            )
        )
    with make_session_factory(db)() as session:
        manager = session.query(Account).filter_by(username="manager").one()
        with pytest.raises(crypto.MasterKeyError, match="tampered"):
            manager.totp_secret  # noqa: B018


def test_rotation_rewraps_totp_secrets_and_logins_work_with_the_new_master_key_alone(client, db, clock, keyring):
    viewer_secret, _ = enrol(caller(client, "viewer"), clock)
    manager_secret, _ = enrol(caller(client, "manager"), clock)
    caller(client, "partner").post("/api/me/totp")  # a pending enrolment is re-wrapped too
    new = crypto.Keyring(os.urandom(32), [keyring.current])
    crypto.use_keyring(new)
    assert rotate(make_session_factory(db), batch=2, actor="ops") >= 3
    kek_ids = {account_row(db, name).totp_kek_id for name in ("viewer", "manager", "partner")}
    assert kek_ids == {new.current_id}
    assert rotate(make_session_factory(db), actor="ops") == 0

    crypto.use_keyring(crypto.Keyring(new.current))  # the old master key retired
    clock.advance(seconds=30)
    assert login_with(client, "viewer", code_of(viewer_secret, clock)).status_code == 200
    assert login_with(client, "manager", code_of(manager_secret, clock)).status_code == 200
    with make_session_factory(db)() as session:
        partner = session.query(Account).filter_by(username="partner").one()
        assert len(partner.totp_pending_secret) == 32 and partner.totp_secret is None


def test_migration_0019_wraps_existing_secrets_and_the_downgrade_unwraps_them(tmp_path, keyring):
    from alembic import command

    from storage.db import make_engine
    from storage.migrate import alembic_config

    secret, pending = pyotp.random_base32(), pyotp.random_base32()
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = alembic_config(engine)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0018")
        for account_id, username, active, waiting in (
            (1, "ada", secret, None),
            (2, "bo", None, pending),
            (3, "cy", None, None),
        ):
            conn.execute(
                text(
                    "INSERT INTO accounts (id, username, display_name, password_hash, active, roles, groups, "
                    "failed_logins, created_at, must_change_password, token_generation, totp_secret, "
                    "totp_pending_secret) VALUES (:id, :u, :u, 'x', 1, '[]', '[]', 0, '2026-01-01 00:00:00', 0, 0, "
                    ":secret, :pending)"
                ),
                {"id": account_id, "u": username, "secret": active, "pending": waiting},
            )
        command.upgrade(config, "0019")
    with engine.connect() as conn:
        dump = repr(conn.execute(text("SELECT * FROM accounts")).all())
    assert secret not in dump and pending not in dump
    with make_session_factory(engine)() as session:
        ada, bo, cy = (session.get(Account, i) for i in (1, 2, 3))
        assert (ada.totp_secret, ada.totp_pending_secret, ada.totp_enabled) == (secret, None, True)
        assert (bo.totp_secret, bo.totp_pending_secret, bo.totp_enabled) == (None, pending, False)
        assert (cy.totp_secret, cy.totp_kek_id) == (None, None)
        assert ada.totp_kek_id == bo.totp_kek_id == keyring.current_id
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0018")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, totp_secret, totp_pending_secret FROM accounts ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [(1, secret, None), (2, None, pending), (3, None, None)]
    engine.dispose()

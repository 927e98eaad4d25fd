"""Encryption at rest of clients' personal fields: nothing readable in the tables, the API unchanged,
duplicates and search through blind indexes, master-key rotation, a wrong key and moved ciphertexts."""

from __future__ import annotations

import base64
import json
import os

import pytest
from sqlalchemy import select, text

from atrium import clock
from atrium.encryption import rotate, verify
from storage import crypto
from storage.clients import Client
from storage.db import make_session_factory

from .api_helpers import client_body, people_in_two_teams


@pytest.fixture
def people(app):
    return people_in_two_teams(app)


def new_client(person, **fields):
    return person.post("/api/clients", json=client_body(**fields))


def raw_rows(db, sql: str) -> list:
    with db.connect() as conn:
        return [tuple(row) for row in conn.execute(text(sql))]


def read_client(db, client_id: int) -> Client:
    with make_session_factory(db)() as session:
        client = session.get(Client, client_id)
        client.phones, client.emails, client.addresses, client.notes  # noqa: B018 - decrypted in the session
        return client


def test_the_tables_hold_no_phone_email_address_or_note_and_the_api_reads_them_back(people, db, keyring):
    made = new_client(
        people["partner"],
        phones=["+44 20 7946 0000"],
        emails=["finance@harbour.example"],
        addresses=[{"street": "1 Quay St", "city": "Bristol"}],
        notes="Prefers calls after 4pm",
    )
    assert made.status_code == 201, made.json
    stored = raw_rows(db, "SELECT phones, emails, addresses, notes, search_text FROM clients")
    stored += raw_rows(db, "SELECT kind, value FROM client_identifiers")
    dump = repr(stored).casefold()
    for secret in ("7946", "0000", "finance", "harbour.example", "quay", "bristol", "4pm"):
        assert secret not in dump, secret
    assert "harbour logistics" in dump  # names are searchable in plaintext, by policy
    assert raw_rows(db, "SELECT client_id, kek_id FROM client_keys") == [(made.json["id"], keyring.current_id)]

    got = people["partner"].get(f"/api/clients/{made.json['id']}").json
    assert got["phones"] == ["+44 20 7946 0000"] and got["emails"] == ["finance@harbour.example"]
    assert (
        got["addresses"] == [{"street": "1 Quay St", "city": "Bristol"}] and got["notes"] == "Prefers calls after 4pm"
    )
    changed = people["partner"].patch(f"/api/clients/{made.json['id']}", json={"phones": ["+44 117 496 0123"]})
    assert changed.status_code == 200, changed.json
    assert people["partner"].get(f"/api/clients/{made.json['id']}").json["phones"] == ["+44 117 496 0123"]
    assert "0123" not in repr(raw_rows(db, "SELECT phones, search_text FROM clients"))


def test_duplicates_are_found_by_phone_and_email_through_keyed_hashes(people, keyring):
    assert new_client(people["partner"]).status_code == 201
    by_phone = new_client(people["partner"], name="Other Firm", emails=[], phones=["020 7946 0000"])
    assert by_phone.status_code == 409 and by_phone.json["candidates"][0]["matched_on"] == ["phone"]
    by_email = new_client(people["partner"], name="Third Firm", phones=[], emails=["INFO@Harbour.example"])
    assert by_email.status_code == 409 and by_email.json["candidates"][0]["matched_on"] == ["email"]


def test_search_by_name_phone_digits_email_domain_and_address_part(people, keyring):
    new_client(people["partner"])
    new_client(
        people["partner"],
        name="Meridian Legal",
        phones=["+1 212 555 0100"],
        emails=["law@meridian.example"],
        addresses=[],
    )

    def names(q):
        response = people["partner"].get("/api/clients", query_string={"q": q})
        assert response.status_code == 200, response.json
        return [c["name"] for c in response.json["items"]]

    assert names("logist") == ["Harbour Logistics Ltd"]
    assert names("7946 0000") == names("(20) 79460000") == ["Harbour Logistics Ltd"]
    assert names("555 01") == ["Meridian Legal"]
    assert names("info@harbour.example") == names("harbour.example") == ["Harbour Logistics Ltd"]
    assert names("bristol") == ["Harbour Logistics Ltd"]
    assert names("9999") == [] and names("harbour.exam") == []  # no fragments of emails


def test_rotation_rewraps_every_key_and_everything_stays_readable(people, db, keyring):
    ids = [
        new_client(people["partner"], name=f"Firm {n}", phones=[f"+44 20 7946 00{n}0"], emails=[]).json["id"]
        for n in range(3)
    ]
    old = keyring
    new = crypto.Keyring(os.urandom(32), [old.current])
    crypto.use_keyring(new)
    sessions = make_session_factory(db)
    assert rotate(sessions, batch=2, actor="ops") == 4  # three data keys and the index key
    assert {kek for (kek,) in raw_rows(db, "SELECT kek_id FROM client_keys")} == {new.current_id}
    assert raw_rows(db, "SELECT kek_id FROM index_keys") == [(new.current_id,)]
    assert rotate(sessions, actor="ops") == 0

    crypto.use_keyring(crypto.Keyring(new.current))  # the old master key retired
    assert read_client(db, ids[2]).phones == ["+44 20 7946 0020"]
    assert people["partner"].get(f"/api/clients/{ids[0]}").json["phones"] == ["+44 20 7946 0000"]
    duplicate = new_client(people["partner"], name="Copy", phones=["020 7946 0010"])
    assert duplicate.status_code == 409  # the blind indexes did not change
    rows = raw_rows(db, "SELECT actor, detail FROM audit_log WHERE action = 'keys.rotate'")
    # A row per batch that re-wrapped keys, and one for the second run, which found nothing to re-wrap.
    assert len(rows) == 3 and all(actor == "ops" for actor, _ in rows)
    last = rows[-1][1]
    assert (json.loads(last) if isinstance(last, str) else last)["rewrapped"] == 0


def test_a_wrong_master_key_fails_clearly(people, db, keyring):
    client_id = new_client(people["partner"]).json["id"]
    crypto.use_keyring(crypto.Keyring(os.urandom(32)))
    with pytest.raises(crypto.MasterKeyError, match="wrong master key"):
        read_client(db, client_id)
    with pytest.raises(crypto.MasterKeyError, match="wrong master key"):
        rotate(make_session_factory(db), actor="ops")
    with pytest.raises(crypto.MasterKeyError, match="blind-index key .* wrong master key"):
        verify(make_session_factory(db))  # what `atrium serve` checks before it serves


def test_a_ciphertext_moved_to_another_client_or_field_does_not_decrypt(people, db, keyring):
    first = new_client(people["partner"]).json["id"]
    second = new_client(people["partner"], name="Other", phones=["+44 117 496 0000"], emails=["a@b.example"]).json["id"]
    with db.begin() as conn:
        conn.execute(
            text("UPDATE clients SET phones = (SELECT phones FROM clients WHERE id = :first) WHERE id = :second"),
            {"first": first, "second": second},
        )
    with pytest.raises(crypto.MasterKeyError, match="moved from another row or field"):
        read_client(db, second)
    with db.begin() as conn:
        conn.execute(text("UPDATE clients SET phones = emails WHERE id = :first"), {"first": first})
    with pytest.raises(crypto.MasterKeyError, match="moved from another row or field"):
        read_client(db, first)


def test_master_keys_come_from_the_environment_and_production_requires_one(tmp_path):
    from atrium.encryption import keyring_from_settings
    from atrium.settings import Settings

    key = base64.b64encode(os.urandom(32)).decode()
    assert keyring_from_settings(Settings(master_key=key)).current == base64.b64decode(key)
    key_file = tmp_path / "master.key"
    key_file.write_text(key + "\n")
    assert keyring_from_settings(Settings(master_key_file=key_file)).current == base64.b64decode(key)
    with pytest.raises(crypto.MasterKeyError, match="32 random bytes"):
        keyring_from_settings(Settings(master_key="c2hvcnQ="))
    with pytest.raises(crypto.MasterKeyError, match="requires ATRIUM_MASTER_KEY"):
        keyring_from_settings(Settings(env="production", secret_key="s" * 32))
    old = base64.b64encode(os.urandom(32)).decode()
    ring = keyring_from_settings(Settings.from_env({"ATRIUM_MASTER_KEY": key, "ATRIUM_OLD_MASTER_KEYS": old}))
    assert set(ring.keks) == {crypto.kek_id(base64.b64decode(key)), crypto.kek_id(base64.b64decode(old))}


def test_migration_0015_encrypts_existing_clients_and_keeps_them_findable(tmp_path, keyring):
    from alembic import command

    from storage.clients import duplicate_candidates
    from storage.db import make_engine
    from storage.migrate import alembic_config

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = alembic_config(engine)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0014")
        conn.execute(
            text(
                "INSERT INTO clients (id, kind, name, name_key, tier, status, tags, phones, emails, addresses, notes, "
                "custom_fields, search_text, created_at, updated_at, version) VALUES (7, 'organisation', "
                "'Harbour Logistics Ltd', 'harbour logistics', 'A', 'active', '[]', '[\"+44 20 7946 0000\"]', "
                "'[\"info@harbour.example\"]', '[{\"city\": \"Bristol\"}]', 'old note', '{}', 'x', "
                "'2026-01-01 00:00:00', '2026-01-01 00:00:00', 1)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO client_identifiers (client_id, kind, value) VALUES (7, 'name', 'harbour logistics'), "
                "(7, 'phone', '207946000'), (7, 'email', 'info@harbour.example')"
            )
        )
        command.upgrade(config, "0015")
    dump = repr(raw_rows(engine, "SELECT phones, emails, addresses, notes, search_text FROM clients"))
    dump += repr(raw_rows(engine, "SELECT value FROM client_identifiers"))
    for secret in ("7946", "info@", "harbour.example", "bristol", "old note"):
        assert secret not in dump.casefold(), secret
    with engine.begin() as conn:  # the models are the latest schema's
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    with make_session_factory(engine)() as session:
        client = session.get(Client, 7)
        assert client.phones == ["+44 20 7946 0000"] and client.notes == "old note"
        probe = Client(name="Someone Else", phones=["020 7946 0000"], emails=["INFO@harbour.example"])
        assert [(c.id, kinds) for c, kinds in duplicate_candidates(session, probe)] == [(7, ["email", "phone"])]
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0014")
    assert raw_rows(engine, "SELECT phones, notes FROM clients") == [('["+44 20 7946 0000"]', "old note")]
    engine.dispose()


TAX_SCHEMA = {"type": "object", "properties": {"tax_id": {"type": "string", "x-atrium-sensitive": True}}}


def test_custom_fields_id_numbers_among_them_are_stored_encrypted(people, db, keyring):
    assert people["admin"].put("/api/settings/client-custom-fields", json={"schema": TAX_SCHEMA}).status_code == 200
    made = new_client(people["partner"], custom_fields={"tax_id": "GB123456789"})
    assert made.status_code == 201, made.json
    [(stored,)] = raw_rows(db, "SELECT custom_fields FROM clients")
    assert "GB123456789" not in stored and "v1:" in stored
    assert people["partner"].get(f"/api/clients/{made.json['id']}").json["custom_fields"] == {"tax_id": "GB123456789"}


def test_migration_0022_encrypts_custom_fields_and_its_downgrade_decrypts_them(tmp_path, keyring):
    from alembic import command

    from storage.db import make_engine
    from storage.migrate import alembic_config

    engine = make_engine(f"sqlite:///{tmp_path / 'custom.db'}")
    config = alembic_config(engine)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    with make_session_factory(engine).begin() as session:
        session.add(
            Client(
                name="Harbour",
                kind="organisation",
                name_key="harbour",
                tier="A",
                status="active",
                custom_fields={"tax_id": "GB123456789"},
                search_text="harbour",
                created_at=clock.now(),
                updated_at=clock.now(),
            )
        )
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0020")
    assert raw_rows(engine, "SELECT custom_fields FROM clients") == [('{"tax_id": "GB123456789"}',)]
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    assert "GB123456789" not in repr(raw_rows(engine, "SELECT custom_fields FROM clients"))
    with make_session_factory(engine)() as session:
        assert session.scalar(select(Client)).custom_fields == {"tax_id": "GB123456789"}
    engine.dispose()

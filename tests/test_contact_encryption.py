"""Encryption at rest of contacts' phones, emails and notes, under the data key of the client they belong to:
nothing readable in the table, the API and masking unchanged, a moved ciphertext or a destroyed client key
unreadable, a merged contact re-encrypted under the survivor's key, and migration 0018."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from storage import crypto
from storage.clients import Contact
from storage.db import make_session_factory

from .api_helpers import client_body, people_in_two_teams

PHONE = "13800131234"
EMAIL = "finance@harbour.example"
NOTE = "Prefers WeChat after 6pm"
SECRETS = ("13800131234", "0013", "finance", "harbour.example", "wechat", "6pm")


@pytest.fixture
def people(app):
    return people_in_two_teams(app)


def raw_rows(db, sql: str, **params) -> list:
    with db.connect() as conn:
        return [tuple(row) for row in conn.execute(text(sql), params)]


def new_client(person, **fields) -> int:
    made = person.post("/api/clients", json=client_body(**fields))
    assert made.status_code == 201, made.json
    return made.json["id"]


def new_contact(person, client_id: int, **fields) -> dict:
    body = {"name": "Carol Chen", "phones": [PHONE], "emails": [EMAIL], "notes": NOTE, **fields}
    made = person.post(f"/api/clients/{client_id}/contacts", json=body)
    assert made.status_code == 201, made.json
    return made.json


def read_contact(db, contact_id: int) -> Contact:
    with make_session_factory(db)() as session:
        contact = session.get(Contact, contact_id)
        contact.phones, contact.emails, contact.notes  # noqa: B018 - decrypted in the session
        return contact


def destroy_client_key(db, client_id: int) -> None:
    with db.begin() as conn:
        conn.execute(
            text("UPDATE client_keys SET wrapped_key = NULL, destroyed_at = created_at WHERE client_id = :id"),
            {"id": client_id},
        )


def test_the_contacts_table_holds_no_phone_email_or_note_and_the_api_reads_them_back(people, db, keyring):
    partner = people["partner"]
    client_id = new_client(partner)
    contact = new_contact(partner, client_id)
    dump = repr(raw_rows(db, "SELECT name, role, phones, emails, notes FROM contacts")).casefold()
    for secret in SECRETS:
        assert secret not in dump, secret
    assert "carol chen" in dump  # a contact's name stays plaintext, like a client's (conflict checks read it)

    url = f"/api/clients/{client_id}/contacts/{contact['id']}"
    got = partner.get(url).json
    assert (got["phones"], got["emails"], got["notes"]) == ([PHONE], [EMAIL], NOTE)
    assert partner.get(f"/api/clients/{client_id}/contacts").json["items"][0]["phones"] == [PHONE]
    changed = partner.patch(url, json={"phones": ["+44 117 496 0123"], "notes": None})
    assert changed.status_code == 200, changed.json
    got = partner.get(url).json
    assert got["phones"] == ["+44 117 496 0123"] and got["notes"] is None and got["emails"] == [EMAIL]
    assert "0123" not in repr(raw_rows(db, "SELECT phones FROM contacts"))


def test_a_contact_value_moved_to_another_contact_or_field_does_not_decrypt(people, db, keyring):
    partner = people["partner"]
    client_id = new_client(partner)
    first = new_contact(partner, client_id)["id"]
    second = new_contact(partner, client_id, name="Dan", phones=["+44 117 496 0000"], emails=[])["id"]
    other_client = new_client(partner, name="Other Firm", phones=[], emails=[], confirm_duplicate=True)
    third = new_contact(partner, other_client, name="Eve", phones=["+44 117 496 0001"])["id"]
    with db.begin() as conn:
        conn.execute(
            text("UPDATE contacts SET phones = (SELECT phones FROM contacts WHERE id = :first) WHERE id = :second"),
            {"first": first, "second": second},
        )
    with pytest.raises(crypto.MasterKeyError, match="moved from another row or field"):
        read_contact(db, second)
    with db.begin() as conn:  # the same client's key, another field
        conn.execute(text("UPDATE contacts SET emails = phones WHERE id = :first"), {"first": first})
    with pytest.raises(crypto.MasterKeyError, match="moved from another row or field"):
        read_contact(db, first)
    with db.begin() as conn:  # the row moved to another client: its key does not open it
        conn.execute(
            text("UPDATE contacts SET client_id = :client WHERE id = :third"), {"client": client_id, "third": third}
        )
    with pytest.raises(crypto.MasterKeyError, match="moved from another row or field"):
        read_contact(db, third)


def test_a_client_with_its_key_destroyed_has_unreadable_contacts(people, db, keyring):
    partner = people["partner"]
    client_id = new_client(partner)
    contact_id = new_contact(partner, client_id)["id"]
    kept_client = new_client(partner, name="Other Firm", phones=[], emails=[], confirm_duplicate=True)
    kept = new_contact(partner, kept_client, name="Dan")["id"]
    destroy_client_key(db, client_id)

    with pytest.raises(crypto.MasterKeyError, match=f"client {client_id} has no data key: contact {contact_id}"):
        read_contact(db, contact_id)
    assert read_contact(db, kept).phones == [PHONE]  # another client's contacts are untouched
    dump = repr(raw_rows(db, "SELECT phones, emails, notes FROM contacts WHERE id = :id", id=contact_id))
    for secret in SECRETS:
        assert secret not in dump.casefold(), secret
    refused = partner.get(f"/api/clients/{client_id}/contacts/{contact_id}")
    assert refused.status_code == 500
    for secret in SECRETS:
        assert secret not in refused.get_data(as_text=True).casefold(), secret
    changed = partner.patch(f"/api/clients/{client_id}/contacts/{contact_id}", json={"name": "Carol"})
    assert changed.status_code == 500  # nothing is written under a destroyed key


def test_masked_roles_see_an_encrypted_contact_masked(people, db, keyring):
    client_id = new_client(people["partner"])
    contact = new_contact(people["partner"], client_id)
    url = f"/api/clients/{client_id}/contacts"
    for got in (people["viewer"].get(url).json["items"][0], people["viewer"].get(f"{url}/{contact['id']}").json):
        assert got["phones"] == ["138****1234"] and got["emails"] == ["f***@harbour.example"]
    assert people["manager"].get(f"{url}/{contact['id']}").json["phones"] == [PHONE]


def test_a_merged_clients_contacts_are_encrypted_under_the_survivors_key(people, db, keyring):
    partner = people["partner"]
    kept = new_client(partner)
    duplicate = new_client(partner, name="Harbour Logistics", phones=[], emails=[], confirm_duplicate=True)
    contact_id = new_contact(partner, duplicate)["id"]
    merged = partner.post(f"/api/clients/{kept}/merge", json={"from_client_id": duplicate})
    assert merged.status_code == 200, merged.json
    assert merged.json["moved"]["contacts"] == [contact_id]

    destroy_client_key(db, duplicate)  # the duplicate's key no longer matters to the moved contact
    got = partner.get(f"/api/clients/{kept}/contacts/{contact_id}").json
    assert (got["phones"], got["emails"], got["notes"]) == ([PHONE], [EMAIL], NOTE)
    assert read_contact(db, contact_id).client_id == kept


def test_migration_0018_encrypts_existing_contacts_and_the_downgrade_decrypts_them(tmp_path, keyring):
    from alembic import command

    from storage.db import make_engine
    from storage.migrate import alembic_config

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = alembic_config(engine)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0014")
        for client_id in (7, 8):
            conn.execute(
                text(
                    "INSERT INTO clients (id, kind, name, name_key, tier, status, tags, phones, emails, addresses, "
                    "notes, custom_fields, search_text, created_at, updated_at, version) VALUES (:id, 'organisation', "
                    "'Harbour', 'harbour', 'A', 'active', '[]', '[]', '[]', '[]', NULL, '{}', 'harbour', "
                    "'2026-01-01 00:00:00', '2026-01-01 00:00:00', 1)"
                ),
                {"id": client_id},
            )
        conn.execute(
            text(
                "INSERT INTO contacts (id, client_id, name, role, phones, emails, notes, created_at, updated_at) "
                "VALUES (3, 7, 'Carol Chen', 'CFO', :phones, :emails, :notes, '2026-01-01 00:00:00', "
                "'2026-01-01 00:00:00'), (4, 8, 'Dan', NULL, :phones, '[]', NULL, '2026-01-01 00:00:00', "
                "'2026-01-01 00:00:00')"
            ),
            {"phones": f'["{PHONE}"]', "emails": f'["{EMAIL}"]', "notes": NOTE},
        )
        command.upgrade(config, "0017")
        # Client 8 was crypto-shredded before its contacts were encrypted: they are emptied, not kept.
        conn.execute(text("UPDATE client_keys SET wrapped_key = NULL, destroyed_at = created_at WHERE client_id = 8"))
        command.upgrade(config, "0018")
    dump = repr(raw_rows(engine, "SELECT name, role, phones, emails, notes FROM contacts")).casefold()
    for secret in SECRETS:
        assert secret not in dump, secret
    with engine.begin() as conn:  # the model has the columns later migrations add (contacts.locale)
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    with make_session_factory(engine)() as session:
        carol, dan = session.get(Contact, 3), session.get(Contact, 4)
        assert (carol.phones, carol.emails, carol.notes, carol.role) == ([PHONE], [EMAIL], NOTE, "CFO")
        assert (dan.phones, dan.emails, dan.notes) == ([], [], None)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0017")
    assert raw_rows(engine, "SELECT id, phones, emails, notes FROM contacts ORDER BY id") == [
        (3, f'["{PHONE}"]', f'["{EMAIL}"]', NOTE),
        (4, "[]", "[]", None),
    ]
    engine.dispose()

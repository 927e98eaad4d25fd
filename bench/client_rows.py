"""Clients COPYed into a bench schema as the application stores them (storage.clients add_new_clients,
storage.crypto): each with its own data key wrapped by the master key, its phones, emails, addresses and
notes encrypted under it, its name key and search text, its identifiers (keyed hashes of phones and
emails) and its blind search tokens. Ids are given here: the associated data names them."""

from __future__ import annotations

import json
from types import SimpleNamespace

from sqlalchemy.orm import Session

from storage import crypto
from storage.clients import identifiers_of, name_key, search_text, search_tokens

CLIENT_COLUMNS = (
    "id, kind, name, name_key, industry, tier, status, owner, tags, phones, emails, addresses, notes, "
    "custom_fields, search_text, created_at, updated_at, deleted_at, version"
)


def copy_rows(cursor, sql: str, rows) -> int:
    """COPY `rows` into the table `sql` names; how many."""
    n = 0
    with cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)
            n += 1
    return n


def copy_clients(db, cursor, clients) -> int:
    """COPY `clients` (dicts with id, kind, name, industry, tier, status, owner, tags, phones, emails,
    addresses, created_at, updated_at, deleted_at and optionally notes; read once) through `cursor` (a
    psycopg cursor on `db`'s schema), with their keys, identifiers and search tokens; sets the id sequence.
    Returns how many clients."""
    with Session(db) as session:
        index_key = crypto.index_key(session)  # made (and wrapped) in the schema if it has none
        session.commit()
    ring = crypto.keyring()
    keys, identifiers, tokens = [], [], []
    last_id = 0

    def client_rows():
        nonlocal last_id
        for c in clients:
            client_id = last_id = c["id"]
            personal = SimpleNamespace(name=c["name"], phones=c["phones"], emails=c["emails"], addresses=c["addresses"])
            key = crypto.new_data_key()
            wrapped, by = ring.wrap(key, crypto.client_key_aad(client_id))
            keys.append((client_id, wrapped, by, c["created_at"]))
            identifiers.extend((client_id, kind, value[:320]) for kind, value in identifiers_of(personal, index_key))
            sort_key, live = name_key(c["name"])[:300], c["deleted_at"] is None
            tokens.extend((token, client_id, sort_key, live) for token in search_tokens(personal, index_key))

            def sealed(field, client_id=client_id, key=key):
                # JSON columns hold the ciphertext as a JSON string, `notes` (Text) as it is.
                value = c.get(field, {"notes": None, "custom_fields": {}}.get(field, []))
                if value is None:
                    return None
                stored = crypto.encrypt_value(key, value, crypto.value_aad("clients", client_id, field))
                return stored if field == "notes" else json.dumps(stored)

            yield (
                client_id,
                c["kind"],
                c["name"],
                sort_key,
                c["industry"],
                c["tier"],
                c["status"],
                c["owner"],
                json.dumps(c["tags"], ensure_ascii=False),
                sealed("phones"),
                sealed("emails"),
                sealed("addresses"),
                sealed("notes"),
                sealed("custom_fields"),
                search_text(personal),
                c["created_at"],
                c["updated_at"],
                c["deleted_at"],
                1,
            )

    n = copy_rows(cursor, f"COPY clients ({CLIENT_COLUMNS}) FROM STDIN", client_rows())
    copy_rows(cursor, "COPY client_keys (client_id, wrapped_key, kek_id, created_at) FROM STDIN", keys)
    copy_rows(cursor, "COPY client_identifiers (client_id, kind, value) FROM STDIN", identifiers)
    copy_rows(cursor, "COPY client_search_tokens (token, client_id, name_key, live) FROM STDIN", tokens)
    cursor.execute("SELECT setval(pg_get_serial_sequence('clients', 'id'), %s)", (last_id,))
    return n

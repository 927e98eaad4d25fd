"""contacts' phones, emails and notes encrypted under their client's data key

Revision ID: 0018
Revises: 0017

Encryption at rest (storage/crypto.py) extended to the people at a client: each contact's phones,
emails and notes are encrypted (AES-GCM) under the data key of the client it belongs to, with the
table, the contact's id and the field as associated data, so destroying the client's key makes its
contacts unreadable too. The columns keep their names and hold the ciphertexts. A contact whose client's
key is already destroyed (crypto-shredded) has these fields emptied: they were to be unreadable. The
upgrade needs the master key (ATRIUM_MASTER_KEY or ATRIUM_MASTER_KEY_FILE; in development var/master.key)
when there are contacts; the downgrade decrypts them back with the same key.
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

FIELDS = ("phones", "emails", "notes")
BATCH = 500


def _contacts():
    return sa.table(
        "contacts",
        sa.column("id", sa.BigInteger),
        sa.column("client_id", sa.BigInteger),
        sa.column("phones", sa.JSON),
        sa.column("emails", sa.JSON),
        sa.column("notes", sa.Text),
    )


def _keys():
    return sa.table(
        "client_keys",
        sa.column("client_id", sa.BigInteger),
        sa.column("wrapped_key", sa.LargeBinary),
        sa.column("kek_id", sa.String),
        sa.column("destroyed_at", sa.DateTime),
    )


def _batches(conn):
    """The contacts in id order, BATCH at a time, each with its client's wrapped key (None: destroyed)."""
    contacts, keys = _contacts(), _keys()
    last = 0
    while True:
        rows = conn.execute(
            sa.select(contacts, keys.c.wrapped_key, keys.c.kek_id, keys.c.destroyed_at)
            .select_from(contacts.outerjoin(keys, keys.c.client_id == contacts.c.client_id))
            .where(contacts.c.id > last)
            .order_by(contacts.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        last = rows[-1].id
        yield rows


def _client_key(ring, row):
    """The data key of the contact's client; None when it was destroyed."""
    from storage import crypto

    if row.destroyed_at is not None or (row.kek_id is not None and row.wrapped_key is None):
        return None
    if row.kek_id is None:
        raise crypto.MasterKeyError(f"client {row.client_id} (of contact {row.id}) has no data key: run 0015 first")
    return ring.unwrap(
        row.wrapped_key,
        row.kek_id,
        crypto.client_key_aad(row.client_id),
        what=f"the data key of client {row.client_id}",
    )


def upgrade() -> None:
    conn = op.get_bind()
    if conn.execute(sa.text("SELECT count(*) FROM contacts")).scalar() == 0:
        return  # nothing to encrypt: no master key needed
    from storage import crypto

    ring = crypto.keyring()
    contacts = _contacts()
    for rows in _batches(conn):
        for row in rows:
            key = _client_key(ring, row)
            plain = {"phones": row.phones or [], "emails": row.emails or [], "notes": row.notes}
            values = {
                field: None
                if key is None or value is None
                else crypto.encrypt_value(key, value, crypto.value_aad("contacts", row.id, field))
                for field, value in plain.items()
            }
            conn.execute(contacts.update().where(contacts.c.id == row.id).values(**values))


def downgrade() -> None:
    conn = op.get_bind()
    if conn.execute(sa.text("SELECT count(*) FROM contacts")).scalar() == 0:
        return
    from storage import crypto

    ring = crypto.keyring()
    contacts = _contacts()
    for rows in _batches(conn):
        for row in rows:
            key = _client_key(ring, row)
            values = {}
            for field in FIELDS:
                stored = getattr(row, field)
                values[field] = (
                    None
                    if key is None or stored is None
                    else crypto.decrypt_value(
                        key, stored, crypto.value_aad("contacts", row.id, field), what=f"contact {row.id}'s {field}"
                    )
                )
            values["phones"] = values["phones"] or []
            values["emails"] = values["emails"] or []
            conn.execute(contacts.update().where(contacts.c.id == row.id).values(**values))

"""clients' custom fields encrypted under their data key

Revision ID: 0022
Revises: 0021

The firm's custom fields hold what its schema adds (tax and ID numbers among them, marked sensitive for
masking): they are now encrypted (AES-GCM) under the client's data key like its phones and emails, as
one value with the table, the client's id and `custom_fields` as associated data. The column keeps its
name and holds the ciphertext. A client whose key is destroyed (erased) has them emptied. The upgrade
needs the master key when there are clients; the downgrade decrypts them back with the same key.
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

BATCH = 500


def _clients():
    return sa.table("clients", sa.column("id", sa.BigInteger), sa.column("custom_fields", sa.JSON))


def _keys():
    return sa.table(
        "client_keys",
        sa.column("client_id", sa.BigInteger),
        sa.column("wrapped_key", sa.LargeBinary),
        sa.column("kek_id", sa.String),
    )


def _batches(conn):
    """The clients in id order, BATCH at a time, each with its wrapped data key (None: destroyed)."""
    clients, keys = _clients(), _keys()
    last = 0
    while True:
        rows = conn.execute(
            sa.select(clients, keys.c.wrapped_key, keys.c.kek_id)
            .select_from(clients.outerjoin(keys, keys.c.client_id == clients.c.id))
            .where(clients.c.id > last)
            .order_by(clients.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        last = rows[-1].id
        yield rows


def _key(ring, row):
    from storage import crypto

    if row.wrapped_key is None:
        return None
    return ring.unwrap(
        row.wrapped_key, row.kek_id, crypto.client_key_aad(row.id), what=f"the data key of client {row.id}"
    )


def _convert(encrypting: bool) -> None:
    conn = op.get_bind()
    if conn.execute(sa.text("SELECT count(*) FROM clients")).scalar() == 0:
        return  # nothing to convert: no master key needed
    from storage import crypto

    ring = crypto.keyring()
    clients = _clients()
    for rows in _batches(conn):
        for row in rows:
            key = _key(ring, row)
            aad = crypto.value_aad("clients", row.id, "custom_fields")
            if key is None:
                value = None if encrypting else {}
            elif encrypting:
                value = crypto.encrypt_value(key, row.custom_fields or {}, aad)
            else:
                stored = row.custom_fields
                value = (
                    crypto.decrypt_value(key, stored, aad, what=f"client {row.id}'s custom fields") if stored else {}
                )
            conn.execute(clients.update().where(clients.c.id == row.id).values(custom_fields=value))


def upgrade() -> None:
    _convert(encrypting=True)


def downgrade() -> None:
    _convert(encrypting=False)

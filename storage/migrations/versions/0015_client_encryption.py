"""client_keys, index_keys; clients' phones, emails, addresses and notes encrypted

Revision ID: 0015
Revises: 0014

Encryption at rest (storage/crypto.py): every existing client gets a data key (wrapped by the master
key), its personal fields are encrypted under it, its search text keeps the name and blind tokens of
its phones' digits, and its phone and email identifiers become keyed hashes. The upgrade needs the
master key: ATRIUM_MASTER_KEY or ATRIUM_MASTER_KEY_FILE (in development, var/master.key, generated).
The downgrade decrypts everything back with the same key.
"""

import re
from types import SimpleNamespace

import sqlalchemy as sa
from alembic import op

import storage.base

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

FIELDS = ("phones", "emails", "addresses", "notes")
BATCH = 500


def _clients():
    return sa.table(
        "clients",
        sa.column("id", sa.BigInteger),
        sa.column("name", sa.String),
        sa.column("phones", sa.JSON),
        sa.column("emails", sa.JSON),
        sa.column("addresses", sa.JSON),
        sa.column("notes", sa.Text),
        sa.column("search_text", sa.Text),
        sa.column("created_at", storage.base.UTCDateTime),
    )


def upgrade() -> None:
    op.create_table(
        "client_keys",
        sa.Column("client_id", storage.base.BigId, nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("kek_id", sa.String(length=16), nullable=False),
        sa.Column("created_at", storage.base.UTCDateTime(), nullable=False),
        sa.Column("destroyed_at", storage.base.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_client_keys_client_id_clients"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_client_keys")),
    )
    op.create_table(
        "index_keys",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("kek_id", sa.String(length=16), nullable=False),
        sa.Column("created_at", storage.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_index_keys")),
    )
    conn = op.get_bind()
    if conn.execute(sa.text("SELECT count(*) FROM clients")).scalar() == 0:
        return  # nothing to encrypt: no master key needed (the index key is made on first use)
    _encrypt_existing(conn)


def _encrypt_existing(conn) -> None:
    from sqlalchemy.orm import Session

    from atrium import clock
    from storage import crypto
    from storage.clients import email_key, phone_key, search_text

    session = Session(bind=conn)
    index_key = crypto.index_key(session)  # creates and wraps it
    ring = crypto.keyring()
    clients = _clients()
    identifiers = sa.table(
        "client_identifiers", sa.column("client_id", sa.BigInteger), sa.column("kind"), sa.column("value")
    )
    keys = crypto.ClientKey.__table__
    last = 0
    while True:
        rows = conn.execute(sa.select(clients).where(clients.c.id > last).order_by(clients.c.id).limit(BATCH)).all()
        if not rows:
            break
        last = rows[-1].id
        key_rows, id_rows = [], []
        for row in rows:
            key = crypto.new_data_key()
            wrapped, by = ring.wrap(key, crypto.client_key_aad(row.id))
            key_rows.append({"client_id": row.id, "wrapped_key": wrapped, "kek_id": by, "created_at": clock.now()})
            plain = {"phones": row.phones or [], "emails": row.emails or [], "addresses": row.addresses or []}
            values = {f: crypto.encrypt_value(key, v, crypto.value_aad("clients", row.id, f)) for f, v in plain.items()}
            values["notes"] = (
                None
                if row.notes is None
                else crypto.encrypt_value(key, row.notes, crypto.value_aad("clients", row.id, "notes"))
            )
            values["search_text"] = search_text(SimpleNamespace(name=row.name))
            conn.execute(clients.update().where(clients.c.id == row.id).values(**values))
            id_rows += [
                {"client_id": row.id, "kind": "phone", "value": crypto.blind(index_key, "phone", k)}
                for k in {phone_key(p) for p in plain["phones"]} - {None}
            ]
            id_rows += [
                {"client_id": row.id, "kind": "email", "value": crypto.blind(index_key, "email", email_key(e))}
                for e in plain["emails"]
                if e.strip()
            ]
        conn.execute(
            identifiers.delete().where(
                identifiers.c.client_id.in_([r.id for r in rows]), identifiers.c.kind.in_(["phone", "email"])
            )
        )
        conn.execute(sa.insert(keys), key_rows)
        if id_rows:
            conn.execute(sa.insert(identifiers), id_rows)


def downgrade() -> None:
    conn = op.get_bind()
    if conn.execute(sa.text("SELECT count(*) FROM client_keys")).scalar():
        _decrypt_existing(conn)
    op.drop_table("index_keys")
    op.drop_table("client_keys")


def _decrypt_existing(conn) -> None:
    from storage import crypto
    from storage.clients import email_key, phone_key
    from storage.text_search import normalise

    ring = crypto.keyring()
    clients = _clients()
    keys = crypto.ClientKey.__table__
    identifiers = sa.table(
        "client_identifiers", sa.column("client_id", sa.BigInteger), sa.column("kind"), sa.column("value")
    )
    rows = conn.execute(
        sa.select(clients, keys.c.wrapped_key, keys.c.kek_id).join(keys, keys.c.client_id == clients.c.id)
    ).all()
    for row in rows:
        key = ring.unwrap(row.wrapped_key, row.kek_id, crypto.client_key_aad(row.id), what=f"client {row.id}'s key")
        plain = {
            f: None
            if getattr(row, f) is None
            else crypto.decrypt_value(key, getattr(row, f), crypto.value_aad("clients", row.id, f), what=f)
            for f in FIELDS
        }
        for f in ("phones", "emails", "addresses"):
            plain[f] = plain[f] or []
        parts = [
            row.name,
            *plain["phones"],
            *(re.sub(r"\D", "", p) for p in plain["phones"]),
            *plain["emails"],
            *(" ".join(str(v) for v in a.values() if v) if isinstance(a, dict) else str(a) for a in plain["addresses"]),
        ]
        search_text = "\n".join(normalise(p) for p in parts if p)
        conn.execute(clients.update().where(clients.c.id == row.id).values(search_text=search_text, **plain))
        conn.execute(
            identifiers.delete().where(identifiers.c.client_id == row.id, identifiers.c.kind.in_(["phone", "email"]))
        )
        found = [
            {"client_id": row.id, "kind": "phone", "value": k} for k in {phone_key(p) for p in plain["phones"]} - {None}
        ]
        found += [{"client_id": row.id, "kind": "email", "value": email_key(e)} for e in plain["emails"] if e.strip()]
        if found:
            conn.execute(sa.insert(identifiers), found)

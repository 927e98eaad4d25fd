"""client_search_tokens: the blind tokens `q` finds clients by, out of clients.search_text

Revision ID: 0021
Revises: 0020

The blind tokens of clients' phone digits, emails, email domains and address parts (storage.clients
search_tokens) move from `clients.search_text`, where a trigram index matched them as substrings, to a
table of their own, matched by equality through its (token, client_id) primary key; search_text keeps
the normalised name alone. The upgrade computes each client's tokens from its decrypted fields: with
clients, it needs the master key (ATRIUM_MASTER_KEY or ATRIUM_MASTER_KEY_FILE), as migration 0015 did.
The downgrade puts the tokens back into search_text.
"""

from types import SimpleNamespace

import sqlalchemy as sa
from alembic import op

import storage.base

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

BATCH = 1000
FIELDS = ("phones", "emails", "addresses")


def _clients():
    return sa.table(
        "clients",
        sa.column("id", sa.BigInteger),
        sa.column("name", sa.String),
        sa.column("phones", sa.JSON),
        sa.column("emails", sa.JSON),
        sa.column("addresses", sa.JSON),
        sa.column("search_text", sa.Text),
    )


def _tokens():
    return sa.table("client_search_tokens", sa.column("token", sa.String), sa.column("client_id", sa.BigInteger))


def upgrade() -> None:
    op.create_table(
        "client_search_tokens",
        sa.Column("token", sa.String(length=16), nullable=False),
        sa.Column("client_id", storage.base.BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_client_search_tokens_client_id_clients"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("token", "client_id", name=op.f("pk_client_search_tokens")),
    )
    op.create_index("ix_client_search_tokens_client_id", "client_search_tokens", ["client_id"], unique=False)
    conn = op.get_bind()
    if conn.execute(sa.text("SELECT count(*) FROM clients")).scalar():
        _index_existing(conn)


def _index_existing(conn) -> None:
    from sqlalchemy.orm import Session

    from storage import crypto
    from storage.clients import search_text, search_tokens

    session = Session(bind=conn)
    index_key = crypto.index_key(session)
    ring = crypto.keyring()
    clients = _clients()
    keys = crypto.ClientKey.__table__
    last = 0
    while True:
        rows = conn.execute(
            sa.select(clients, keys.c.wrapped_key, keys.c.kek_id, keys.c.destroyed_at)
            .outerjoin(keys, keys.c.client_id == clients.c.id)
            .where(clients.c.id > last)
            .order_by(clients.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        last = rows[-1].id
        token_rows, texts = [], []
        for row in rows:
            texts.append({"client_id": row.id, "text": search_text(SimpleNamespace(name=row.name))})
            if row.wrapped_key is None or row.destroyed_at is not None:
                continue  # no key (destroyed): nothing to read, nothing to find it by
            key = ring.unwrap(row.wrapped_key, row.kek_id, crypto.client_key_aad(row.id), what=f"client {row.id}'s key")
            plain = {
                f: crypto.decrypt_value(key, getattr(row, f), crypto.value_aad("clients", row.id, f), what=f)
                if getattr(row, f) is not None
                else None
                for f in FIELDS
            }
            client = SimpleNamespace(**{f: plain[f] or [] for f in FIELDS})
            token_rows += [{"client_id": row.id, "token": t} for t in sorted(search_tokens(client, index_key))]
        conn.execute(
            clients.update().where(clients.c.id == sa.bindparam("client_id")).values(search_text=sa.bindparam("text")),
            texts,
        )
        if token_rows:
            conn.execute(sa.insert(_tokens()), token_rows)


def downgrade() -> None:
    conn = op.get_bind()
    clients, tokens = _clients(), _tokens()
    last = 0
    while True:
        rows = conn.execute(
            sa.select(clients.c.id, clients.c.search_text)
            .where(clients.c.id > last)
            .order_by(clients.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        last = rows[-1].id
        held: dict[int, list[str]] = {}
        for client_id, token in conn.execute(
            sa.select(tokens.c.client_id, tokens.c.token).where(tokens.c.client_id.in_([r.id for r in rows]))
        ):
            held.setdefault(client_id, []).append(token)
        texts = [
            {
                "client_id": r.id,
                "text": "\n".join(p for p in (r.search_text, " ".join(f"#{t}" for t in sorted(held[r.id]))) if p),
            }
            for r in rows
            if r.id in held
        ]
        if texts:
            conn.execute(
                clients.update()
                .where(clients.c.id == sa.bindparam("client_id"))
                .values(search_text=sa.bindparam("text")),
                texts,
            )
    op.drop_index("ix_client_search_tokens_client_id", table_name="client_search_tokens")
    op.drop_table("client_search_tokens")

"""search pages sorted from indexes: covering indexes of live clients, tokens that know their client's name

Revision ID: 0023
Revises: 0022

A page of a search is sorted by name from narrow index entries, not from client rows (~550 bytes,
most of them encrypted phones, emails and addresses):
- `client_search_tokens` gains its client's `name_key` and whether the client is `live` (not
  deleted), filled here from clients and kept in step by storage.clients; the index
  `ix_client_search_tokens_live_name` (token, name_key, client_id) of live rows answers a search by
  token alone (an email domain's 8,000 clients) with its count and its page in name order.
PostgreSQL only (SQLite reads its clients to search them anyway):
- `ix_clients_live_name`: live clients' (name_key, id) with their search text. A page of a broad
  search sorted by name walks it in order and tests each name on the index entry itself: '有限公司'
  (23,000 of 100,000 clients, all after the Latin names) was a walk of 50,000 client rows, 73 ms;
  in this index 420 pages, 7 ms.
- `ix_clients_live_id`: live clients' id with name_key: the matches of a name and a token together
  are checked live and sorted by name from it alone.
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "client_search_tokens", sa.Column("name_key", sa.String(length=300), server_default="", nullable=False)
    )
    op.add_column("client_search_tokens", sa.Column("live", sa.Boolean(), server_default=sa.true(), nullable=False))
    op.execute(
        "UPDATE client_search_tokens SET "
        "name_key = (SELECT name_key FROM clients WHERE clients.id = client_search_tokens.client_id), "
        "live = (SELECT deleted_at IS NULL FROM clients WHERE clients.id = client_search_tokens.client_id)"
    )
    live = sa.text("live")
    op.create_index(
        "ix_client_search_tokens_live_name",
        "client_search_tokens",
        ["token", "name_key", "client_id"],
        postgresql_where=live,
        sqlite_where=live,
    )
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE INDEX ix_clients_live_name ON clients (name_key, id) INCLUDE (search_text) WHERE deleted_at IS NULL"
    )
    op.execute("CREATE INDEX ix_clients_live_id ON clients (id) INCLUDE (name_key) WHERE deleted_at IS NULL")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_clients_live_id")
        op.execute("DROP INDEX IF EXISTS ix_clients_live_name")
    op.drop_index("ix_client_search_tokens_live_name", table_name="client_search_tokens")
    op.drop_column("client_search_tokens", "live")
    op.drop_column("client_search_tokens", "name_key")

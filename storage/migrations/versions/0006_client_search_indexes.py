"""client search: CJK 1- and 2-character grams, tag containment, live clients by owner and tier

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 03:20:00

Both backends: indexes of live (not deleted) clients by owner and by tier, so an account
manager's list and a tier filter count their matches from the index alone.

PostgreSQL only (SQLite searches with LIKE and json_each, no index):
- `atrium_cjk_grams(text)`: every 1- and 2-character piece of the Chinese, Japanese or Korean runs
  in a text, and a GIN index of it on `clients.search_text`. pg_trgm needs three characters, and
  Chinese names are often two ('张伟'): without this a 1- or 2-character query reads every client.
  Its character class matches `storage.clients.CJK_CHARACTERS`.
- a GIN index on `clients.tags` as jsonb, for `tag=` (`tags::jsonb @> '["vip"]'`).
- trigram and CJK gram indexes of knowledge-article titles: a search matches words (full-text
  index of 0004) or the query as typed inside a title, and without these the second half read
  every article, computing its text-search vector on the way.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

CJK_GRAMS_FUNCTION = r"""
CREATE FUNCTION atrium_cjk_grams(t text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT coalesce(array_agg(DISTINCT g.gram), '{}')
  FROM regexp_matches(t, '[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002fa1f]+',
                      'g') AS run(m),
       LATERAL generate_series(1, char_length(run.m[1])) AS i,
       LATERAL (VALUES (substr(run.m[1], i, 1)), (substr(run.m[1], i, 2))) AS g(gram)
$$
"""


def upgrade() -> None:
    live = sa.text("deleted_at IS NULL")
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.create_index("ix_clients_live_owner", ["owner"], postgresql_where=live, sqlite_where=live)
        batch_op.create_index("ix_clients_live_tier", ["tier"], postgresql_where=live, sqlite_where=live)
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(CJK_GRAMS_FUNCTION)
    op.execute("CREATE INDEX ix_clients_search_cjk ON clients USING gin (atrium_cjk_grams(search_text))")
    op.execute("CREATE INDEX ix_clients_tags ON clients USING gin ((tags::jsonb) jsonb_path_ops)")
    op.execute(
        "CREATE INDEX ix_knowledge_articles_title_trgm ON knowledge_articles "
        "USING gin (lower(title) public.gin_trgm_ops)"
    )
    op.execute(
        "CREATE INDEX ix_knowledge_articles_title_cjk ON knowledge_articles USING gin (atrium_cjk_grams(lower(title)))"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_knowledge_articles_title_cjk")
        op.execute("DROP INDEX IF EXISTS ix_knowledge_articles_title_trgm")
        op.execute("DROP INDEX IF EXISTS ix_clients_tags")
        op.execute("DROP INDEX IF EXISTS ix_clients_search_cjk")
        op.execute("DROP FUNCTION IF EXISTS atrium_cjk_grams(text)")
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_index("ix_clients_live_tier")
        batch_op.drop_index("ix_clients_live_owner")

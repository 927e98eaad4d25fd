"""translations of processes and forms; tasks' texts in every language and their search text

Revision ID: 0012
Revises: 0011

- `translations`: one row per translated process or form and locale (`processes/<id>.<locale>.json`,
  `forms/<form>.<locale>.json`), replaced when a deployment brings a changed file.
- `tasks.texts`: the task's name, subject and process name in every supported language, fixed
  when the task opened; `tasks.subject_search`: all of them normalised, what `GET /api/tasks?q=`
  searches. Tasks open before this revision are searched by their name.
- PostgreSQL: a trigram index and a CJK gram index (`atrium_cjk_grams`, 0006) on
  `subject_search`, as the client search has on `clients.search_text`.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "translations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("locale", sa.String(length=20), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("deployed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ux_translations_kind_name_locale", "translations", ["kind", "name", "locale"], unique=True)
    op.add_column("tasks", sa.Column("texts", sa.JSON(), nullable=True))
    op.add_column("tasks", sa.Column("subject_search", sa.Text(), nullable=True))
    op.execute("UPDATE tasks SET subject_search = lower(name)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_tasks_subject_search_trgm ON tasks USING gin (subject_search public.gin_trgm_ops)")
        op.execute("CREATE INDEX ix_tasks_subject_search_cjk ON tasks USING gin (atrium_cjk_grams(subject_search))")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_tasks_subject_search_cjk")
        op.execute("DROP INDEX IF EXISTS ix_tasks_subject_search_trgm")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("subject_search")
        batch.drop_column("texts")
    op.drop_index("ux_translations_kind_name_locale", table_name="translations")
    op.drop_table("translations")

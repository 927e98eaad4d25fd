"""tasks.excluded_users: separation of duties

Revision ID: 0011
Revises: 0010

The people who may not claim or complete a task (the requester of what it approves), evaluated
from the task's `excludedPerformer` property when it opens, so the inbox, claim, assign and
complete check it without loading the instance. Tasks open before this revision have none.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tasks", sa.Column("excluded_users", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("excluded_users")

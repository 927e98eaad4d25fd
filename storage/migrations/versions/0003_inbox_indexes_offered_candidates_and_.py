"""inbox indexes: offered candidates and open unclaimed tasks

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 18:55:43.318370
"""

import sqlalchemy as sa
from alembic import op

import storage.base

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:

    with op.batch_alter_table("task_candidates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("offered", sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column("due_at", storage.base.UTCDateTime(timezone=True), nullable=True))
    # Existing rows: offered means the task is still open and unclaimed; due_at is the task's.
    op.execute(
        "UPDATE task_candidates SET offered = EXISTS (SELECT 1 FROM tasks WHERE tasks.id = task_candidates.task_id"
        " AND tasks.status = 'open' AND tasks.assignee IS NULL),"
        " due_at = (SELECT due_at FROM tasks WHERE tasks.id = task_candidates.task_id)"
    )
    with op.batch_alter_table("task_candidates", schema=None) as batch_op:
        batch_op.create_index(
            "ix_task_candidates_offered",
            ["kind", "name", "due_at", "task_id"],
            unique=False,
            postgresql_where=sa.text("offered"),
            sqlite_where=sa.text("offered"),
        )

    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_tasks_offered_created",
            ["created_at", "id"],
            unique=False,
            postgresql_where=sa.text("status = 'open' AND assignee IS NULL"),
            sqlite_where=sa.text("status = 'open' AND assignee IS NULL"),
        )
        batch_op.create_index(
            "ix_tasks_offered_due",
            ["due_at", "id"],
            unique=False,
            postgresql_where=sa.text("status = 'open' AND assignee IS NULL"),
            sqlite_where=sa.text("status = 'open' AND assignee IS NULL"),
        )


def downgrade() -> None:

    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_tasks_offered_due",
            postgresql_where=sa.text("status = 'open' AND assignee IS NULL"),
            sqlite_where=sa.text("status = 'open' AND assignee IS NULL"),
        )
        batch_op.drop_index(
            "ix_tasks_offered_created",
            postgresql_where=sa.text("status = 'open' AND assignee IS NULL"),
            sqlite_where=sa.text("status = 'open' AND assignee IS NULL"),
        )

    with op.batch_alter_table("task_candidates", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_task_candidates_offered", postgresql_where=sa.text("offered"), sqlite_where=sa.text("offered")
        )
        batch_op.drop_column("due_at")
        batch_op.drop_column("offered")

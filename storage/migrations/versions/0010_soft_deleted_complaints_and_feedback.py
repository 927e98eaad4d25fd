"""soft-deleted complaints and feedback: deleted_at and deleted_by

Revision ID: 0010
Revises: 0009

Complaints and feedback are evidence of how the firm treated a client: deleting one hides it from
lists and statistics but keeps the row (and the audit trail keeps its content), so neither column
is ever cleared by the application.
"""

import sqlalchemy as sa
from alembic import op

import storage.base

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("complaints", "feedback"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("deleted_at", storage.base.UTCDateTime(timezone=True), nullable=True))
            batch_op.add_column(sa.Column("deleted_by", sa.String(100), nullable=True))


def downgrade() -> None:
    for table in ("feedback", "complaints"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("deleted_by")
            batch_op.drop_column("deleted_at")

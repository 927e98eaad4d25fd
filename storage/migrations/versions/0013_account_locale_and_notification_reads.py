"""accounts.locale; notifications.read_at, task_id and client_id

Revision ID: 0013
Revises: 0012

The web app remembers each person's language (null until they choose one: the browser's
Accept-Language decides until then). Notifications become a bell: read_at marks what the recipient
has seen, and task_id/client_id say what a notification is about (with instance_id) so it can link
there. Rows written before this revision link to their instance at most, and count as unread.
"""

import sqlalchemy as sa
from alembic import op

import storage.base

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locale", sa.String(10), nullable=True))
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("read_at", storage.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("task_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("client_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True))
    # The bell's count: one person's unread rows.
    op.create_index("ix_notifications_recipient_read_at", "notifications", ["recipient", "read_at"])


def downgrade() -> None:
    op.drop_index("ix_notifications_recipient_read_at", table_name="notifications")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_column("client_id")
        batch_op.drop_column("task_id")
        batch_op.drop_column("read_at")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("locale")

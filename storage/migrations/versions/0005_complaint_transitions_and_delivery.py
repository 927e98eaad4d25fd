"""complaint escalation and status transitions; notification delivery attempts

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

import storage.base

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("escalated_at", storage.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("escalated_to", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("transitions", sa.JSON(), nullable=True))
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("next_attempt_at", storage.base.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("attempts")
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.drop_column("transitions")
        batch_op.drop_column("escalated_to")
        batch_op.drop_column("escalated_at")

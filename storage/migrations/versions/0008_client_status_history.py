"""client status history: client_status_changes, backfilled with each client's current status

Revision ID: 0008
Revises: 0007

Client movements (new, became dormant, lost per month) need to know when a status changed;
`clients` keeps only the current one. Existing clients get one row, NULL -> their current status
at their created_at: when they really reached it is not known, so only later changes count as
movements. The (to_status, changed_at) index serves "who became X in this period".
"""

import sqlalchemy as sa
from alembic import op

import storage.base

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "client_status_changes",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("client_id", BIG_ID, nullable=False),
        sa.Column("from_status", sa.String(20), nullable=True),
        sa.Column("to_status", sa.String(20), nullable=False),
        sa.Column("changed_at", storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.String(100), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_client_status_changes_client_id_clients"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_status_changes")),
    )
    op.create_index(
        "ix_client_status_changes_to_status_changed_at", "client_status_changes", ["to_status", "changed_at"]
    )
    op.create_index("ix_client_status_changes_client_id", "client_status_changes", ["client_id"])
    op.execute(
        "INSERT INTO client_status_changes (client_id, from_status, to_status, changed_at, changed_by) "
        "SELECT id, NULL, status, created_at, created_by FROM clients ORDER BY id"
    )


def downgrade() -> None:
    op.drop_index("ix_client_status_changes_client_id", table_name="client_status_changes")
    op.drop_index("ix_client_status_changes_to_status_changed_at", table_name="client_status_changes")
    op.drop_table("client_status_changes")

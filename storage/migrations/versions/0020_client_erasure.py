"""clients.erased_at and erasures: destroying a client's personal data, with a certificate

Revision ID: 0020
Revises: 0019

`clients.erased_at` marks a client whose personal data was destroyed (its data key too): the row
stays, without name or contact data, so the figures about its cases stay right. `erasures` holds
each request to erase (who asked, why, who confirmed) and, once done, its certificate of destruction.
"""

import sqlalchemy as sa
from alembic import op

import storage.base

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("erased_at", storage.base.UTCDateTime(), nullable=True))
    op.create_table(
        "erasures",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("client_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(100), nullable=False),
        sa.Column("requested_at", storage.base.UTCDateTime(), nullable=False),
        sa.Column("confirmed_by", sa.String(100), nullable=True),
        sa.Column("completed_at", storage.base.UTCDateTime(), nullable=True),
        sa.Column("certificate", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name=op.f("fk_erasures_client_id_clients")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasures")),
    )
    with op.batch_alter_table("erasures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_erasures_client_id"), ["client_id"], unique=False)
        batch_op.create_index(
            "ix_erasures_open_client",
            ["client_id"],
            unique=True,
            postgresql_where=sa.text("status = 'requested'"),
            sqlite_where=sa.text("status = 'requested'"),
        )


def downgrade() -> None:
    op.drop_table("erasures")
    # Not batch mode: on SQLite that copies and drops `clients`, and the drop cascades to client_keys.
    op.drop_column("clients", "erased_at")

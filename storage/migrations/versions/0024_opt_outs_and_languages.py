"""opt-outs of surveys and care mail; the language of a client and of a contact

Revision ID: 0024
Revises: 0023

Surveys and greetings go to clients' contacts by mail: each is written in the contact's language (else
its client's, else the firm's default), and a contact or a whole client may opt out of either topic.
"""

import sqlalchemy as sa
from alembic import op

import storage.base

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Plain add_column: a batch (table copy) of `clients` on SQLite would cascade-delete its rows' children.
    op.add_column("clients", sa.Column("locale", sa.String(length=10), nullable=True))
    op.add_column("contacts", sa.Column("locale", sa.String(length=10), nullable=True))
    op.create_table(
        "opt_outs",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("client_id", BIG_ID, nullable=False),
        sa.Column("contact_id", BIG_ID, nullable=True),
        sa.Column("topic", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("opted_out_at", storage.base.UTCDateTime(), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_opt_outs_client_id_clients"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_opt_outs_contact_id_contacts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opt_outs")),
    )
    op.create_index("ix_opt_outs_client_topic", "opt_outs", ["client_id", "topic"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_opt_outs_client_topic", table_name="opt_outs")
    op.drop_table("opt_outs")
    op.drop_column("contacts", "locale")
    op.drop_column("clients", "locale")

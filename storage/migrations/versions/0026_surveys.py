"""surveys: the satisfaction surveys mailed to clients' contacts, with their personal links' token digests

Revision ID: 0026
Revises: 0025

A survey (atrium/surveys.py) is a form mailed to one contact with a signed, single-use, expiring link; the
table keeps only the SHA-256 digest of the link's random token, where the survey stands, and the feedback
row its answer became.
"""

import sqlalchemy as sa
from alembic import op

import storage.base

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "surveys",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("client_id", BIG_ID, nullable=False),
        sa.Column("contact_id", BIG_ID, nullable=True),
        sa.Column("subject_type", sa.String(length=20), nullable=True),
        sa.Column("subject_id", BIG_ID, nullable=True),
        sa.Column("form_key", sa.String(length=100), nullable=False),
        sa.Column("locale", sa.String(length=10), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("sent_at", storage.base.UTCDateTime(), nullable=False),
        sa.Column("expires_at", storage.base.UTCDateTime(), nullable=False),
        sa.Column("answered_at", storage.base.UTCDateTime(), nullable=True),
        sa.Column("reminded_at", storage.base.UTCDateTime(), nullable=True),
        sa.Column("instance_id", sa.Uuid(), nullable=True),
        sa.Column("feedback_id", BIG_ID, nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_surveys_client_id_clients"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_surveys_contact_id_contacts"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["feedback_id"], ["feedback.id"], name=op.f("fk_surveys_feedback_id_feedback"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_surveys")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_surveys_token_digest")),
    )
    op.create_index("ix_surveys_client_sent", "surveys", ["client_id", "sent_at"], unique=False)
    op.create_index("ix_surveys_subject", "surveys", ["subject_type", "subject_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_surveys_subject", table_name="surveys")
    op.drop_index("ix_surveys_client_sent", table_name="surveys")
    op.drop_table("surveys")

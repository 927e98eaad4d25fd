"""relationship care: care dates (Gregorian or lunar) and care activities

Revision ID: 0027
Revises: 0026

- `care_dates`: the yearly dates the firm remembers about a client or one of its contacts (birthday,
  founding or engagement anniversary, custom), each a month/day in the Gregorian or the Chinese lunar
  calendar; the `care` process computes each year's occasion from them.
- `care_activities`: what was done for an occasion (greeting mail, gift, call, skipped), by the owner's
  care task or a campaign; shown on the client's timeline.
"""

import sqlalchemy as sa
from alembic import op

import storage.base

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "care_dates",
        sa.Column("id", BigId, nullable=False),
        sa.Column("client_id", BigId, nullable=False),
        sa.Column("contact_id", BigId, nullable=True),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=True),
        sa.Column("calendar", sa.String(length=10), nullable=False),
        sa.Column("month", sa.SmallInteger(), nullable=False),
        sa.Column("day", sa.SmallInteger(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", storage.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", storage.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name=op.f("fk_care_dates_client_id_clients")),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_care_dates_contact_id_contacts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_dates")),
    )
    op.create_index("ix_care_dates_client", "care_dates", ["client_id"])
    op.create_table(
        "care_activities",
        sa.Column("id", BigId, nullable=False),
        sa.Column("client_id", BigId, nullable=False),
        sa.Column("contact_id", BigId, nullable=True),
        sa.Column("occasion", sa.String(length=60), nullable=False),
        sa.Column("occasion_key", sa.String(length=100), nullable=True),
        sa.Column("occasion_date", sa.String(length=10), nullable=True),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("mail_queued", sa.Boolean(), nullable=False),
        sa.Column("mail_skipped", sa.String(length=30), nullable=True),
        sa.Column("campaign", sa.String(length=100), nullable=True),
        sa.Column("instance_id", sa.Uuid(), nullable=True),
        sa.Column("done_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", storage.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name=op.f("fk_care_activities_client_id_clients")),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_care_activities_contact_id_contacts"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_activities")),
    )
    op.create_index("ix_care_activities_client", "care_activities", ["client_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_care_activities_client", table_name="care_activities")
    op.drop_table("care_activities")
    op.drop_index("ix_care_dates_client", table_name="care_dates")
    op.drop_table("care_dates")

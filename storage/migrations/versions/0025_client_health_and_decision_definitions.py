"""client health scores, their weekly snapshots, and deployed decision tables

Revision ID: 0025
Revises: 0024

- `decision_definitions`: each deployed DMN decision by id and version; the health score evaluates the
  newest `client_health` (engine/decision_tables.py), so the firm changes its weights by deploying.
- `client_health`: each scored client's score, band, the rules that fired and the signals they read.
- `client_health_snapshots`: a client's last score in each ISO week (its Monday), for movements.
"""

import sqlalchemy as sa
from alembic import op

import storage.base

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "decision_definitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("decision_key", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("source_name", sa.String(length=300), nullable=False),
        sa.Column("dmn_xml", sa.Text(), nullable=False),
        sa.Column("deployed_at", storage.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision_definitions")),
        sa.UniqueConstraint("decision_key", "version", name=op.f("uq_decision_definitions_decision_key")),
    )
    op.create_table(
        "client_health",
        sa.Column("client_id", BigId, nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("band", sa.String(length=10), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("signals", sa.JSON(), nullable=False),
        sa.Column("computed_at", storage.base.UTCDateTime(), nullable=False),
        sa.Column("table_version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_client_health_client_id_clients"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_client_health")),
    )
    op.create_index("ix_client_health_band_score", "client_health", ["band", "score"])
    op.create_table(
        "client_health_snapshots",
        sa.Column("client_id", BigId, nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("band", sa.String(length=10), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("computed_at", storage.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_client_health_snapshots_client_id_clients"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("client_id", "week", name=op.f("pk_client_health_snapshots")),
    )
    op.create_index("ix_client_health_snapshots_week_band", "client_health_snapshots", ["week", "band"])


def downgrade() -> None:
    op.drop_index("ix_client_health_snapshots_week_band", table_name="client_health_snapshots")
    op.drop_table("client_health_snapshots")
    op.drop_index("ix_client_health_band_score", table_name="client_health")
    op.drop_table("client_health")
    op.drop_table("decision_definitions")

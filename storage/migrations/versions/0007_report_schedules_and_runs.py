"""report schedules and report runs; notifications can carry a report run

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

import storage.base

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "report_schedules",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column("report", sa.String(100), nullable=False),
        sa.Column("cron", sa.String(100), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("period", sa.String(30), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("next_run_at", storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", storage.base.UTCDateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_report_schedules_due", "report_schedules", ["active", "next_run_at"])
    op.create_table(
        "report_runs",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column("schedule_id", BIG_ID, sa.ForeignKey("report_schedules.id", ondelete="SET NULL"), nullable=True),
        sa.Column("report", sa.String(100), nullable=False),
        sa.Column("period_from", sa.Date(), nullable=False),
        sa.Column("period_to", sa.Date(), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("requested_by", sa.String(100), nullable=False),
        sa.Column("scheduled_for", storage.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("retry_at", storage.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", storage.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", storage.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("pdf_size", sa.Integer(), nullable=True),
        sa.Column("pdf", sa.LargeBinary(), nullable=True),
        sa.UniqueConstraint("schedule_id", "scheduled_for", name="uq_report_runs_firing"),
    )
    op.create_index("ix_report_runs_status_retry", "report_runs", ["status", "retry_at"])
    op.create_index("ix_report_runs_created", "report_runs", ["created_at"])
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("report_run_id", BIG_ID, nullable=True))
        batch_op.create_foreign_key(
            "fk_notifications_report_run", "report_runs", ["report_run_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint("fk_notifications_report_run", type_="foreignkey")
        batch_op.drop_column("report_run_id")
    op.drop_index("ix_report_runs_created", table_name="report_runs")
    op.drop_index("ix_report_runs_status_retry", table_name="report_runs")
    op.drop_table("report_runs")
    op.drop_index("ix_report_schedules_due", table_name="report_schedules")
    op.drop_table("report_schedules")

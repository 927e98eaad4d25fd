"""complaints.acknowledge_due_at; service_requests.sla_due_times

Revision ID: 0014
Revises: 0013

A complaint's acknowledgement deadline and a service request's SLA due times are fixed when the record
is received and kept on it, so a later change of ATRIUM_COMPLAINT_ACKNOWLEDGE_HOURS or
ATRIUM_SERVICE_REQUEST_SLA applies to records received afterwards and never rewrites past SLA figures.
A request keeps one due time per priority (`{"urgent": ISO datetime, ...}`): triage picks the one of the
priority it decides. Existing rows get the values the settings in force at upgrade time give.
"""

from datetime import timedelta

import sqlalchemy as sa
from alembic import op

import storage.base

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from atrium.settings import Settings
    from engine.timers import after

    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("acknowledge_due_at", storage.base.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("service_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sla_due_times", sa.JSON(), nullable=True))

    settings = Settings.from_env()
    bind = op.get_bind()
    complaints = sa.table(
        "complaints",
        sa.column("id", sa.BigInteger()),
        sa.column("received_at", storage.base.UTCDateTime(timezone=True)),
        sa.column("acknowledge_due_at", storage.base.UTCDateTime(timezone=True)),
    )
    hours = timedelta(hours=settings.complaint_acknowledge_hours)
    for complaint_id, received_at in bind.execute(sa.select(complaints.c.id, complaints.c.received_at)).all():
        bind.execute(
            complaints.update().where(complaints.c.id == complaint_id).values(acknowledge_due_at=received_at + hours)
        )
    requests = sa.table(
        "service_requests",
        sa.column("id", sa.BigInteger()),
        sa.column("created_at", storage.base.UTCDateTime(timezone=True)),
        sa.column("sla_due_times", sa.JSON()),
    )
    for request_id, created_at in bind.execute(sa.select(requests.c.id, requests.c.created_at)).all():
        due = {
            priority: after(created_at, duration).isoformat()
            for priority, duration in settings.service_request_sla.items()
        }
        bind.execute(requests.update().where(requests.c.id == request_id).values(sla_due_times=due))


def downgrade() -> None:
    with op.batch_alter_table("service_requests", schema=None) as batch_op:
        batch_op.drop_column("sla_due_times")
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.drop_column("acknowledge_due_at")

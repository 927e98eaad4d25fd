"""core engine tables

Revision ID: 0001
Revises:
Create Date: 2026-11-24 18:05:52.321877
"""

import sqlalchemy as sa
from alembic import op

import storage.base

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "forms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("schema", sa.JSON(), nullable=False),
        sa.Column("ui_schema", sa.JSON(), nullable=True),
        sa.Column("deployed_at", storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forms")),
        sa.UniqueConstraint("name", "version", name=op.f("uq_forms_name")),
    )
    op.create_table(
        "process_definitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("process_key", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("source_name", sa.String(length=300), nullable=False),
        sa.Column("bpmn_xml", sa.Text(), nullable=False),
        sa.Column("spec_json", sa.Text(), nullable=False),
        sa.Column("start_events", sa.JSON(), nullable=False),
        sa.Column("form_ids", sa.JSON(), nullable=False),
        sa.Column("deployed_at", storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_process_definitions")),
        sa.UniqueConstraint("process_key", "version", name=op.f("uq_process_definitions_process_key")),
    )
    with op.batch_alter_table("process_definitions", schema=None) as batch_op:
        batch_op.create_index("ix_process_definitions_key_hash", ["process_key", "content_hash"], unique=False)

    op.create_table(
        "process_instances",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("definition_id", sa.Integer(), nullable=False),
        sa.Column("process_key", sa.String(length=200), nullable=False),
        sa.Column("business_key", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("state", sa.LargeBinary(), nullable=True),
        sa.Column("lock_version", sa.Integer(), nullable=False),
        sa.Column("started_by", sa.String(length=200), nullable=True),
        sa.Column("started_at", storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", storage.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["definition_id"],
            ["process_definitions.id"],
            name=op.f("fk_process_instances_definition_id_process_definitions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_process_instances")),
    )
    with op.batch_alter_table("process_instances", schema=None) as batch_op:
        batch_op.create_index("ix_process_instances_business_key", ["business_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_process_instances_definition_id"), ["definition_id"], unique=False)
        batch_op.create_index("ix_process_instances_key_status", ["process_key", "status"], unique=False)
        batch_op.create_index("ix_process_instances_status_started", ["status", "started_at"], unique=False)

    op.create_table(
        "history",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("instance_id", sa.Uuid(), nullable=False),
        sa.Column("element_id", sa.String(length=200), nullable=True),
        sa.Column("element_name", sa.String(length=300), nullable=True),
        sa.Column("element_type", sa.String(length=100), nullable=True),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=True),
        sa.Column("at", storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["process_instances.id"],
            name=op.f("fk_history_instance_id_process_instances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_history")),
    )
    with op.batch_alter_table("history", schema=None) as batch_op:
        batch_op.create_index("ix_history_instance_id", ["instance_id", "id"], unique=False)

    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Uuid(), nullable=False),
        sa.Column("element_id", sa.String(length=200), nullable=True),
        sa.Column("element_name", sa.String(length=300), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", storage.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["process_instances.id"],
            name=op.f("fk_incidents_instance_id_process_instances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.create_index("ix_incidents_instance_open", ["instance_id", "resolved_at"], unique=False)

    op.create_table(
        "message_subscriptions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("message_name", sa.String(length=200), nullable=False),
        sa.Column("instance_id", sa.Uuid(), nullable=True),
        sa.Column("definition_id", sa.Integer(), nullable=True),
        sa.Column("task_id", sa.Uuid(), nullable=True),
        sa.Column("element_id", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["definition_id"],
            ["process_definitions.id"],
            name=op.f("fk_message_subscriptions_definition_id_process_definitions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["process_instances.id"],
            name=op.f("fk_message_subscriptions_instance_id_process_instances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_subscriptions")),
    )
    with op.batch_alter_table("message_subscriptions", schema=None) as batch_op:
        batch_op.create_index("ix_message_subscriptions_instance", ["instance_id"], unique=False)
        batch_op.create_index("ix_message_subscriptions_name", ["message_name"], unique=False)

    op.create_table(
        "tasks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("instance_id", sa.Uuid(), nullable=False),
        sa.Column("process_key", sa.String(length=200), nullable=False),
        sa.Column("element_id", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("lane", sa.String(length=200), nullable=True),
        sa.Column("assignee", sa.String(length=200), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("due_at", storage.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("form_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("completed_at", storage.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_by", sa.String(length=200), nullable=True),
        sa.Column("properties", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["form_id"], ["forms.id"], name=op.f("fk_tasks_form_id_forms")),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["process_instances.id"],
            name=op.f("fk_tasks_instance_id_process_instances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
    )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index("ix_tasks_instance_status", ["instance_id", "status"], unique=False)
        batch_op.create_index("ix_tasks_status_assignee_due", ["status", "assignee", "due_at"], unique=False)
        batch_op.create_index("ix_tasks_status_due", ["status", "due_at"], unique=False)

    op.create_table(
        "timers",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("instance_id", sa.Uuid(), nullable=True),
        sa.Column("definition_id", sa.Integer(), nullable=True),
        sa.Column("task_id", sa.Uuid(), nullable=True),
        sa.Column("element_id", sa.String(length=200), nullable=False),
        sa.Column("due_at", storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cycle", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["definition_id"],
            ["process_definitions.id"],
            name=op.f("fk_timers_definition_id_process_definitions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["process_instances.id"],
            name=op.f("fk_timers_instance_id_process_instances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timers")),
    )
    with op.batch_alter_table("timers", schema=None) as batch_op:
        batch_op.create_index("ix_timers_due_at", ["due_at"], unique=False)
        batch_op.create_index("ix_timers_instance", ["instance_id"], unique=False)

    op.create_table(
        "task_candidates",
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_task_candidates_task_id_tasks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("task_id", "kind", "name", name=op.f("pk_task_candidates")),
    )
    with op.batch_alter_table("task_candidates", schema=None) as batch_op:
        batch_op.create_index("ix_task_candidates_kind_name", ["kind", "name", "task_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("task_candidates", schema=None) as batch_op:
        batch_op.drop_index("ix_task_candidates_kind_name")

    op.drop_table("task_candidates")
    with op.batch_alter_table("timers", schema=None) as batch_op:
        batch_op.drop_index("ix_timers_instance")
        batch_op.drop_index("ix_timers_due_at")

    op.drop_table("timers")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_status_due")
        batch_op.drop_index("ix_tasks_status_assignee_due")
        batch_op.drop_index("ix_tasks_instance_status")

    op.drop_table("tasks")
    with op.batch_alter_table("message_subscriptions", schema=None) as batch_op:
        batch_op.drop_index("ix_message_subscriptions_name")
        batch_op.drop_index("ix_message_subscriptions_instance")

    op.drop_table("message_subscriptions")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index("ix_incidents_instance_open")

    op.drop_table("incidents")
    with op.batch_alter_table("history", schema=None) as batch_op:
        batch_op.drop_index("ix_history_instance_id")

    op.drop_table("history")
    with op.batch_alter_table("process_instances", schema=None) as batch_op:
        batch_op.drop_index("ix_process_instances_status_started")
        batch_op.drop_index("ix_process_instances_key_status")
        batch_op.drop_index(batch_op.f("ix_process_instances_definition_id"))
        batch_op.drop_index("ix_process_instances_business_key")

    op.drop_table("process_instances")
    with op.batch_alter_table("process_definitions", schema=None) as batch_op:
        batch_op.drop_index("ix_process_definitions_key_hash")

    op.drop_table("process_definitions")
    op.drop_table("forms")

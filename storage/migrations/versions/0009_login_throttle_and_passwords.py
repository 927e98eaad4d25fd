"""login throttling and passwords: login_throttles; accounts.must_change_password and token_generation

Revision ID: 0009
Revises: 0008

Failed logins are counted per scope (username+address, username, address) in login_throttles instead
of in accounts.failed_logins/locked_until, whose hard lock anyone could trigger; each login locks its
scopes' rows before the password check, so parallel attempts cannot outrun the count. An admin's
password reset sets must_change_password; a password change or reset raises token_generation, which
every token carries, so all tokens issued before stop working.
"""

import sqlalchemy as sa
from alembic import op

import storage.base

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_throttles",
        sa.Column("scope_key", sa.String(200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("blocked_until", storage.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("scope_key", name=op.f("pk_login_throttles")),
    )
    op.create_index("ix_login_throttles_last_failure_at", "login_throttles", ["last_failure_at"])
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("token_generation", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("token_generation")
        batch_op.drop_column("must_change_password")
    op.drop_index("ix_login_throttles_last_failure_at", table_name="login_throttles")
    op.drop_table("login_throttles")

"""accounts: the second factor (TOTP secret, pending enrolment, last used time step, recovery code hashes)

Revision ID: 0016
Revises: 0014

A person may add a time-based one-time password (RFC 6238) to their account: `totp_pending_secret`
holds the secret between starting the enrolment and confirming it with a first code, `totp_secret`
the active one (null: no second factor). `totp_last_counter` is the time step of the last code
accepted, so a code cannot be used twice. `totp_recovery_hashes` are the argon2 hashes of the
single-use recovery codes not yet used. Existing accounts have no second factor.
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("totp_secret", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("totp_pending_secret", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("totp_last_counter", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("totp_recovery_hashes", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("totp_recovery_hashes")
        batch_op.drop_column("totp_last_counter")
        batch_op.drop_column("totp_pending_secret")
        batch_op.drop_column("totp_secret")

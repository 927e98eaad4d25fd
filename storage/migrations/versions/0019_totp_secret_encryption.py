"""accounts.totp_kek_id; TOTP secrets (active and pending) wrapped by the master key

Revision ID: 0019
Revises: 0018

An account's TOTP secret is what a code is checked against, so a copy of the database must not give it
away: `totp_secret` and `totp_pending_secret` now hold the secret wrapped (AES-GCM) by the master key,
with the account's id and the column as associated data, and `totp_kek_id` names the master key that
wrapped them, so `atrium keys rotate` re-wraps them with the clients' data keys. The columns widen to
hold the wrapped form. The upgrade needs the master key when an account has a secret; the downgrade
unwraps them with the same key.
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

SECRETS = ("totp_secret", "totp_pending_secret")


def _accounts():
    return sa.table(
        "accounts",
        sa.column("id", sa.Integer),
        sa.column("totp_secret", sa.String),
        sa.column("totp_pending_secret", sa.String),
        sa.column("totp_kek_id", sa.String),
    )


def _with_secrets(conn) -> list:
    accounts = _accounts()
    return conn.execute(
        sa.select(accounts)
        .where(sa.or_(accounts.c.totp_secret.is_not(None), accounts.c.totp_pending_secret.is_not(None)))
        .order_by(accounts.c.id)
    ).all()


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("totp_kek_id", sa.String(16), nullable=True))
        for name in SECRETS:
            batch_op.alter_column(name, existing_type=sa.String(64), type_=sa.String(200), existing_nullable=True)
    conn = op.get_bind()
    rows = _with_secrets(conn)
    if not rows:
        return  # nothing to wrap: no master key needed
    from storage import crypto
    from storage.accounts import totp_aad

    accounts = _accounts()
    for row in rows:
        values = {}
        for name in SECRETS:
            secret = getattr(row, name)
            values[name] = None
            if secret is not None:
                values[name], values["totp_kek_id"] = crypto.seal(secret, totp_aad(row.id, name))
        conn.execute(accounts.update().where(accounts.c.id == row.id).values(**values))


def downgrade() -> None:
    conn = op.get_bind()
    rows = _with_secrets(conn)
    if rows:
        from storage import crypto
        from storage.accounts import totp_aad

        accounts = _accounts()
        for row in rows:
            values = {
                name: None
                if getattr(row, name) is None
                else crypto.unseal(
                    getattr(row, name), row.totp_kek_id, totp_aad(row.id, name), what=f"account {row.id}'s {name}"
                )
                for name in SECRETS
            }
            conn.execute(accounts.update().where(accounts.c.id == row.id).values(**values))
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        for name in SECRETS:
            batch_op.alter_column(name, existing_type=sa.String(200), type_=sa.String(64), existing_nullable=True)
        batch_op.drop_column("totp_kek_id")

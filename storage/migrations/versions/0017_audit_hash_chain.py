"""audit_log.seq/prev_hash/hash, audit_chain_head, and the append-only trigger on PostgreSQL

Revision ID: 0017
Revises: 0016

The audit trail becomes a hash chain (atrium/audit_chain.py): existing rows are chained in id order here,
and the one-row head holds the last seq and hash. On PostgreSQL a trigger refuses UPDATE and DELETE on
audit_log, except chaining a row not yet chained (the committing writer's) and the retention purge, which
says so with `SET LOCAL atrium.audit_purge = 'on'`.
"""

import sqlalchemy as sa
from alembic import op

import storage.base

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
    IF current_setting('atrium.audit_purge', true) = 'on' THEN
        IF TG_OP = 'DELETE' THEN
            RETURN OLD;
        END IF;
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.seq IS NULL
        AND NEW.id = OLD.id
        AND NEW.at IS NOT DISTINCT FROM OLD.at
        AND NEW.actor IS NOT DISTINCT FROM OLD.actor
        AND NEW.action IS NOT DISTINCT FROM OLD.action
        AND NEW.target IS NOT DISTINCT FROM OLD.target
        AND NEW.outcome IS NOT DISTINCT FROM OLD.outcome
        AND NEW.client_address IS NOT DISTINCT FROM OLD.client_address
        AND NEW.request_id IS NOT DISTINCT FROM OLD.request_id
        AND NEW.detail::text IS NOT DISTINCT FROM OLD.detail::text THEN
        RETURN NEW;  -- the committing writer chaining its own row
    END IF;
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    from atrium.audit_chain import GENESIS, row_hash

    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_audit_log_seq", ["seq"], unique=True)
    head = op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    log = sa.table(
        "audit_log",
        sa.column("id", sa.BigInteger()),
        sa.column("at", storage.base.UTCDateTime(timezone=True)),
        *(sa.column(name, sa.String()) for name in ("actor", "action", "target", "outcome")),
        *(sa.column(name, sa.String()) for name in ("client_address", "request_id")),
        sa.column("detail", sa.JSON()),
        sa.column("seq", sa.BigInteger()),
        sa.column("prev_hash", sa.String()),
        sa.column("hash", sa.String()),
    )
    bind = op.get_bind()
    seq, prev = 0, GENESIS
    fields = ("id", "at", "actor", "action", "target", "outcome", "client_address", "request_id", "detail")
    for row in bind.execute(sa.select(*(log.c[name] for name in fields)).order_by(log.c.id)).all():
        seq += 1
        digest = row_hash(seq, prev, row._asdict())
        bind.execute(log.update().where(log.c.id == row.id).values(seq=seq, prev_hash=prev, hash=digest))
        prev = digest
    bind.execute(head.insert().values(id=1, seq=seq, hash=prev))
    if bind.dialect.name == "postgresql":
        op.execute(_FUNCTION)
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    op.drop_table("audit_chain_head")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_seq")
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("seq")

"""The tamper-evident audit trail: a hash chain over the audit rows, its verification, and the retention
purge that anchors the chain with a signed checkpoint.

Each row carries a gapless sequence number, the previous row's hash and its own: SHA-256 over a canonical
encoding of its fields, its seq and the previous hash. `atrium.audit.record` inserts a row unchained; when
the transaction commits, `chain_pending` locks the one-row `audit_chain_head` (SELECT ... FOR UPDATE on
PostgreSQL; SQLite serialises writers anyway) and gives the transaction's rows seq = head + 1, ... So
concurrent writers queue only at their commit, never while holding the head and waiting on another lock,
and the seqs of committed rows are 1..N without gaps.

On PostgreSQL a trigger (migration 0017) refuses UPDATE and DELETE on `audit_log`, except the one update
that chains a row of the committing transaction and the retention purge (`SET LOCAL atrium.audit_purge`).
`verify` walks the chain and names the first row that was altered, deleted or inserted out of order."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import bindparam, delete, insert, select, text, update
from sqlalchemy.orm import Session

from atrium import clock
from storage.audit import AuditChainHead, AuditEntry

log = logging.getLogger(__name__)

GENESIS = "0" * 64  # the previous hash of the first row
CHECKPOINT = "audit.checkpoint"  # the row a retention purge writes: it anchors the chain after the gap
_HEAD = AuditChainHead.__table__
_LOG = AuditEntry.__table__
_FIELDS = ("at", "actor", "action", "target", "outcome", "client_address", "request_id", "detail")
PENDING_IDS = "atrium.audit.unchained"  # session.info: ids of rows this transaction recorded


def _canonical_at(at: datetime | None) -> str | None:
    if at is None:
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    return at.astimezone(timezone.utc).isoformat()


def row_hash(seq: int, prev_hash: str, fields: dict) -> str:
    """SHA-256 (hex) over a canonical JSON encoding of the row's fields, its seq and the previous hash."""
    payload = {name: fields.get(name) for name in _FIELDS}
    payload["at"] = _canonical_at(payload["at"])
    payload["seq"] = seq
    payload["prev_hash"] = prev_hash
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()


def sign(secret_key: str, seq: int, hash_: str) -> str:
    """The HMAC-SHA256 of a checkpoint: it vouches that the chain before the purge ended at (seq, hash)."""
    return hmac.new(secret_key.encode(), f"{seq}:{hash_}".encode(), hashlib.sha256).hexdigest()


# Writing ---------------------------------------------------------------------------------------------
def _lock_head(session: Session) -> tuple[int, str]:
    locked = select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1).with_for_update()
    head = session.execute(locked).first()
    if head is None:  # a database emptied by hand: start from the last chained row, if any
        last = session.execute(
            select(_LOG.c.seq, _LOG.c.hash).where(_LOG.c.seq.is_not(None)).order_by(_LOG.c.seq.desc()).limit(1)
        ).first()
        values = {"id": 1, "seq": last.seq if last else 0, "hash": last.hash if last else GENESIS}
        if session.get_bind().dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            session.execute(pg_insert(_HEAD).values(**values).on_conflict_do_nothing())
        else:
            session.execute(insert(_HEAD).values(**values).prefix_with("OR IGNORE"))
        head = session.execute(locked).first()
    return head.seq, head.hash


_LINK = (
    update(_LOG)
    .where(_LOG.c.id == bindparam("row_id"))
    .values(seq=bindparam("link_seq"), prev_hash=bindparam("link_prev"), hash=bindparam("link_hash"))
)


def chain_pending(session: Session) -> None:
    """Give the rows this transaction recorded their seq, previous hash and hash, under the head's lock."""
    ids = session.info.pop(PENDING_IDS, None)
    if not ids:
        return
    rows = session.execute(
        select(_LOG.c.id, *(_LOG.c[name] for name in _FIELDS))
        .where(_LOG.c.id.in_(ids), _LOG.c.seq.is_(None))  # a rolled-back savepoint's rows are gone
        .order_by(_LOG.c.id)
    ).all()
    if not rows:
        return
    seq, prev = _lock_head(session)
    links = []
    for row in rows:
        seq += 1
        digest = row_hash(seq, prev, row._asdict())
        links.append({"row_id": row.id, "link_seq": seq, "link_prev": prev, "link_hash": digest})
        prev = digest
    session.execute(_LINK, links)  # one executemany: a big import's rows hold the head briefly
    session.execute(update(_HEAD).where(_HEAD.c.id == 1).values(seq=seq, hash=prev))


# Verifying -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Break:
    """Where the chain breaks: `seq` (and `row_id` when the row exists), `kind` one of altered, deleted,
    out_of_order, unchained, checkpoint; `message` for people."""

    kind: str
    seq: int | None
    row_id: int | None
    message: str


@dataclass(frozen=True)
class VerifyResult:
    rows: int  # rows checked
    first_seq: int | None
    last_seq: int | None
    checkpoint_seq: int | None  # the purge checkpoint the walk started from, if any
    broken: Break | None

    @property
    def ok(self) -> bool:
        return self.broken is None

    def summary(self) -> str:
        if self.broken is not None:
            return f"audit chain BROKEN: {self.broken.message}"
        if not self.rows:
            return "audit chain intact: no rows"
        anchor = f", from the checkpoint of seq {self.checkpoint_seq}" if self.checkpoint_seq else ""
        return f"audit chain intact: {self.rows} rows, seq {self.first_seq} to {self.last_seq}{anchor}"


def _start(session: Session, first, secret_key: str | None):
    """(previous hash, checkpoint seq, break) for a chain whose first remaining row is `first`."""
    if first.seq == 1:
        return GENESIS, None, None
    checkpoint = session.execute(
        select(_LOG.c.id, _LOG.c.seq, _LOG.c.detail)
        .where(_LOG.c.action == CHECKPOINT, _LOG.c.seq.is_not(None))
        .order_by(_LOG.c.seq.desc())
        .limit(1)
    ).first()
    missing = Break("deleted", 1, None, f"rows before seq {first.seq} (row id {first.id}) are missing: deleted")
    if checkpoint is None:
        return None, None, missing
    detail = checkpoint.detail or {}
    through, purged_hash = detail.get("purged_through"), detail.get("purged_hash")
    if secret_key is None:
        return (
            None,
            None,
            Break("checkpoint", checkpoint.seq, checkpoint.id, "the checkpoint's signature needs the secret key"),
        )
    if not hmac.compare_digest(sign(secret_key, through or 0, purged_hash or ""), str(detail.get("signature"))):
        return (
            None,
            None,
            Break(
                "checkpoint",
                checkpoint.seq,
                checkpoint.id,
                f"checkpoint seq {checkpoint.seq}: signature does not match",
            ),
        )
    if through != first.seq - 1:
        return (
            None,
            None,
            Break(
                "deleted",
                (through or 0) + 1,
                None,
                f"rows seq {(through or 0) + 1} to {first.seq - 1} are missing: deleted "
                f"(the checkpoint seq {checkpoint.seq} purged through seq {through})",
            ),
        )
    return purged_hash, checkpoint.seq, None


def _head(session: Session):
    return session.execute(select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1)).first()


def verify(session: Session, *, secret_key: str | None = None) -> VerifyResult:
    """Walk the chain in seq order and name the first row that was altered, deleted or inserted out of
    order. A chain whose start was purged is checked from the latest checkpoint, whose signature needs
    `secret_key` (settings.signing_key()). Safe while others write: it checks the rows up to the head it
    reads first (all committed before it), and a row beyond the head read last is one written directly."""
    head = _head(session)
    unchained = session.execute(select(_LOG.c.id).where(_LOG.c.seq.is_(None)).order_by(_LOG.c.id).limit(1)).first()
    columns = (_LOG.c.id, _LOG.c.seq, _LOG.c.prev_hash, _LOG.c.hash, *(_LOG.c[name] for name in _FIELDS))
    walk = select(*columns).where(_LOG.c.seq.is_not(None)).order_by(_LOG.c.seq)
    if head is not None:
        walk = walk.where(_LOG.c.seq <= head.seq)
    checked, first_seq, last_seq, checkpoint_seq, prev, expected = 0, None, None, None, None, None

    def result(broken):
        return VerifyResult(checked, first_seq, last_seq, checkpoint_seq, broken)

    for row in session.execute(walk.execution_options(yield_per=1000)):
        if expected is None:
            first_seq = row.seq
            prev, checkpoint_seq, broken = _start(session, row, secret_key)
            if broken:
                return result(broken)
            expected = row.seq
        if row.seq != expected:
            return result(
                Break(
                    "deleted",
                    expected,
                    None,
                    f"row seq {expected} is missing: deleted (the chain resumes at seq {row.seq}, row id {row.id})",
                )
            )
        if row.prev_hash != prev:
            return result(
                Break(
                    "out_of_order",
                    row.seq,
                    row.id,
                    f"row seq {row.seq} (id {row.id}) does not link to seq {row.seq - 1}: "
                    "inserted out of order, or the row before it was rewritten",
                )
            )
        if row_hash(row.seq, row.prev_hash, row._asdict()) != row.hash:
            return result(Break("altered", row.seq, row.id, f"row seq {row.seq} (id {row.id}) was altered"))
        checked, last_seq, prev, expected = checked + 1, row.seq, row.hash, expected + 1
    if unchained is not None:
        return result(
            Break("unchained", None, unchained.id, f"row id {unchained.id} is outside the chain: inserted directly")
        )
    if head is not None and head.seq > (last_seq or 0):
        return result(
            Break("deleted", (last_seq or 0) + 1, None, f"rows after seq {last_seq} up to seq {head.seq} are missing")
        )
    if head is not None and last_seq is not None and head.hash != prev:
        return result(Break("altered", last_seq, None, f"row seq {last_seq} was rewritten (the chain head differs)"))
    if head is None:
        if last_seq is None:
            return result(None)
        return result(Break("deleted", None, None, "the chain head (audit_chain_head) is missing"))
    beyond = select(_LOG.c.id, _LOG.c.seq).where(_LOG.c.seq > head.seq).order_by(_LOG.c.seq)
    beyond = session.execute(beyond.limit(1)).first()
    latest = _head(session)  # read after: a row committed by the writer is within the head it committed
    if beyond is not None and beyond.seq > (latest.seq if latest else 0):
        return result(
            Break(
                "out_of_order",
                beyond.seq,
                beyond.id,
                f"row seq {beyond.seq} (id {beyond.id}) is beyond the chain head (seq {latest.seq if latest else 0}): "
                "inserted directly",
            )
        )
    return result(None)


# Retention -------------------------------------------------------------------------------------------
def purge(session: Session, *, retention_days: int, secret_key: str, actor: str) -> int:
    """Delete the rows older than `retention_days` (through the last chained row recorded before the
    cutoff) and write a checkpoint row signed with `secret_key` over the last purged row's seq and hash,
    so `verify` starts from it. Returns the number of rows deleted."""
    from atrium import audit

    cutoff = clock.now() - timedelta(days=retention_days)
    last = session.execute(
        select(_LOG.c.seq, _LOG.c.hash)
        .where(_LOG.c.at < cutoff, _LOG.c.seq.is_not(None))
        .order_by(_LOG.c.seq.desc())
        .limit(1)
    ).first()
    if last is None:
        return 0
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:  # the one deliberate way past the append-only trigger, for this transaction only
        session.execute(text("SET LOCAL atrium.audit_purge = 'on'"))
    deleted = session.execute(delete(_LOG).where(_LOG.c.seq <= last.seq)).rowcount
    if postgres:
        session.execute(text("SET LOCAL atrium.audit_purge = 'off'"))
    audit.record(
        session,
        CHECKPOINT,
        actor=actor,
        target="audit",
        detail={
            "purged_through": last.seq,
            "purged_hash": last.hash,
            "purged_rows": deleted,
            "cutoff": cutoff.isoformat(),
            "signature": sign(secret_key, last.seq, last.hash),
        },
    )
    return deleted


# The scheduler's daily check -------------------------------------------------------------------------
VERIFY = "audit.verify"
_CHECK_LOCK = 0x41756469  # pg advisory lock key: one worker process runs the daily check at a time


def _claim_today(session: Session, actor: str) -> bool:
    """Whether this process should run today's check: no other is running it, and none has today."""
    if session.get_bind().dialect.name == "postgresql":
        if not session.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _CHECK_LOCK}).scalar():
            return False
    today = clock.now().replace(hour=0, minute=0, second=0, microsecond=0)
    done = select(_LOG.c.id).where(_LOG.c.action == VERIFY, _LOG.c.actor == actor, _LOG.c.at >= today).limit(1)
    return session.execute(done).first() is None


def daily_check(engine) -> VerifyResult | None:
    """The scheduler's job (it polls hourly; the check runs once a UTC day, in one worker process): verify
    the chain and audit the outcome as `audit.verify`; on a break notify every active admin and purge
    nothing; otherwise purge rows older than ATRIUM_AUDIT_RETENTION_DAYS, if set. Returns the result, or
    None when today's check was already made (or failed: it is logged and tried at the next poll)."""
    from atrium import audit, notifications
    from storage.accounts import active_usernames_with_role

    settings = engine.settings
    try:
        with engine.transaction() as session:
            if not _claim_today(session, audit.SCHEDULER):
                return None
            result = verify(session, secret_key=settings.signing_key())
            broken = result.broken
            audit.record(
                session,
                VERIFY,
                actor=audit.SCHEDULER,
                target="audit",
                outcome="success" if result.ok else "failed",
                detail={
                    "rows": result.rows,
                    "last_seq": result.last_seq,
                    "break": None
                    if broken is None
                    else {"kind": broken.kind, "seq": broken.seq, "row_id": broken.row_id},
                },
            )
            if broken is not None:
                for admin in active_usernames_with_role(session, role="admin"):
                    notifications.queue(
                        session,
                        kind="audit_chain_broken",
                        recipient=admin,
                        subject="notification.audit_chain_broken.subject",
                        body="notification.audit_chain_broken.body",
                        params={"message": broken.message},
                        actor=audit.SCHEDULER,
                    )
            elif settings.audit_retention_days:
                purge(
                    session,
                    retention_days=settings.audit_retention_days,
                    secret_key=settings.signing_key(),
                    actor=audit.SCHEDULER,
                )
        return result
    except Exception:  # a database outage must not kill the scheduler thread; the next poll tries again
        log.exception("the audit chain check failed")
        return None

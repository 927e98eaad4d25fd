"""The notification outbox: every message the firm's people are sent, kept whether or not it was mailed."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, Uuid, func, insert, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from .accounts import Account
from .base import Base, BigId, UTCDateTime
from .employees import Employee

QUEUED, SENT, FAILED = "queued", "sent", "failed"


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_recipient_created", "recipient", "created_at"),
        Index("ix_notifications_status", "status"),
        Index("ix_notifications_recipient_read_at", "recipient", "read_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(50))  # task_assigned, escalation, outcome, report
    recipient: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    # queued: kept in the outbox, mailed once SMTP is configured; sent; failed (error says why).
    status: Mapped[str] = mapped_column(String(10), default=QUEUED)
    error: Mapped[str | None] = mapped_column(Text)
    # Mailing attempts so far; a queued row with attempts > 0 failed before and waits for next_attempt_at.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    instance_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # What the notification is about, for its link in the web app's bell (see `link_of`): the task it
    # hands over, or the client whose record it concerns. Pointers only, no foreign keys: a notification
    # outlives what it names, and a link to something gone is a plain 404.
    task_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    client_id: Mapped[int | None] = mapped_column(BigId)
    # A scheduled report's run: its PDF is attached when mailed.
    report_run_id: Mapped[int | None] = mapped_column(ForeignKey("report_runs.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the recipient marked it read in the web app; None: unread.
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def add_notification(
    session: Session,
    *,
    kind: str,
    recipient: str | None,
    subject: str,
    body: str,
    now: datetime,
    email: str | None = None,
    instance_id: uuid.UUID | None = None,
    client_id: int | None = None,
    report_run_id: int | None = None,
) -> Notification:
    """Put a message in the outbox, in the caller's transaction: it exists only if the change does.
    `client_id` names the client whose record it is about (its link then goes to the client)."""
    if email is None and recipient:
        email = session.scalar(select(Account.email).where(Account.username == recipient))
    note = Notification(
        kind=kind,
        recipient=recipient,
        email=email,
        subject=subject[:300],
        body=body,
        status=QUEUED,
        instance_id=instance_id,
        client_id=client_id,
        report_run_id=report_run_id,
        created_at=now,
    )
    session.add(note)
    return note


def task_assigned_row(
    *, task_id: uuid.UUID, task_name: str, process_key: str, instance_id: uuid.UUID, assignee: str, now: datetime
) -> dict:
    """The outbox row telling `assignee` a task is theirs; the engine bulk-inserts these with a step's
    rows and the inbox's assign writes one, so the message is worded here only. The address is left
    for the mailer to look up, which keeps the engine step free of extra reads."""
    return {
        "kind": "task_assigned",
        "recipient": assignee,
        "email": None,
        "subject": f"Task assigned to you: {task_name}"[:300],
        "body": f'The task "{task_name}" of process {process_key} is assigned to you.\n'
        f"Open it in Atrium: /api/tasks/{task_id}",
        "status": QUEUED,
        "error": None,
        "attempts": 0,
        "next_attempt_at": None,
        "instance_id": instance_id,
        "task_id": task_id,
        "created_at": now,
        "sent_at": None,
    }


def add_notification_rows(session: Session, rows: list[dict]) -> None:
    """Several outbox rows in one statement."""
    if rows:
        session.execute(insert(Notification.__table__), rows)


def claim_sendable(session: Session, *, now: datetime, limit: int) -> list:
    """Lock up to `limit` queued rows whose (next) attempt is due; other workers skip the locked
    rows (PostgreSQL; SQLite serialises writers), so no row is mailed by two workers at once."""
    table = Notification.__table__
    query = (
        select(table)
        .where(table.c.status == QUEUED, or_(table.c.next_attempt_at.is_(None), table.c.next_attempt_at <= now))
        .order_by(table.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.execute(query))


def addresses_of(session: Session, *, usernames: set[str]) -> dict[str, str]:
    """username -> email, from the account, else the employee record."""
    found: dict[str, str] = {}
    if not usernames:
        return found
    for username, email in session.execute(
        select(Employee.username, Employee.email).where(Employee.username.in_(usernames), Employee.email.is_not(None))
    ):
        found[username] = email
    for username, email in session.execute(
        select(Account.username, Account.email).where(Account.username.in_(usernames), Account.email.is_not(None))
    ):
        found[username] = email
    return found


def mark_sent(session: Session, *, notification_id: int, email: str, now: datetime) -> None:
    session.execute(
        update(Notification.__table__)
        .where(Notification.__table__.c.id == notification_id)
        .values(
            status=SENT,
            email=email,
            sent_at=now,
            error=None,
            attempts=Notification.__table__.c.attempts + 1,
            next_attempt_at=None,
        )
    )


def mark_attempt_failed(
    session: Session, *, notification_id: int, attempts: int, error: str, retry_at: datetime | None
) -> None:
    """Record a failed attempt: queued again for `retry_at`, or `failed` for good when None."""
    session.execute(
        update(Notification.__table__)
        .where(Notification.__table__.c.id == notification_id)
        .values(
            status=QUEUED if retry_at is not None else FAILED,
            error=error[:2000],
            attempts=attempts,
            next_attempt_at=retry_at,
        )
    )


def link_of(note) -> dict | None:
    """Where a notification leads in the web app: its task, else the client it concerns, else its
    instance; None when it names none of them (a scheduled report)."""
    if note.task_id is not None:
        return {"kind": "task", "id": str(note.task_id)}
    if note.client_id is not None:
        return {"kind": "client", "id": note.client_id}
    if note.instance_id is not None:
        return {"kind": "instance", "id": str(note.instance_id)}
    return None


def _own(recipient: str, *, unread: bool = False) -> list:
    conditions = [Notification.recipient == recipient]
    if unread:
        conditions.append(Notification.read_at.is_(None))
    return conditions


def own_notifications_queries(*, recipient: str, unread: bool):
    """(rows, count) queries for one person's notifications, newest first; only unread ones if `unread`."""
    conditions = _own(recipient, unread=unread)
    return (
        select(Notification).where(*conditions).order_by(Notification.id.desc()),
        select(func.count()).select_from(Notification).where(*conditions),
    )


def unread_count(session: Session, *, recipient: str) -> int:
    return session.scalar(select(func.count()).select_from(Notification).where(*_own(recipient, unread=True)))


def own_notification(session: Session, *, recipient: str, notification_id: int) -> Notification | None:
    """The notification if it is `recipient`'s; None for anyone else's, as for one that does not exist."""
    return session.scalars(select(Notification).where(Notification.id == notification_id, *_own(recipient))).first()


def mark_all_read(session: Session, *, recipient: str, now: datetime) -> int:
    """Mark every unread notification of `recipient` read; returns how many were."""
    table = Notification.__table__
    result = session.execute(
        update(table).where(table.c.recipient == recipient, table.c.read_at.is_(None)).values(read_at=now)
    )
    return result.rowcount

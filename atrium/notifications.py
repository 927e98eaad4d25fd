"""Notifications: queueing a message for one of the firm's people, and a person marking theirs read. Each
change is audited here, in the caller's transaction. (The engine's bulk `task_assigned` rows are written
with the step that opens the task.)"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from atrium import audit, clock, i18n
from atrium.errors import NotFound
from storage import notifications as store
from storage.accounts import Account
from storage.notifications import Notification


def queue(
    session: Session,
    *,
    kind: str,
    recipient: str | None,
    subject: str,
    body: str,
    actor: str | None,
    email: str | None = None,
    instance_id: uuid.UUID | None = None,
    client_id: int | None = None,
    report_run_id: int | None = None,
    params: dict | None = None,
    locale: str | None = None,
) -> Notification:
    """Put a message in the outbox (mailed once SMTP is configured) and audit it as `notification.queue`;
    `actor` is whoever caused it. The row exists only if the caller's change commits.

    With `params`, `subject` and `body` are catalogue keys (atrium/locales), written here in the recipient's
    language (their account's locale; English for an address alone) with those parameters. `locale` writes
    them in that language instead: mail to a client's contact (atrium.opt_outs.mail_locale), who has no account."""
    if params is not None:
        locale = locale if locale in i18n.SUPPORTED else _locale_of(session, recipient)
        subject = i18n.translate(subject, locale, **params)
        body = i18n.translate(body, locale, **params)
    note = store.add_notification(
        session,
        kind=kind,
        recipient=recipient,
        subject=subject,
        body=body,
        now=clock.now(),
        email=email,
        instance_id=instance_id,
        client_id=client_id,
        report_run_id=report_run_id,
    )
    session.flush()
    audit.record(
        session,
        "notification.queue",
        actor=actor,
        target=f"notification:{note.id}",
        detail={
            "kind": kind,
            "recipient": recipient,
            "client_id": client_id,
            "instance_id": str(instance_id) if instance_id else None,
        },
    )
    return note


def _locale_of(session: Session, username: str | None) -> str:
    found = session.scalar(select(Account.locale).where(Account.username == username)) if username else None
    return found if found in i18n.SUPPORTED else i18n.DEFAULT


def mark_read(session: Session, *, recipient: str, notification_id: int) -> Notification:
    """Mark one of `recipient`'s notifications read (again: it keeps when it was first read); someone
    else's is NotFound, as one that does not exist."""
    note = store.own_notification(session, recipient=recipient, notification_id=notification_id)
    if note is None:
        raise NotFound(f"you have no notification {notification_id}")
    if note.read_at is None:
        note.read_at = clock.now()
        audit.record(
            session, "notification.read", actor=recipient, target=f"notification:{note.id}", detail={"kind": note.kind}
        )
    return note


def mark_all_read(session: Session, *, recipient: str) -> int:
    """Mark every unread notification of `recipient` read; returns how many were."""
    count = store.mark_all_read(session, recipient=recipient, now=clock.now())
    if count:
        audit.record(
            session, "notification.read_all", actor=recipient, target=f"account:{recipient}", detail={"count": count}
        )
    return count

"""A person marking their own notifications read: the bell's state, audited like any other change
(`notification.read`, `notification.read_all`). Marking again what is already read changes nothing
and writes no row."""
from __future__ import annotations

from sqlalchemy.orm import Session

from atrium import audit, clock
from atrium.errors import NotFound
from storage.notifications import Notification, mark_all_read, own_notification


def mark_read(session: Session, *, recipient: str, notification_id: int) -> Notification:
    """One of `recipient`'s notifications, read (it keeps when it was first read); NotFound for anyone else's."""
    note = own_notification(session, recipient=recipient, notification_id=notification_id)
    if note is None:
        raise NotFound(f"you have no notification {notification_id}")
    if note.read_at is None:
        note.read_at = clock.now()
        audit.record(session, "notification.read", actor=recipient, target=f"notification:{note.id}",
                     detail={"kind": note.kind})
    return note


def mark_all_of(session: Session, *, recipient: str) -> int:
    """Every unread notification of `recipient`, read; returns how many were."""
    count = mark_all_read(session, recipient=recipient, now=clock.now())
    if count:
        audit.record(session, "notification.read_all", actor=recipient, target=f"account:{recipient}",
                     detail={"count": count})
    return count

"""Whom an escalation goes to, and telling them: a person's manager (their employee row's `manager`),
or every active manager account when the person has none."""
from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from atrium import clock
from storage.accounts import Account
from storage.employees import Employee
from storage.notifications import add_notification


def manager_of(session: Session, username: str | None) -> str | None:
    """The username of `username`'s manager, if their employee row names an active account."""
    if not username:
        return None
    manager = session.scalar(select(Employee.manager).where(Employee.username == username, Employee.active.is_(True)))
    if not manager:
        return None
    active = session.scalar(select(Account.active).where(Account.username == manager))
    return manager if active else None


def manager_accounts(session: Session) -> list[str]:
    """Every active account with the manager role (the `manager` group), by username."""
    rows = session.execute(select(Account.username, Account.roles).where(Account.active.is_(True))
                           .order_by(Account.username))
    return [username for username, roles in rows if "manager" in (roles or [])]


def escalate(session: Session, *, about: str | None, subject: str, body: str, instance_id: uuid.UUID | None,
             client_id: int | None = None) -> tuple[str | None, list[str]]:
    """Notify `about`'s manager, or the manager group when there is none; returns (the manager or None,
    everyone notified). The notifications are written in the caller's transaction; `client_id` names
    the client they concern."""
    manager = manager_of(session, about)
    recipients = [manager] if manager else manager_accounts(session)
    now = clock.now()
    for recipient in recipients:
        add_notification(session, kind="escalation", recipient=recipient, subject=subject, body=body, now=now,
                         instance_id=instance_id, client_id=client_id)
    return manager, recipients

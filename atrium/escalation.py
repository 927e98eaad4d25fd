"""Whom an escalation goes to, and telling them. The one rule: a person's manager is the `manager` named on
their active employee row, if that is an active account; without one, every active manager account is told,
and without any manager, every active admin (an escalation never goes nowhere). Complaints, service
requests and follow-ups all escalate through here, and the complaint process's approver is `manager_of`."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from atrium import notifications
from storage.accounts import Account, active_usernames_with_role
from storage.employees import Employee


def manager_of(session: Session, username: str | None) -> str | None:
    """The username of `username`'s manager, if their active employee row names an active account."""
    if not username:
        return None
    manager = session.scalar(select(Employee.manager).where(Employee.username == username, Employee.active.is_(True)))
    if not manager:
        return None
    active = session.scalar(select(Account.active).where(Account.username == manager))
    return manager if active else None


def manager_accounts(session: Session) -> list[str]:
    """Every active account with the manager role, by username."""
    return active_usernames_with_role(session, role="manager")


def recipients(session: Session, about: str | None) -> tuple[str | None, list[str]]:
    """(`about`'s manager or None, who an escalation about them goes to)."""
    manager = manager_of(session, about)
    if manager:
        return manager, [manager]
    return None, manager_accounts(session) or active_usernames_with_role(session, role="admin")


def escalate(
    session: Session,
    *,
    about: str | None,
    subject: str,
    body: str,
    actor: str | None,
    instance_id: uuid.UUID | None,
    client_id: int | None = None,
    params: dict | None = None,
) -> tuple[str | None, list[str]]:
    """Notify `about`'s manager, or the manager group when there is none (the admins when there is no
    manager at all); returns (the manager or None, everyone notified). The notifications are queued in
    the caller's transaction; `client_id` names the client they concern; with `params`, `subject` and
    `body` are catalogue keys written in each recipient's language (notifications.queue). The caller
    audits the escalation of its own record."""
    manager, told = recipients(session, about)
    for recipient in told:
        notifications.queue(
            session,
            kind="escalation",
            recipient=recipient,
            subject=subject,
            body=body,
            actor=actor,
            instance_id=instance_id,
            client_id=client_id,
            params=params,
        )
    return manager, told

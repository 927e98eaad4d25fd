"""Whom a person may pick in a form's person or client field: the choices a picker lists, and why a value is refused.

The same rules serve both sides: `GET /api/choices/...` lists what a picker offers, and the engine
refuses (through engine.form_references.ReferenceChecks) a submitted value the picker would not
have offered. Callers own the transaction.
"""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from storage.accounts import Account
from storage.clients import (
    Client,
    plan_for_each_search,
    search_clients,
)

from .clients import visible_client_or_none

MAX_CHOICES = 20

# What a refused value is told. An invisible client is told exactly what a missing one is.
NO_ACTIVE_ACCOUNT = "no active account with this username"
NO_SUCH_CLIENT = "no such client"
NOT_A_CLIENT_ID = "must be a client id"


def _lacks_role(role: str) -> str:
    return f"not someone with the role or group {role}"


def _holds(account, role: str | None) -> bool:
    return role is None or role in (account.roles or []) or role in (account.groups or [])


def user_label(display_name: str | None, username: str) -> str:
    return f"{display_name} ({username})" if display_name and display_name != username else username


def user_choices(session: Session, *, q: str | None, role: str | None, limit: int = MAX_CHOICES) -> list[dict]:
    """Active accounts whose username or display name contains `q` (any case), holding `role` (a role or
    group) if given, by display name: `{"value": username, "label": "display name (username)"}`."""
    query = select(Account.username, Account.display_name, Account.roles, Account.groups).where(Account.active)
    if q:
        pattern = "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(
                func.lower(Account.username).like(pattern, escape="\\"),
                func.lower(Account.display_name).like(pattern, escape="\\"),
            )
        )
    # Roles and groups are JSON lists (filtered here); a firm has hundreds of accounts, not millions.
    rows = session.execute(query.order_by(func.lower(Account.display_name), Account.username))
    return [
        {"value": row.username, "label": user_label(row.display_name, row.username)}
        for row in rows
        if _holds(row, role)
    ][:limit]


def user_problem(session: Session, username: str, role: str | None) -> str | None:
    """Why `username` may not be chosen for a field restricted to `role` (None: anyone active), or None."""
    account = session.scalar(select(Account).where(Account.username == username, Account.active))
    if account is None:
        return NO_ACTIVE_ACCOUNT
    return None if _holds(account, role) else _lacks_role(role)


def client_choices(session: Session, *, q: str | None, owners: set[str] | None, limit: int = MAX_CHOICES) -> list[dict]:
    """Live clients owned by `owners` (None: any) whose name, phone, email or address contains `q`, by name:
    `{"value": id, "label": name}`. Searched as the client list searches (storage.clients)."""
    plan_for_each_search(session)
    filters = [Client.deleted_at.is_(None)]
    if owners is not None:
        filters.append(Client.owner.in_(owners))
    page, _, _ = search_clients(
        session,
        filters,
        q=q,
        every_live_client=owners is None,
        tagged=False,
        sort="name",
        limit=limit,
        offset=0,
    )
    return [{"value": client.id, "label": client.name} for client in page]


def client_problem(session: Session, client_id, owners: set[str] | None) -> str | None:
    """Why `client_id` may not be chosen by someone who sees the clients of `owners`, or None; a client they may
    not see is answered as one that does not exist."""
    if isinstance(client_id, str) and client_id.isascii() and client_id.isdigit() and len(client_id) <= 18:
        client_id = int(client_id)
    if isinstance(client_id, bool) or not isinstance(client_id, int):
        return NOT_A_CLIENT_ID
    if not 0 < client_id < 2**63 or visible_client_or_none(session, client_id, owners) is None:
        return NO_SUCH_CLIENT
    return None

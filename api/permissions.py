"""Who may do what: the one permission matrix, enforced by `requires` and printed in the README."""

from __future__ import annotations

from functools import wraps

from flask import g

from atrium.errors import Forbidden

ALL = {"admin", "partner", "manager", "account_manager", "service_desk", "viewer"}
STAFF = ALL - {"viewer"}
LEADS = {"admin", "partner", "manager"}

PERMISSIONS: dict[str, set[str]] = {
    "definitions:read": ALL,
    "definitions:deploy": {"admin"},
    "instances:read": ALL,
    "instances:start": STAFF,
    "instances:cancel": LEADS,
    "instances:retry": {"admin", "manager"},
    "instances:read_all_variables": LEADS | {"viewer"},
    "messages:send": STAFF,
    "tasks:read": ALL,
    "tasks:read_all": LEADS | {"viewer"},
    "tasks:work": STAFF,  # claim, unclaim, complete tasks offered to you
    "tasks:assign": LEADS,  # assign anyone's task to anyone
    "forms:read": ALL,
    "accounts:manage": {"admin"},
    "audit:read": {"admin"},
    # The event outbox (api/events.py): read by the finance system's integration account, and by admins.
    "events:read": {"admin"},
    # Account managers read figures about their own clients only (reports/making.py).
    "reports:read": LEADS | {"account_manager", "viewer"},
    "reports:schedule": LEADS | {"account_manager"},
    "reports:read_all_runs": LEADS,
    "metrics:read": {"admin"},
    # Client records. Account managers see their own and their team's clients only.
    "clients:read": ALL,
    "clients:read_all": ALL - {"account_manager"},
    "clients:write": LEADS | {"account_manager"},
    "clients:restore": {"admin"},
    "clients:erase": {"admin"},  # destroy a client's personal data (a second admin confirms)
    "clients:merge": LEADS,
    "clients:export": LEADS | {"account_manager"},
    "clients:import": LEADS,
    "records:write": STAFF,  # contacts, engagements, follow-ups, requests, complaints, feedback
    "employees:read": ALL,
    "employees:manage": {"admin"},
    "knowledge:read": ALL,
    "knowledge:write": LEADS | {"service_desk"},
    "notifications:read": ALL,  # your own
    "notifications:read_all": {"admin"},
    "settings:manage": {"admin"},
    "care:campaign": LEADS,
    # The voucher export for the finance package (api/finance.py): every invoice and payment of the firm.
    "finance:export": LEADS,  # a care campaign over a saved filter of clients: tasks or a bulk greeting
}


def has_permission(roles, permission: str) -> bool:
    return bool(set(roles) & PERMISSIONS[permission])


def requires(permission: str, *alternatives: str):
    """Allow the view only to accounts holding a role that grants `permission` (or one of `alternatives`)."""
    permissions = (permission, *alternatives)
    for name in permissions:
        if name not in PERMISSIONS:
            raise KeyError(name)

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not any(has_permission(g.account.roles, name) for name in permissions):
                raise Forbidden(
                    f"your roles ({', '.join(g.account.roles) or 'none'}) do not allow {' or '.join(permissions)}"
                )
            return view(*args, **kwargs)

        wrapper.atrium_permission = permission
        wrapper.atrium_permissions = permissions
        return wrapper

    return decorate


def permissions_of(roles) -> list[str]:
    """Every permission `roles` grant, sorted: what the web app shows or hides buttons by."""
    return sorted(permission for permission in PERMISSIONS if has_permission(roles, permission))

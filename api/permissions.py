"""Who may do what: the one permission matrix, enforced by `requires` and printed in the README."""

from __future__ import annotations

from functools import wraps

from flask import g

from atrium.errors import Forbidden
from atrium.integration_accounts import SCOPES

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
    # Webhook subscriptions and their deliveries (api/webhooks.py): secrets and where events go.
    "webhooks:manage": {"admin"},
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
    "care:campaign": LEADS,  # a care campaign over a saved filter of clients: tasks or a bulk greeting
    "integrations:manage": {"admin"},  # integration accounts (machine clients) and their API keys
    # The voucher export for the finance package (api/finance.py): every invoice and payment of the firm.
    "finance:export": LEADS,
    # Billing (api/billing.py). Time: staff record their own on clients they see (leads anyone's); invoice
    # requests: leads and the engagement's responsible (checked in atrium/billing.py); invoices and payments
    # come from the finance system (integration scopes invoices:write, payments:write) or an admin; an
    # invoice's follow-up: leads and the client's owner (checked in the view).
    "time:read": ALL,
    "time:write": STAFF,
    "billing:read": ALL,  # viewers read billing as they read reports
    "billing:request": STAFF,
    "billing:write": {"admin"},
    "billing:follow_up": STAFF,
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
            if g.get("integration") is not None:
                raise Forbidden("integration accounts may not call this endpoint")
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


def requires_scope(scope: str, *permissions: str):
    """Open a view to integration accounts (machine clients, atrium/integration_accounts.py) holding
    `scope`, and to people holding one of `permissions` (none: integrations only). Use it INSTEAD of
    `requires`, never together with it, as the view's first decorator:

        from api.idempotency import idempotent
        from api.permissions import requires_scope

        @blp.route("/invoices")
        class Invoices(MethodView):
            @requires_scope("invoices:write", "billing:write")   # key with the scope, or a person with the permission
            @idempotent                                          # then the Idempotency-Key (api/idempotency.py)
            @blp.arguments(InvoiceSchema)
            @blp.response(201, InvoiceOut)
            @errors(blp, 409, 422)
            def post(self, data): ...

    Every view without it refuses an integration's key with 403 (integration-not-allowed) before it runs
    (api/auth.py). In the view, `g.integration` is the IntegrationCaller (None for a person) and
    `g.account.username` the audit actor either way (`integration:<name>` for an integration)."""
    if scope not in SCOPES:
        raise KeyError(scope)
    for name in permissions:
        if name not in PERMISSIONS:
            raise KeyError(name)

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            integration = g.get("integration")
            if integration is not None:
                if scope not in integration.scopes:
                    raise Forbidden(f"this integration account does not hold the scope {scope}")
            elif not any(has_permission(g.account.roles, name) for name in permissions):
                raise Forbidden(
                    f"your roles ({', '.join(g.account.roles) or 'none'}) do not allow "
                    f"{' or '.join(permissions) or 'this endpoint (integration accounts only)'}"
                )
            return view(*args, **kwargs)

        wrapper.atrium_scopes = (scope,)
        if permissions:
            wrapper.atrium_permission = permissions[0]
            wrapper.atrium_permissions = permissions
        return wrapper

    return decorate

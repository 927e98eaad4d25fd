"""The audit trail's one writer. Every domain function that changes state calls `record` in the
transaction of the change, whoever called it: an API view, a BPMN service task, a timer, the scheduler,
an import or the CLI. So a change and its audit row commit together or not at all.

Actors are usernames, or one of `TIMER`, `SCHEDULER` and `cli_actor()` for changes nobody asked for
over HTTP. The HTTP layer binds the request's address and id (`bind_request`) so rows written while
serving it carry them, without the domain knowing about Flask."""

from __future__ import annotations

import getpass
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, insert
from sqlalchemy.orm import Session

from atrium import clock
from atrium.audit_chain import PENDING_IDS, chain_pending
from storage.audit import AuditEntry

TIMER = "timer"
SCHEDULER = "scheduler"
SYSTEM = "system"  # changes made by Atrium itself outside any request, timer or command (migrations, seeding)

# Fields whose values never go into an audit summary: the row says they changed, not to what. Names and
# free text are among them: audit rows cannot be altered (atrium.audit_chain), so what could identify a
# client must never be in one, or erasing the client (atrium.erasure) could not remove it.
PERSONAL_FIELDS = frozenset(
    {
        "name",
        "title",
        "resolution",
        "next_step",
        "adverse_parties",
        "phones",
        "emails",
        "addresses",
        "notes",
        "phone",
        "email",
        "address",
        "contacts",
        "password",
        "password_hash",
        "custom_fields",
        "comment",
        "description",
        "content",
        "body",
        "details",
    }
)

# Built once: every change writes a row. Its id is kept so the commit chains it (atrium.audit_chain).
_INSERT = insert(AuditEntry.__table__).returning(AuditEntry.__table__.c.id)


@dataclass
class RequestInfo:
    """The HTTP request being served, as the audit trail needs it."""

    address: str | None
    request_id: str | None
    audited: bool = False  # a row recorded while serving it has committed


_request: ContextVar[RequestInfo | None] = ContextVar("atrium_audit_request", default=None)


def bind_request(address: str | None, request_id: str | None):
    """Rows recorded until `unbind_request(token)` carry this request's address and id."""
    return _request.set(RequestInfo(address, request_id))


def unbind_request(token) -> None:
    _request.reset(token)


def current_request() -> RequestInfo | None:
    return _request.get()


def cli_actor() -> str:
    """The actor of a command run from a shell: `cli:<os user>`."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        user = "unknown"
    return f"cli:{user}"


def record(
    session: Session,
    action: str,
    *,
    actor: str | None,
    target: str | None = None,
    outcome: str = "success",
    detail: dict | None = None,
) -> None:
    """Write one audit row in `session`, so it commits (or not) with the change it describes.
    `action` is `<concept>.<verb>` (`client.create`); `target` is `<kind>:<id>` (`client:42`)."""
    info = _request.get()
    row_id = session.execute(
        _INSERT,
        {
            "at": clock.now(),
            "actor": actor,
            "action": action,
            "target": target[:300] if target else target,
            "outcome": outcome,
            "client_address": info.address if info else None,
            "request_id": info.request_id if info else None,
            "detail": detail,
        },
    ).scalar_one()
    session.info.setdefault(PENDING_IDS, []).append(row_id)
    if info is not None:
        session.info[_PENDING] = info  # the request counts as audited once this commits


_PENDING = "atrium.audit.request"


@event.listens_for(Session, "before_commit")
def _chain(session: Session) -> None:
    if not session.in_nested_transaction():  # a savepoint's release: the outer commit chains
        chain_pending(session)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    info = session.info.pop(_PENDING, None)
    if info is not None:
        info.audited = True


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    if not session.in_nested_transaction():
        session.info.pop(PENDING_IDS, None)
    session.info.pop(_PENDING, None)  # a row that rolled back did not audit the request


def _summary_value(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_summary_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _summary_value(v) for k, v in value.items()}
    return str(value)


def changes(before: dict, after: dict) -> dict:
    """What changed between two snapshots of a record, for an audit row's detail: `{field: [old, new]}`,
    with personal fields reduced to `"changed"` so the trail holds no contact data."""
    changed = {}
    for field in sorted(set(before) | set(after)):
        old, new = before.get(field), after.get(field)
        if old == new:
            continue
        changed[field] = "changed" if field in PERSONAL_FIELDS else [_summary_value(old), _summary_value(new)]
    return changed


def snapshot(record_, fields) -> dict:
    """The named attributes of an ORM object, to pass to `changes` before and after an update."""
    return {name: getattr(record_, name) for name in fields}

"""Employees: the firm's people, each with at most one account and a manager to escalate to.
Adding and changing one is audited (`employee.create`, `employee.update`) in the change's transaction."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from atrium import audit, clock
from atrium.errors import Conflict, InvalidInput, NotFound
from storage.accounts import account_by_username
from storage.employees import Employee

FIELDS = ("name", "position", "department", "phone", "email", "username", "manager", "active")
# A person's name and contact details are personal data: the trail says they changed, not to what.
_MASKED = frozenset({"name", "phone", "email"})


def employee_target(employee_id: int) -> str:
    return f"employee:{employee_id}"


def _summary(before: dict, after: dict) -> dict:
    return {field: "changed" if field in _MASKED else change for field, change in audit.changes(before, after).items()}


def check_links(session: Session, data: dict, employee_id: int | None) -> None:
    """The account and manager named exist, and the account is no other employee's."""
    for name in ("username", "manager"):
        if data.get(name) and account_by_username(session, username=data[name]) is None:
            raise InvalidInput(f"no account named {data[name]}", {name: ["must name an existing account"]})
    if data.get("username"):
        other = session.scalar(select(Employee.id).where(Employee.username == data["username"]))
        if other is not None and other != employee_id:
            raise Conflict(f"account {data['username']} already belongs to employee {other}")


def employee_or_raise(session: Session, employee_id: int) -> Employee:
    employee = session.get(Employee, employee_id)
    if employee is None:
        raise NotFound(f"employee {employee_id} not found")
    return employee


def create_employee(session: Session, data: dict, *, actor: str | None) -> Employee:
    check_links(session, data, None)
    now = clock.now()
    employee = Employee(**data, created_at=now, updated_at=now)
    session.add(employee)
    session.flush()
    audit.record(
        session,
        "employee.create",
        actor=actor,
        target=employee_target(employee.id),
        detail={"changes": _summary({}, audit.snapshot(employee, FIELDS))},
    )
    return employee


def update_employee(session: Session, employee_id: int, data: dict, *, actor: str | None) -> Employee:
    employee = employee_or_raise(session, employee_id)
    check_links(session, data, employee_id)
    before = audit.snapshot(employee, FIELDS)
    for key, value in data.items():
        setattr(employee, key, value)
    employee.updated_at = clock.now()
    audit.record(
        session,
        "employee.update",
        actor=actor,
        target=employee_target(employee_id),
        detail={"fields": sorted(data), "changes": _summary(before, audit.snapshot(employee, FIELDS))},
    )
    return employee

"""Helpers for the business-process tests: the app marker for every real handler, the real processes/ and forms/
deployed, people to act, and the clock moved to fire timers."""

from __future__ import annotations

import pytest

from engine.handlers import register_all
from engine.scheduler import fire_due_timers
from storage.accounts import ROLES

from .api_helpers import caller, callers, deploy_firm_processes, make_app  # noqa: F401 -- deploy_firm_processes re-exported
from .conftest import LONG_TOKENS
from .factories import make_account

# What a process test module marks its `app` with: every real handler, and tokens that outlive the weeks and
# months the clock is moved by.
PROCESS_APP = pytest.mark.app(firm=True, token_ttl_seconds=LONG_TOKENS)


def make_process_app(db, services, **settings):
    """The app PROCESS_APP marks, for a test that needs other settings (dispose of it at the end)."""
    register_all(services)
    return make_app(db, services, **{"token_ttl_seconds": LONG_TOKENS, **settings})


def people_of(client, *extra: tuple[str, str]) -> dict:
    """A caller per role account, plus extra (username, role) accounts created by the admin."""
    admin = caller(client, "admin")
    for username, role in extra:
        make_account(admin, username, roles=[role])
    return callers(client, *ROLES, *(u for u, _ in extra))


def employ(admin, username: str, manager: str | None) -> None:
    made = admin.post("/api/employees", json={"name": username.title(), "username": username, "manager": manager})
    assert made.status_code == 201, made.json


def open_task(person, instance_id: str, element_id: str) -> dict:
    """The one open task of `element_id` in an instance, with its form data, as `person` sees it."""
    tasks = [
        t
        for t in person.get(f"/api/tasks?instance_id={instance_id}&page_size=200").json["items"]
        if t["element_id"] == element_id
    ]
    assert len(tasks) == 1, tasks
    return person.get(f"/api/tasks/{tasks[0]['id']}").json


def open_elements(person, instance_id: str) -> list[str]:
    return sorted(t["element_id"] for t in person.get(f"/api/tasks?instance_id={instance_id}").json["items"])


def complete(person, task: dict, **data):
    return person.post(f"/api/tasks/{task['id']}/complete", json={"data": data})


def fire_timers(app) -> int:
    return fire_due_timers(app.extensions["atrium.engine"])


def notifications(admin, recipient: str, kind: str | None = None) -> list[dict]:
    query = f"/api/notifications?recipient={recipient}&page_size=200" + (f"&kind={kind}" if kind else "")
    return admin.get(query).json["items"]

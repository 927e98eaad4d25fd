"""Helpers for the business-process tests: an app with every real handler, the real processes/ and forms/
deployed, people to act, and the clock moved to fire timers."""
from __future__ import annotations

from engine.handlers import register_all
from engine.scheduler import fire_due_timers

from .api_helpers import caller, deploy_firm_processes, make_app  # noqa: F401 -- deploy_firm_processes re-exported

ROLES = ("admin", "partner", "manager", "account_manager", "service_desk", "viewer")


def make_process_app(db, services, **settings):
    register_all(services)
    # These tests move the clock by weeks and months; the people acting stay logged in meanwhile.
    settings.setdefault("token_ttl_seconds", 2 * 366 * 86400)
    return make_app(db, services, **settings)


def people_of(client, *extra: tuple[str, str]) -> dict:
    """A caller per role account, plus extra (username, role) accounts created by the admin."""
    admin = caller(client, "admin")
    for username, role in extra:
        made = admin.post("/api/accounts", json={"username": username, "password": f"password-of-{username}",
                                                  "roles": [role]})
        assert made.status_code == 201, made.json
    return {name: caller(client, name) for name in (*ROLES, *(u for u, _ in extra))}


def employ(admin, username: str, manager: str | None) -> None:
    made = admin.post("/api/employees", json={"name": username.title(), "username": username, "manager": manager})
    assert made.status_code == 201, made.json


def open_task(person, instance_id: str, element_id: str) -> dict:
    """The one open task of `element_id` in an instance, with its form data, as `person` sees it."""
    tasks = [t for t in person.get(f"/api/tasks?instance_id={instance_id}&page_size=200").json["items"]
             if t["element_id"] == element_id]
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

"""Steps of the client scenarios the browser tests take through the API (seeding, and screens not
built yet), as the named person: the same endpoints the app calls."""

from __future__ import annotations

from ..api_helpers import Caller
from .conftest import log_in
from .seed import api_as

# An API caller for a person on the live server's app (a bearer token, as integrations use).
as_person = api_as


def new_client(person: Caller, name: str, **fields) -> dict:
    made = person.post("/api/clients", json={"name": name, **fields})
    assert made.status_code == 201, made.json
    return made.json


def open_task(person: Caller, instance_id: str, element_id: str) -> dict:
    """The one open task of `element_id` in an instance, with its form and data, as `person` sees it."""
    tasks = [
        task
        for task in person.get(f"/api/tasks?instance_id={instance_id}&page_size=200").json["items"]
        if task["element_id"] == element_id
    ]
    assert len(tasks) == 1, tasks
    return person.get(f"/api/tasks/{tasks[0]['id']}").json


def complete(person: Caller, task: dict, **data) -> None:
    done = person.post(f"/api/tasks/{task['id']}/complete", json={"data": data})
    assert done.status_code == 200, done.json


def signed_in(page, live_server, username: str) -> None:
    """Log in through the form and wait until the app has let the person in."""
    log_in(page, live_server, username)
    page.wait_for_url(lambda url: "/login" not in url)


def open_from_inbox(page, live_server, subject: str, *, tab: str) -> None:
    """Find a task by its subject on an inbox tab and open it, as a person does."""
    page.goto(f"{live_server.url}/inbox?tab={tab}")
    link = page.get_by_role("link", name=subject)
    link.wait_for()
    link.click()
    page.get_by_role("heading", level=1, name=subject).wait_for()


def complete_task(page) -> None:
    """Submit the task's form, confirming when the app asks, and wait for the inbox."""
    page.get_by_role("button", name="Complete task").click()
    dialog = page.get_by_role("dialog")
    for _ in range(200):
        if "/inbox" in page.url:
            return
        if dialog.is_visible():
            dialog.get_by_role("button").last.click()
            break
        page.wait_for_timeout(50)
    page.wait_for_url(lambda url: "/inbox" in url)

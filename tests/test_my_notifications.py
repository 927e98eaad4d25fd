"""The bell: each person's own notifications, what each links to, unread counts and marking them read;
nobody reaches anyone else's."""

from __future__ import annotations

import uuid

from storage.notifications import add_notification

from .api_helpers import caller, deploy_via_api


def notify(app, clock, recipient: str, subject: str = "Something happened", **about) -> int:
    """An outbox row for `recipient`, as the engine and the record services write them."""
    with app.extensions["atrium.engine"].transaction() as session:
        note = add_notification(
            session,
            kind=about.pop("kind", "outcome"),
            recipient=recipient,
            subject=subject,
            body=f"{subject}.",
            now=clock.now(),
            **about,
        )
        session.flush()
        return note.id


def test_a_person_sees_their_own_notifications_newest_first_with_links(app, client, clock):
    instance_id = uuid.uuid4()
    first = notify(app, clock, "account_manager", "Onboarding declined", instance_id=instance_id)
    clock.advance(minutes=1)
    second = notify(app, clock, "account_manager", "New client", instance_id=instance_id, client_id=42)
    clock.advance(minutes=1)
    third = notify(app, clock, "account_manager", "Weekly report", kind="report")
    notify(app, clock, "partner", "Not yours")
    am = caller(client, "account_manager")
    page = am.get("/api/me/notifications").json
    assert page["total"] == 3 and [n["id"] for n in page["items"]] == [third, second, first]
    assert page["items"][2] == {
        "id": first,
        "kind": "outcome",
        "subject": "Onboarding declined",
        "body": "Onboarding declined.",
        "created_at": "2026-01-05T09:00:00+00:00",
        "read_at": None,
        "link": {"kind": "instance", "id": str(instance_id)},
    }
    assert page["items"][1]["link"] == {"kind": "client", "id": 42}  # the record it concerns, over its process
    assert page["items"][0]["link"] is None
    assert am.get("/api/me/notifications?page_size=1&page=2").json["items"][0]["id"] == second


def test_a_task_assigned_notification_links_to_the_task(client):
    admin, manager = caller(client, "admin"), caller(client, "manager")
    assert deploy_via_api(admin, "two_tasks.bpmn", "intake-schema.json").status_code == 201
    started = manager.post("/api/process-instances", json={"process_key": "two_tasks", "variables": {"urgency": 1}})
    [task] = manager.get(f"/api/tasks?instance_id={started.json['id']}").json["items"]
    assert manager.post(f"/api/tasks/{task['id']}/assign", json={"username": "service_desk"}).status_code == 200
    [note] = caller(client, "service_desk").get("/api/me/notifications").json["items"]
    assert note["kind"] == "task_assigned" and note["link"] == {"kind": "task", "id": task["id"]}


def test_unread_count_marking_one_read_and_marking_all_read(app, client, clock):
    ids = [notify(app, clock, "viewer", f"Note {n}") for n in range(3)]
    notify(app, clock, "partner", "Not yours")
    viewer = caller(client, "viewer")
    assert viewer.get("/api/me/notifications/unread-count").json == {"count": 3}

    clock.advance(minutes=5)
    read = viewer.post(f"/api/me/notifications/{ids[0]}/read")
    assert read.status_code == 200 and read.json["id"] == ids[0] and read.json["read_at"] == clock.now().isoformat()
    first_read_at = read.json["read_at"]
    clock.advance(minutes=5)
    again = viewer.post(f"/api/me/notifications/{ids[0]}/read")
    assert again.status_code == 200 and again.json["read_at"] == first_read_at  # when it was first read
    assert viewer.get("/api/me/notifications/unread-count").json == {"count": 2}
    unread = viewer.get("/api/me/notifications?unread=true").json
    assert unread["total"] == 2 and {n["id"] for n in unread["items"]} == set(ids[1:])
    assert viewer.get("/api/me/notifications").json["total"] == 3

    assert viewer.post("/api/me/notifications/read-all").status_code == 204
    assert viewer.get("/api/me/notifications/unread-count").json == {"count": 0}
    assert viewer.get("/api/me/notifications?unread=true").json["total"] == 0
    assert caller(client, "partner").get("/api/me/notifications/unread-count").json == {"count": 1}  # untouched


def test_someone_elses_notification_is_not_found_and_stays_unread(app, client, clock):
    theirs = notify(app, clock, "partner", "Fee approved")
    for person in ("viewer", "admin"):  # not even an admin reads another's bell
        refused = caller(client, person).post(f"/api/me/notifications/{theirs}/read")
        assert refused.status_code == 404 and refused.mimetype == "application/problem+json"
        assert caller(client, person).get("/api/me/notifications").json["total"] == 0
    assert caller(client, "viewer").post("/api/me/notifications/987654/read").status_code == 404
    caller(client, "admin").post("/api/me/notifications/read-all")
    assert caller(client, "partner").get("/api/me/notifications/unread-count").json == {"count": 1}


def test_the_bell_needs_a_login(app, client, clock):
    note = notify(app, clock, "viewer")
    for method, url in (
        ("get", "/api/me/notifications"),
        ("get", "/api/me/notifications/unread-count"),
        ("post", f"/api/me/notifications/{note}/read"),
        ("post", "/api/me/notifications/read-all"),
    ):
        response = getattr(client, method)(url)
        assert response.status_code == 401 and response.json["type"].endswith("/not-authenticated")


def test_marking_read_with_the_session_cookie_needs_the_csrf_token(app, client, clock):
    note = notify(app, clock, "viewer")
    csrf = client.post("/api/auth/session", json={"username": "viewer", "password": "password-of-viewer"}).json[
        "csrf_token"
    ]
    assert client.post(f"/api/me/notifications/{note}/read").status_code == 403
    assert client.post("/api/me/notifications/read-all").status_code == 403
    assert client.get("/api/me/notifications/unread-count").json == {"count": 1}
    assert client.post(f"/api/me/notifications/{note}/read", headers={"X-CSRF-Token": csrf}).status_code == 200
    assert client.get("/api/me/notifications/unread-count").json == {"count": 0}


def test_a_bad_unread_filter_is_a_422(client):
    response = caller(client, "viewer").get("/api/me/notifications?unread=perhaps")
    assert response.status_code == 422 and "unread" in response.json["errors"]

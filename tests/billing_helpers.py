"""Helpers for the billing tests (tests/test_time_entries.py, tests/test_billing.py): people in two teams,
the approval process deployed, clients and engagements, integration accounts and their keys."""

from __future__ import annotations

import io

from sqlalchemy import select

from atrium.settings import PROJECT_ROOT
from storage.events import Event

from .api_helpers import Caller, people_in_two_teams
from .factories import make_client

APPROVAL_FILES = (
    PROJECT_ROOT / "processes" / "time_entry_approval.bpmn",
    PROJECT_ROOT / "forms" / "time_entry_decision-schema.json",
)


def deploy_time_approval(admin: Caller) -> None:
    files = [(io.BytesIO(path.read_bytes()), path.name) for path in APPROVAL_FILES]
    response = admin.post("/api/deployments", data={"files": files}, content_type="multipart/form-data")
    assert response.status_code == 201, response.json


def billing_people(app) -> dict:
    people = people_in_two_teams(app)
    deploy_time_approval(people["admin"])
    return people


def client_of(person: Caller, owner: str = "account_manager", **fields) -> int:
    return make_client(person, minimal=True, owner=owner, **fields)["id"]


def engagement_of(person: Caller, client_id: int, **fields) -> dict:
    body = {"service_type": "Annual audit", "status": "active", "fee_basis": "hourly", "fee_amount": "1000.00"}
    body.update(fields)
    made = person.post(f"/api/clients/{client_id}/engagements", json=body)
    assert made.status_code == 201, made.json
    return made.json


def integration_key(admin: Caller, client, name: str, *scopes: str) -> "KeyCaller":
    made = admin.post("/api/integration-accounts", json={"name": name, "scopes": list(scopes)})
    assert made.status_code == 201, made.json
    return KeyCaller(client, made.json["key"]["key"])


class KeyCaller:
    """Sends an integration's API key as the bearer token."""

    def __init__(self, client, key: str):
        self.client, self.key = client, key

    def _send(self, method, url, headers=None, **kw):
        return getattr(self.client, method)(
            url, headers={"Authorization": f"Bearer {self.key}", **(headers or {})}, **kw
        )

    def get(self, url, **kw):
        return self._send("get", url, **kw)

    def post(self, url, **kw):
        return self._send("post", url, **kw)

    def delete(self, url, **kw):
        return self._send("delete", url, **kw)


def events_of(app, client_id: int, type_prefix: str = "") -> list[Event]:
    with app.extensions["atrium.engine"].transaction() as session:
        rows = session.scalars(
            select(Event)
            .where(Event.aggregate_type == "client", Event.aggregate_id == str(client_id))
            .order_by(Event.sequence)
        ).all()
        session.expunge_all()
    return [e for e in rows if e.type.startswith(type_prefix)]

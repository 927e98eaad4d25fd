"""Seeding the browser scenarios through the HTTP API, as the people themselves would (bearer tokens on
the live app's own test client: the same views, permissions and audit as the browser's requests)."""

from __future__ import annotations

from ..api_helpers import Caller, client_body
from .conftest import password


def api_as(live_server, username: str) -> Caller:
    client = live_server.app.test_client()
    answer = client.post("/api/auth/token", json={"username": username, "password": password(username)})
    assert answer.status_code == 200, answer.json
    return Caller(client, answer.json["access_token"])


def create_client(person: Caller, name: str, **fields) -> dict:
    body = client_body(name=name, phones=[], emails=[], addresses=[], tags=[], **fields)
    made = person.post("/api/clients", json=body)
    assert made.status_code == 201, made.json
    return made.json


def start_and_submit(person: Caller, process_key: str, data: dict) -> dict:
    """Start `process_key` and complete its first task (the starter's request form) with `data`."""
    started = person.post("/api/process-instances", json={"process_key": process_key})
    assert started.status_code == 201, started.json
    [first] = started.json["open_tasks"]
    done = person.post(f"/api/tasks/{first['id']}/complete", json={"data": data})
    assert done.status_code == 200, done.json
    return started.json


def request_approval(
    person: Caller,
    *,
    amount: float,
    client_id: int,
    kind: str = "fee",
    justification: str = "Year-end audit took three extra weeks",
) -> dict:
    return start_and_submit(
        person, "approval", {"kind": kind, "amount": amount, "client_id": client_id, "justification": justification}
    )


def propose_client(person: Caller, name: str, owner: str) -> dict:
    """An onboarding whose intake is submitted: the partner's review is next."""
    return start_and_submit(
        person,
        "client_onboarding",
        {
            "client_name": name,
            "kind": "organisation",
            "industry": "manufacturing",
            "tier": "B",
            "phones": ["+86 20 8888 1234"],
            "emails": ["office@mingde.example"],
            "contacts": [{"name": "陈静", "role": "财务总监", "emails": ["chen@mingde.example"]}],
            "engagement": {
                "service_type": "audit",
                "description": "2026 annual audit",
                "fee_basis": "fixed",
                "fee_amount": 42000,
                "adverse_parties": [],
            },
            "owner": owner,
        },
    )


def open_tasks(person: Caller, **query) -> list[dict]:
    listed = person.get("/api/tasks", query_string={"page_size": 100, **query})
    assert listed.status_code == 200, listed.json
    return listed.json["items"]

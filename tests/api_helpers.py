"""Helpers for API tests: an app on the test database, one account per role, authenticated calls."""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache

from api.app import create_app
from atrium.accounts import hash_password
from atrium.settings import Settings
from storage.accounts import ROLES

from .conftest import BPMN_DIR


def password_for(username: str) -> str:
    return f"password-of-{username}"


def make_app(db, services, **settings):
    config = Settings(
        database_url=db.url.render_as_string(hide_password=False),
        secret_key="test-signing-key",
        script_timeout_seconds=0.5,
        service_retries=2,
        service_backoff_seconds=10,
        **settings,
    )
    app = create_app(config, services=services)
    from .factories import make_account  # factories imports this module

    with app.extensions["atrium.engine"].transaction() as session:
        for role in ROLES:
            make_account(session, role, roles=[role], groups=["tax"] if role == "account_manager" else [])
    return app


@lru_cache(maxsize=None)
def password_hash(password: str) -> str:
    """argon2 is slow on purpose; hash each test password once per session."""
    return hash_password(password)


@dataclass
class Caller:
    """A test client that sends one account's bearer token."""

    client: object
    token: str | None

    def _headers(self, headers):
        merged = dict(headers or {})
        if self.token:
            merged["Authorization"] = f"Bearer {self.token}"
        return merged

    def get(self, url, **kw):
        return self.client.get(url, headers=self._headers(kw.pop("headers", None)), **kw)

    def post(self, url, **kw):
        return self.client.post(url, headers=self._headers(kw.pop("headers", None)), **kw)

    def put(self, url, **kw):
        return self.client.put(url, headers=self._headers(kw.pop("headers", None)), **kw)

    def patch(self, url, **kw):
        return self.client.patch(url, headers=self._headers(kw.pop("headers", None)), **kw)

    def delete(self, url, **kw):
        return self.client.delete(url, headers=self._headers(kw.pop("headers", None)), **kw)


def login(client, username: str, password: str | None = None):
    return client.post("/api/auth/token", json={"username": username, "password": password or password_for(username)})


def caller(client, username: str, password: str | None = None) -> Caller:
    response = login(client, username, password)
    assert response.status_code == 200, response.json
    return Caller(client, response.json["access_token"])


def deploy_via_api(admin: Caller, *names: str):
    files = [(io.BytesIO((BPMN_DIR / name).read_bytes()), name) for name in names]
    return admin.post("/api/deployments", data={"files": files}, content_type="multipart/form-data")


def deploy_firm_processes(admin: Caller):
    """Deploy the real `processes/` and `forms/` files, as `atrium deploy` does."""
    from atrium.settings import PROJECT_ROOT

    paths = sorted((PROJECT_ROOT / "processes").iterdir()) + sorted((PROJECT_ROOT / "forms").glob("*.json"))
    files = [(io.BytesIO(path.read_bytes()), path.name) for path in paths if path.is_file()]
    response = admin.post("/api/deployments", data={"files": files}, content_type="multipart/form-data")
    assert response.status_code == 201, response.json
    return response.json


def people_in_two_teams(app) -> dict:
    """A caller per role account, plus a second account manager in account_manager's team ("tax")
    and one in another team ("audit"): what record-visibility tests need."""
    from .factories import make_account

    client = app.test_client()
    admin = caller(client, "admin")
    for username, group in (("am_tax", "tax"), ("am_audit", "audit")):
        make_account(admin, username, roles=["account_manager"], groups=[group])
    return {name: caller(client, name) for name in (*ROLES, "am_tax", "am_audit")}


def callers(client, *usernames: str) -> dict:
    """A logged-in Caller per username, by username (every role account when none are named)."""
    return {name: caller(client, name) for name in usernames or ROLES}


def client_body(**fields) -> dict:
    """A complete client as `POST /api/clients` takes it (Harbour Logistics), with `fields` changed."""
    return {
        "name": "Harbour Logistics Ltd",
        "kind": "organisation",
        "tier": "A",
        "status": "active",
        "industry": "logistics",
        "tags": ["shipping"],
        "phones": ["+44 20 7946 0000"],
        "emails": ["info@harbour.example"],
        "addresses": [{"street": "1 Quay St", "city": "Bristol"}],
        **fields,
    }


def events_of(app, aggregate_type: str, aggregate_id) -> list[dict]:
    """The outbox's events about one aggregate (a client: `("client", 42)`), oldest first, as envelopes."""
    from sqlalchemy import select

    from atrium import events
    from storage.events import Event

    with app.extensions["atrium.engine"].transaction() as session:
        rows = session.scalars(
            select(Event)
            .where(Event.aggregate_type == aggregate_type, Event.aggregate_id == str(aggregate_id))
            .order_by(Event.position)
        ).all()
        return [events.envelope(e) for e in rows]

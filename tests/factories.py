"""Record factories for tests: a client, an account, a process instance, made either through the API (pass a
`Caller`, tests/api_helpers.py) or straight in the database (pass a SQLAlchemy `Session`, or for instances a
`ProcessEngine`). Each takes the fields to change as keywords; through the API it asserts the record was
made (201) and returns the response's JSON, in the database it returns the flushed row."""

from __future__ import annotations

from sqlalchemy.orm import Session

from atrium import clock
from storage.accounts import Account
from storage.clients import Client

from .api_helpers import client_body, password_for
from .api_helpers import password_hash as hashed


def _made(response) -> dict:
    assert response.status_code == 201, response.json
    return response.json


def make_client(target, **overrides):
    """A client. Through the API (`target` a Caller) the body is tests/api_helpers.client_body (Harbour
    Logistics, complete) with `overrides`, or with `minimal=True` only a name (Harbour Logistics) and
    `overrides`; returns the created client's JSON. In the database (`target` a Session) a Client row with
    `overrides` as its columns (`name` required), created now unless `created_at` is given."""
    if isinstance(target, Session):
        name = overrides.pop("name")
        created = overrides.pop("created_at", None) or clock.now()
        values = {
            "kind": "organisation",
            "name_key": name.lower(),
            "tier": "A",
            "status": "active",
            "owner": None,
            "industry": None,
            "tags": [],
            "phones": [],
            "emails": [],
            "addresses": [],
            "custom_fields": {},
            "search_text": name,
            "updated_at": created,
            "version": 1,
            **overrides,
        }
        client = Client(name=name, created_at=created, **values)
        target.add(client)
        target.flush()
        return client
    if overrides.pop("minimal", False):
        body = {"name": "Harbour Logistics Ltd", **overrides}
    else:
        body = client_body(**overrides)
    return _made(target.post("/api/clients", json=body))


def make_account(target, username: str, *, roles=("viewer",), groups=None, password: str | None = None, **fields):
    """An account whose password is tests/api_helpers.password_for(username) unless given. Through the API
    (`target` an admin's Caller) `groups` is sent only when given; returns the account's JSON. In the
    database (`target` a Session) an active Account row with no failed logins, displayed as the username
    titled unless `display_name` is given (a `password_hash` given is stored as it is)."""
    password = password or password_for(username)
    if isinstance(target, Session):
        values = {
            "display_name": username.title(),
            "active": True,
            "failed_logins": 0,
            "created_at": clock.now(),
            **fields,
        }
        if "password_hash" not in values:
            values["password_hash"] = hashed(password)
        account = Account(username=username, roles=list(roles), groups=list(groups or []), **values)
        target.add(account)
        target.flush()
        return account
    body = {"username": username, "password": password, "roles": list(roles), **fields}
    if groups is not None:
        body["groups"] = list(groups)
    return _made(target.post("/api/accounts", json=body))


def start_instance(target, process_key: str, **body):
    """A process instance of `process_key`. Through the API (`target` a Caller) `body` is the rest of
    `POST /api/process-instances` (variables, business_key); returns the instance's JSON. Through the
    engine (`target` a ProcessEngine) `body` are start_instance's keywords; returns the instance row, in
    its own committed transaction."""
    if hasattr(target, "transaction"):
        with target.transaction() as session:
            return target.start_instance(session, process_key=process_key, **body)
    return _made(target.post("/api/process-instances", json={"process_key": process_key, **body}))

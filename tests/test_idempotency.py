"""Idempotency-Key (api/idempotency.py): a retried POST is answered once and written once, on both backends."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from atrium.integration_accounts import purge_expired_idempotency_keys
from storage.clients import Client
from storage.instances import ProcessInstance
from storage.integration_accounts import IdempotencyKey, IntegrationAccount

from .api_helpers import caller, deploy_via_api
from .test_integration_accounts import HELD, as_key, audit_rows, build_with_test_views, make_integration, rows

pytestmark = pytest.mark.app(build=build_with_test_views)
NEW = {"name": "sap", "scopes": ["invoices:write"]}


@pytest.fixture
def admin(client):
    return caller(client, "admin")


@pytest.fixture
def machine(client, admin):
    return as_key(client, make_integration(admin)["key"]["key"])


def keyed(key: str) -> dict:
    return {"Idempotency-Key": key}


def writes(app) -> int:
    return len(audit_rows(app, "test_invoice.create"))


# Replays -------------------------------------------------------------------------------------------------


def test_a_retry_replays_the_first_answer_and_writes_nothing(app, machine):
    first = machine.post("/api/test-invoices", json={"number": 1, "amount": 100}, headers=keyed("inv-1"))
    again = machine.post("/api/test-invoices", json={"number": 1, "amount": 100}, headers=keyed("inv-1"))
    assert first.status_code == again.status_code == 201
    assert again.get_data() == first.get_data()
    assert again.headers["Location"] == first.headers["Location"] == "/api/test-invoices/1"
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert writes(app) == 1
    assert [(r.status, r.response_status) for r in rows(app, IdempotencyKey)] == [("done", 201)]


def test_the_same_key_with_another_body_is_a_422(app, machine):
    machine.post("/api/test-invoices", json={"number": 1, "amount": 100}, headers=keyed("inv-1"))
    other = machine.post("/api/test-invoices", json={"number": 1, "amount": 999}, headers=keyed("inv-1"))
    assert other.status_code == 422 and other.mimetype == "application/problem+json"
    assert other.json["type"].endswith("/idempotency-key-reused") and "Idempotency-Key" in other.json["errors"]
    assert writes(app) == 1


def test_keys_are_per_caller(app, client, admin, machine):
    other = as_key(client, make_integration(admin, name="xero")["key"]["key"])
    for sender in (machine, other):
        assert sender.post("/api/test-invoices", json={"number": 1}, headers=keyed("same")).status_code == 201
    assert writes(app) == 2


def test_integrations_must_send_a_key_people_need_not(app, client, machine):
    missing = machine.post("/api/test-invoices", json={"number": 1})
    assert missing.status_code == 422 and missing.json["type"].endswith("/idempotency-key-missing")
    assert "Idempotency-Key" in missing.json["errors"]
    bad = machine.post("/api/test-invoices", json={"number": 1}, headers=keyed("x" * 256))
    assert bad.status_code == 422 and bad.json["type"].endswith("/idempotency-key-invalid")
    assert writes(app) == 0
    desk = caller(client, "service_desk")
    assert desk.post("/api/test-invoices", json={"number": 1}).status_code == 201
    assert desk.post("/api/test-invoices", json={"number": 1}).status_code == 201  # no key: no replay
    assert writes(app) == 2


def test_a_real_endpoint_people_retry_creating_an_integration(app, admin):
    first = admin.post("/api/integration-accounts", json=NEW, headers=keyed("create-sap"))
    again = admin.post("/api/integration-accounts", json=NEW, headers=keyed("create-sap"))
    assert first.status_code == again.status_code == 201
    assert len(rows(app, IntegrationAccount)) == 1 and len(audit_rows(app, "integration.create")) == 1
    # The answer again, except the key, which is shown once and never stored.
    assert first.json["key"]["key"].startswith("atr_") and again.json["key"]["key"] is None
    assert {**again.json, "key": {**again.json["key"], "key": first.json["key"]["key"]}} == first.json
    assert first.json["key"]["key"].split("_", 2)[2] not in str([vars(r) for r in rows(app, IdempotencyKey)])


def test_a_retried_client_creation_or_process_start_makes_one(app, admin):
    # A node killed after the commit, before the answer: the client retries with the same key.
    body = {"name": "Retried Client Ltd", "kind": "organisation"}
    made = [admin.post("/api/clients", json=body, headers=keyed("client-1")) for _ in range(2)]
    assert [m.status_code for m in made] == [201, 201] and made[0].json["id"] == made[1].json["id"]
    assert made[1].headers["Idempotent-Replayed"] == "true"
    assert len(rows(app, Client)) == 1 and len(audit_rows(app, "client.create")) == 1

    deployed = deploy_via_api(admin, "parallel.bpmn")
    assert deployed.status_code == 201, deployed.json
    start = {"process_key": "parallel_review"}
    started = [admin.post("/api/process-instances", json=start, headers=keyed("start-1")) for _ in range(2)]
    assert [s.status_code for s in started] == [201, 201], started[0].json
    assert started[0].json["id"] == started[1].json["id"]
    assert len(rows(app, ProcessInstance)) == 1


# Failures leave no key -----------------------------------------------------------------------------------


@pytest.mark.parametrize("failure, status", [({"invalid": True}, 422), ({"crash": True}, 500)])
def test_a_failed_request_leaves_no_key_so_the_retry_runs(app, machine, failure, status):
    failed = machine.post("/api/test-invoices", json={"number": 1, **failure}, headers=keyed("inv-1"))
    assert failed.status_code == status
    assert rows(app, IdempotencyKey) == [] and writes(app) == 0
    retried = machine.post("/api/test-invoices", json={"number": 1}, headers=keyed("inv-1"))
    assert retried.status_code == 201 and writes(app) == 1


def test_a_refused_request_reserves_nothing(app, client, admin):
    viewer = caller(client, "viewer")
    assert viewer.post("/api/test-invoices", json={"number": 1}, headers=keyed("v-1")).status_code == 403
    invalid = admin.post("/api/integration-accounts", json={"name": "X"}, headers=keyed("bad"))
    assert invalid.status_code == 422
    assert rows(app, IdempotencyKey) == []


# Concurrent retries --------------------------------------------------------------------------------------


def test_a_retry_while_the_first_is_running_is_a_409_then_a_replay(app, machine):
    HELD.update(hold=threading.Event(), entered=threading.Event())
    answers = {}
    try:
        first = threading.Thread(
            target=lambda: answers.update(
                first=machine.post("/api/test-invoices", json={"number": 1}, headers=keyed("inv-1"))
            )
        )
        first.start()
        assert HELD["entered"].wait(30)
        HELD.pop("entered")
        during = machine.post("/api/test-invoices", json={"number": 1}, headers=keyed("inv-1"))
        assert during.status_code == 409 and during.json["type"].endswith("/idempotency-key-in-progress")
        HELD.pop("hold").set()
        first.join(30)
    finally:
        if "hold" in HELD:
            HELD.pop("hold").set()
        HELD.clear()
    assert answers["first"].status_code == 201
    after = machine.post("/api/test-invoices", json={"number": 1}, headers=keyed("inv-1"))
    assert after.status_code == 201 and after.get_data() == answers["first"].get_data()
    assert writes(app) == 1


@pytest.mark.parametrize("threads", [8])
def test_concurrent_retries_write_once(app, client, admin, threads):
    key = make_integration(admin)["key"]["key"]
    start = threading.Barrier(threads)
    answers = []

    def send():
        machine = as_key(app.test_client(), key)
        start.wait(30)
        answers.append(machine.post("/api/test-invoices", json={"number": 1}, headers=keyed("inv-1")))

    workers = [threading.Thread(target=send) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert len(answers) == threads
    assert writes(app) == 1
    statuses = sorted(a.status_code for a in answers)
    assert set(statuses) <= {201, 409}, statuses
    ran = [a for a in answers if a.status_code == 201 and "Idempotent-Replayed" not in a.headers]
    assert len(ran) == 1
    for replay in (a for a in answers if a.status_code == 201):
        assert replay.get_data() == ran[0].get_data()
    assert [r.status for r in rows(app, IdempotencyKey)] == ["done"]


def test_concurrent_creations_of_an_integration_by_people_make_one(app, admin):
    token = admin.token
    start = threading.Barrier(6)
    answers = []

    def send():
        client = app.test_client()
        start.wait(30)
        answers.append(
            client.post(
                "/api/integration-accounts",
                json=NEW,
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "create-sap"},
            )
        )

    workers = [threading.Thread(target=send) for _ in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert sorted({a.status_code for a in answers}) in ([201], [201, 409])
    assert len(rows(app, IntegrationAccount)) == 1 and len(audit_rows(app, "integration.create")) == 1


# Expiry ----------------------------------------------------------------------------------------------------


def test_a_key_is_remembered_a_day_then_forgotten_and_purged(app, machine, clock):
    machine.post("/api/test-invoices", json={"number": 1}, headers=keyed("inv-1"))
    clock.advance(timedelta(hours=23))
    assert machine.post("/api/test-invoices", json={"number": 2}, headers=keyed("inv-1")).status_code == 422
    clock.advance(timedelta(hours=1, seconds=1))
    # Expired, not yet purged: the key is free again.
    assert machine.post("/api/test-invoices", json={"number": 2}, headers=keyed("inv-1")).status_code == 201
    assert writes(app) == 2
    clock.advance(timedelta(hours=25))
    assert purge_expired_idempotency_keys(app.extensions["atrium.engine"]) == 1
    with app.extensions["atrium.engine"].transaction() as session:
        assert session.scalars(select(IdempotencyKey)).all() == []

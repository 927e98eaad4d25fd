"""One home per client rule: every way a client becomes active (created over the API, imported, opened by an
approved onboarding, restored, its status changed, merged into) starts its follow-up cycle in the same
transaction, and every way it stops (status changed away, deleted, merged away) cancels it. Each of them
writes its audit row (actor, action, target `client:{id}`, what changed with personal fields masked) in
the domain function, whoever called it: an API view, a BPMN service task, an import, the CLI."""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import select, update

from atrium import audit as domain_audit
from atrium import clients as client_service
from atrium.client_merge import merge_clients
from storage.audit import AuditEntry
from storage.clients import Client
from storage.instances import ProcessInstance

from .process_helpers import PROCESS_APP, deploy_firm_processes, people_of
from .test_process_onboarding import intake, onboarded_to_review

pytestmark = PROCESS_APP


@pytest.fixture
def people(app):
    people = people_of(app.test_client(), ("am_tax", "account_manager"))
    deploy_firm_processes(people["admin"])
    return people


_NAMES = iter(f"Lifecycle Client {n}" for n in range(10_000))


def new_client(person, **fields) -> int:
    body = {"name": next(_NAMES), "tier": "A", "status": "active", "owner": "account_manager", **fields}
    made = person.post("/api/clients", json=body)
    assert made.status_code == 201, made.json
    return made.json["id"]


def cycles(app, client_id: int, status: str = "active") -> list[ProcessInstance]:
    with app.extensions["atrium.engine"].transaction() as session:
        found = session.scalars(
            select(ProcessInstance)
            .where(
                ProcessInstance.process_key == "follow_up",
                ProcessInstance.business_key == f"client:{client_id}",
                ProcessInstance.status == status,
            )
            .order_by(ProcessInstance.started_at)
        ).all()
        session.expunge_all()
        return found


def audit_rows(app, action: str, target: str | None = None) -> list[AuditEntry]:
    with app.extensions["atrium.engine"].transaction() as session:
        query = select(AuditEntry).where(AuditEntry.action == action)
        if target is not None:
            query = query.where(AuditEntry.target == target)
        rows = session.scalars(query.order_by(AuditEntry.id)).all()
        session.expunge_all()
        return rows


# Created over the API ---------------------------------------------------------------------------------


def test_a_client_created_active_over_the_api_gets_its_cycle_and_an_audit_row(app, people):
    client_id = new_client(people["account_manager"])
    assert len(cycles(app, client_id)) == 1
    [row] = audit_rows(app, "client.create", f"client:{client_id}")
    assert row.actor == "account_manager" and row.outcome == "success"
    assert row.detail["status"] == "active" and row.detail["follow_up_cycle"] == "started"


# Changed over the API: status in and out of active; the audit row says what changed ------------------


def test_a_status_change_starts_or_cancels_the_cycle_and_the_audit_row_names_old_and_new_values(app, people):
    am = people["account_manager"]
    client_id = new_client(am, status="prospect", phones=["+44 20 7946 0000"], emails=["a@example.com"])
    assert cycles(app, client_id) == []
    changed = am.patch(
        f"/api/clients/{client_id}", json={"status": "active", "tier": "B", "phones": ["+44 20 7946 9999"]}
    )
    assert changed.status_code == 200, changed.json
    [cycle] = cycles(app, client_id)
    [row] = audit_rows(app, "client.update", f"client:{client_id}")
    assert row.actor == "account_manager"
    assert row.detail["changes"] == {"status": ["prospect", "active"], "tier": ["A", "B"], "phones": "changed"}
    assert "9999" not in json.dumps(row.detail) and "0000" not in json.dumps(row.detail)
    assert row.detail["follow_up_cycle"] == "started"

    assert am.patch(f"/api/clients/{client_id}", json={"status": "dormant"}).status_code == 200
    assert cycles(app, client_id) == [] and [c.id for c in cycles(app, client_id, "cancelled")] == [cycle.id]
    last = audit_rows(app, "client.update", f"client:{client_id}")[-1]
    assert last.detail["changes"] == {"status": ["active", "dormant"]} and last.detail["follow_up_cycle"] == "cancelled"


# Deleted and restored ---------------------------------------------------------------------------------


def test_delete_cancels_the_cycle_and_restore_starts_a_new_one_each_audited(app, people):
    am, admin = people["account_manager"], people["admin"]
    client_id = new_client(am)
    [first] = cycles(app, client_id)
    assert am.delete(f"/api/clients/{client_id}").status_code == 204
    assert cycles(app, client_id) == [] and [c.id for c in cycles(app, client_id, "cancelled")] == [first.id]
    [deleted] = audit_rows(app, "client.delete", f"client:{client_id}")
    assert deleted.actor == "account_manager" and deleted.detail["follow_up_cycle"] == "cancelled"

    assert admin.post(f"/api/clients/{client_id}/restore").status_code == 200
    [second] = cycles(app, client_id)
    assert second.id != first.id
    [restored] = audit_rows(app, "client.restore", f"client:{client_id}")
    assert restored.actor == "admin" and restored.detail["follow_up_cycle"] == "started"


def test_a_refused_delete_leaves_the_cycle_running_and_writes_no_delete_row(app, people):
    am = people["account_manager"]
    client_id = new_client(am)
    assert am.post(f"/api/clients/{client_id}/engagements", json={"service_type": "audit"}).status_code == 201
    refused = am.delete(f"/api/clients/{client_id}")
    assert refused.status_code == 409 and "engagements" in refused.json["detail"]
    assert "open process" not in refused.json["detail"]  # its own follow-up cycle is no reason to refuse
    assert len(cycles(app, client_id)) == 1
    assert audit_rows(app, "client.delete", f"client:{client_id}") == []


# Imported ---------------------------------------------------------------------------------------------


def test_an_imported_active_client_gets_its_cycle_and_each_imported_client_an_audit_row(app, people):
    content = (
        "Company,Status,Phone\nImported Active Ltd,active,+44 20 7946 1111\nImported Prospect Ltd,prospect,\n"
    ).encode()
    response = people["manager"].post(
        "/api/clients/import",
        content_type="multipart/form-data",
        data={
            "file": (io.BytesIO(content), "clients.csv"),
            "mapping": json.dumps({"Company": "name", "Status": "status", "Phone": "phones"}),
        },
    )
    assert response.status_code == 200, response.json
    active_id, prospect_id = response.json["client_ids"]
    assert len(cycles(app, active_id)) == 1
    assert cycles(app, prospect_id) == []
    for client_id in (active_id, prospect_id):
        [row] = audit_rows(app, "client.create", f"client:{client_id}")
        assert row.actor == "manager" and row.detail["source"] == "import"
        assert "1111" not in json.dumps(row.detail)
    [summary] = audit_rows(app, "client.import")
    assert summary.actor == "manager" and summary.target == "clients"
    assert summary.detail["client_ids"] == [active_id, prospect_id] and summary.detail["file"] == "clients.csv"


def test_an_import_starts_each_active_clients_cycle_in_turn_and_its_audit_row_says_so(app, people):
    """The cycles of an import start in bulk (one look-up of the process and of running cycles): still one
    per active client, each started before that client's audit row, which names it."""
    rows = "".join(f"Bulk {n} Ltd,{'active' if n % 3 else 'prospect'}\n" for n in range(6))
    response = people["manager"].post(
        "/api/clients/import",
        content_type="multipart/form-data",
        data={
            "file": (io.BytesIO(f"Company,Status\n{rows}".encode()), "clients.csv"),
            "mapping": json.dumps({"Company": "name", "Status": "status"}),
        },
    )
    assert response.status_code == 200, response.json
    for n, client_id in enumerate(response.json["client_ids"]):
        [created] = audit_rows(app, "client.create", f"client:{client_id}")
        if n % 3:
            [cycle] = cycles(app, client_id)
            assert created.detail["follow_up_cycle"] == "started"
            [started] = audit_rows(app, "instance.start", f"instance:{cycle.id}")
            assert started.id < created.id
        else:
            assert cycles(app, client_id) == [] and "follow_up_cycle" not in created.detail


def test_a_dry_run_import_starts_nothing_and_audits_nothing(app, people):
    content = b"Company,Status\nDry Run Ltd,active\n"
    response = people["manager"].post(
        "/api/clients/import",
        content_type="multipart/form-data",
        data={
            "file": (io.BytesIO(content), "clients.csv"),
            "mapping": json.dumps({"Company": "name", "Status": "status"}),
            "dry_run": "true",
        },
    )
    assert response.status_code == 200, response.json
    with app.extensions["atrium.engine"].transaction() as session:
        assert session.scalar(select(Client.id).where(Client.name == "Dry Run Ltd")) is None
        assert session.scalars(select(ProcessInstance.id).where(ProcessInstance.process_key == "follow_up")).all() == []
    assert audit_rows(app, "client.create") == [] and audit_rows(app, "client.import") == []


# Opened by an approved onboarding (a BPMN service task) ----------------------------------------------


def test_a_client_opened_by_an_approved_onboarding_gets_its_cycle_and_an_audit_row_by_the_approver(app, people):
    instance, review = onboarded_to_review(people, intake(owner="am_tax"))
    approved = people["partner"].post(f"/api/tasks/{review['id']}/complete", json={"data": {"decision": "approve"}})
    assert approved.status_code == 200, approved.json
    [client] = people["partner"].get("/api/clients?q=meridian").json["items"]
    assert client["status"] == "active"
    [cycle] = cycles(app, client["id"])
    assert cycle.started_by == "partner"
    [row] = audit_rows(app, "client.create", f"client:{client['id']}")
    assert row.actor == "partner" and row.detail["source"] == "onboarding"
    assert row.detail["instance_id"] == instance["id"] and row.detail["follow_up_cycle"] == "started"
    # What the approval made with the client is audited in the same step, as the approver's.
    contacts = audit_rows(app, "contact.create")
    [engagement] = audit_rows(app, "engagement.create")
    assert len(contacts) == 2 and {r.actor for r in [*contacts, engagement]} == {"partner"}
    assert engagement.target.startswith(f"client:{client['id']}/engagements/")


# Merged -----------------------------------------------------------------------------------------------


def test_a_merge_cancels_the_duplicates_cycle_and_leaves_the_survivor_exactly_one(app, people):
    am, partner = people["account_manager"], people["partner"]
    kept = new_client(am)
    duplicate = new_client(am)
    [kept_cycle] = cycles(app, kept)
    [duplicate_cycle] = cycles(app, duplicate)
    merged = partner.post(f"/api/clients/{kept}/merge", json={"from_client_id": duplicate})
    assert merged.status_code == 200, merged.json
    assert [c.id for c in cycles(app, kept)] == [kept_cycle.id]
    assert cycles(app, duplicate) == []
    assert duplicate_cycle.id in {c.id for c in cycles(app, kept, "cancelled")}  # its history moved with it
    [merge_row] = audit_rows(app, "client.merge", f"client:{kept}")
    assert merge_row.actor == "partner" and merge_row.detail["from_client_id"] == duplicate
    [away] = audit_rows(app, "client.merged_into", f"client:{duplicate}")
    assert away.actor == "partner" and away.detail["into_client_id"] == kept
    assert away.detail["follow_up_cycle"] == "cancelled"
    # The merge's own rows say it all: no separate update or delete rows for its inner steps.
    assert audit_rows(app, "client.update", f"client:{kept}") == []
    assert audit_rows(app, "client.delete", f"client:{duplicate}") == []


def test_a_merge_into_an_active_client_without_a_cycle_starts_one(app, people):
    am, partner = people["account_manager"], people["partner"]
    kept = new_client(am, status="prospect")
    duplicate = new_client(am, status="prospect")
    with app.extensions["atrium.engine"].transaction() as session:  # made active behind Atrium's back
        session.execute(update(Client).where(Client.id == kept).values(status="active"))
    assert partner.post(f"/api/clients/{kept}/merge", json={"from_client_id": duplicate}).status_code == 200
    assert len(cycles(app, kept)) == 1
    [merge_row] = audit_rows(app, "client.merge", f"client:{kept}")
    assert merge_row.detail["follow_up_cycle"] == "started"


# Called directly: no hook lists, the domain functions do it themselves ------------------------------


def test_the_domain_functions_keep_the_cycle_and_audit_without_the_api(app, people):
    engine = app.extensions["atrium.engine"]
    with engine.transaction() as session:
        client = client_service.create_client(
            session, engine, data={"name": "Scripted Ltd", "status": "active"}, actor=domain_audit.cli_actor()
        )
        client_id = client.id
    assert len(cycles(app, client_id)) == 1
    with engine.transaction() as session:
        client = session.get(Client, client_id)
        client_service.update_client(session, engine, client, data={"status": "former"}, actor="someone")
    assert cycles(app, client_id) == []
    [created] = audit_rows(app, "client.create", f"client:{client_id}")
    [changed] = audit_rows(app, "client.update", f"client:{client_id}")
    assert created.actor == domain_audit.cli_actor() and changed.actor == "someone"
    assert changed.detail["changes"] == {"status": ["active", "former"]}


def test_a_failed_change_leaves_neither_cycle_nor_audit_row(app, people):
    engine = app.extensions["atrium.engine"]
    with pytest.raises(RuntimeError), engine.transaction() as session:
        client = client_service.create_client(
            session, engine, data={"name": "Rolled Back Ltd", "status": "active"}, actor="someone"
        )
        client_id = client.id
        raise RuntimeError("the caller fails after the change")
    assert cycles(app, client_id) == [] and audit_rows(app, "client.create", f"client:{client_id}") == []


def test_merge_clients_called_directly_keeps_cycles_and_audits(app, people):
    am = people["account_manager"]
    kept, duplicate = new_client(am), new_client(am)
    engine = app.extensions["atrium.engine"]
    with engine.transaction() as session:
        merge_clients(session, engine, into_id=kept, from_id=duplicate, owners=None, actor="partner")
    assert len(cycles(app, kept)) == 1 and cycles(app, duplicate) == []
    assert [r.actor for r in audit_rows(app, "client.merge", f"client:{kept}")] == ["partner"]


# The CLI ----------------------------------------------------------------------------------------------


def test_cycles_started_for_clients_that_were_active_before_are_started_by_whoever_asked(app, people):
    from atrium.follow_up_cycles import start_missing_cycles

    client_id = new_client(people["account_manager"], status="prospect")
    engine = app.extensions["atrium.engine"]
    with engine.transaction() as session:  # made active behind Atrium's back
        session.execute(update(Client).where(Client.id == client_id).values(status="active"))
    with pytest.raises(TypeError):
        start_missing_cycles(engine)  # nobody: refused
    assert start_missing_cycles(engine, actor=domain_audit.cli_actor()) == 1
    [cycle] = cycles(app, client_id)
    assert cycle.started_by == domain_audit.cli_actor()

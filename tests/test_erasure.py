"""Erasure (issue 13): an admin asks, a second admin confirms, and the client's personal data is destroyed
beyond recovery (its data key too), while the figures about its cases stay; the retention policy erases
deleted and former clients after N years, telling the admins beforehand."""

from __future__ import annotations

import io
import sqlite3
import subprocess
from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from atrium.backup import Database
from atrium.erasure import certificate_intact, retention_job
from reports.statistics import satisfaction
from reports.tables import Filters
from storage import crypto
from storage.audit import AuditEntry
from storage.client_records import Complaint, FollowUp, ServiceRequest
from storage.clients import Client
from storage.erasures import Erasure

from .api_helpers import caller
from .conftest import LONG_TOKENS
from .factories import make_account, make_client
from .process_helpers import PROCESS_APP, deploy_firm_processes, people_of

pytestmark = PROCESS_APP

NAME = "Zebulon Quixote Holdings"
PHONE = "+86 138 0013 7777"
EMAIL = "zq@quixote-example.cn"
CONTACT = "Quentin Zebulonsson"
CONTACT_EMAIL = "quentin@quixote-example.cn"
SECRETS = ("Zebulon", "Quixote", "0013 7777", "13800137777", "quixote-example", "Quentin")
REASON = "The client asked us to erase their data under PIPL article 47."


@pytest.fixture
def people(client):
    people = people_of(client, ("admin2", "admin"))
    deploy_firm_processes(people["admin"])
    return people


def _session(app):
    return app.extensions["atrium.engine"].transaction()


def quixote(person) -> int:
    return make_client(
        person,
        name=NAME,
        phones=[PHONE],
        emails=[EMAIL],
        addresses=[{"street": "7 Zebulon Lane", "city": "Quixote Town"}],
        notes="Zebulon prefers calls before noon",
        owner="account_manager",
        tags=["quixote-vip"],
    )["id"]


def with_history(people, client_id: int) -> dict:
    """A contact, a complaint (its process then cancelled), a done follow-up and a rating, all naming
    the client: what erasure must leave nothing of."""
    am = people["account_manager"]
    contact = am.post(
        f"/api/clients/{client_id}/contacts",
        json={"name": CONTACT, "phones": ["+86 139 0013 7777"], "emails": [CONTACT_EMAIL], "notes": "Zebulon's CFO"},
    )
    assert contact.status_code == 201, contact.json
    complaint = people["service_desk"].post(
        f"/api/clients/{client_id}/complaints",
        json={"description": "Zebulon Quixote says the invoice for 0013 7777 was sent twice"},
    )
    assert complaint.status_code == 201, complaint.json
    follow_up = am.post(
        f"/api/clients/{client_id}/follow-ups",
        json={
            "channel": "call",
            "content": "Called Quentin at Zebulon Quixote",
            "outcome": "ok",
            "done_at": "2026-01-05T10:00:00Z",
        },
    )
    assert follow_up.status_code == 201, follow_up.json
    feedback = am.post(f"/api/clients/{client_id}/feedback", json={"csat": 2, "comment": "Quixote unhappy"})
    assert feedback.status_code == 201, feedback.json
    return {"complaint": complaint.json}


def dump(app) -> str:
    """Everything the database holds, as text: `pg_dump` of the schema on PostgreSQL; on SQLite the SQL
    dump and the raw bytes of the file (free pages included)."""
    database = Database.of(app.extensions["atrium.settings"].database_url)
    if database.backend == "postgresql":
        uri, env = database.libpq()
        done = subprocess.run(
            ["pg_dump", "--format=plain", f"--schema={database.schema}", f"--dbname={uri}"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout
    connection = sqlite3.connect(database.path)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        text = "\n".join(connection.iterdump())
    finally:
        connection.close()
    return text + database.path.read_bytes().decode("latin-1")


def test_a_second_admin_confirms_and_nothing_of_the_client_is_left_but_its_figures(app, people, clock):
    admin, admin2, am = people["admin"], people["admin2"], people["account_manager"]
    client_id = quixote(am)
    made = with_history(people, client_id)
    assert any(secret in dump(app) for secret in ("Zebulon", "Quixote"))  # the names are there before

    # A running complaint process blocks it, with the reason.
    refused = admin.post(f"/api/clients/{client_id}/erase", json={"reason": REASON})
    assert refused.status_code == 409
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert "running process instance" in refused.json["detail"]
    instance_id = made["complaint"]["instance_id"]
    assert admin.post(f"/api/process-instances/{instance_id}/cancel").status_code == 200

    asked = admin.post(f"/api/clients/{client_id}/erase", json={"reason": REASON})
    assert asked.status_code == 202, asked.json
    erasure = asked.json
    assert (erasure["status"], erasure["requested_by"], erasure["certificate"]) == ("requested", "admin", None)
    # The other admin is told; nothing is erased yet.
    told = admin2.get("/api/notifications").json["items"]
    assert [n["kind"] for n in told] == ["erasure_requested"]
    assert am.get(f"/api/clients/{client_id}").json["name"] == NAME
    # The requester cannot confirm their own request.
    own = admin.post(f"/api/erasures/{erasure['id']}/confirm")
    assert own.status_code == 403 and "second admin" in own.json["detail"]

    clock.advance(minutes=5)
    done = admin2.post(f"/api/erasures/{erasure['id']}/confirm")
    assert done.status_code == 200, done.json
    cert = done.json["certificate"]
    assert done.json["status"] == "done" and done.json["confirmed_by"] == "admin2"
    assert (cert["client_id"], cert["requested_by"], cert["confirmed_by"], cert["reason"]) == (
        client_id,
        "admin",
        "admin2",
        REASON,
    )
    destroyed = cert["destroyed"]
    assert destroyed["data_key"] is True and destroyed["contacts"] == 1 and destroyed["search_tokens"] > 0
    assert destroyed["process_instances"] >= 2  # the follow-up cycle and the complaint
    assert destroyed["case_texts"]["complaints"] == 1
    assert certificate_intact(cert)
    assert not certificate_intact({**cert, "confirmed_by": "mallory"})
    assert admin.get(f"/api/erasures/{erasure['id']}").json["certificate"] == cert
    # The certificate prints, in English or Chinese, to file.
    for lang, title in (("en", "Certificate of destruction"), ("zh-CN", "数据销毁证明")):
        printed = admin.get(f"/api/erasures/{erasure['id']}/certificate.pdf", headers={"Accept-Language": lang})
        assert printed.status_code == 200 and printed.mimetype == "application/pdf"
        text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(printed.data)).pages)
        assert title in text and cert["sha256"] in text.replace("\n", "") and "admin2" in text
    assert people["manager"].get(f"/api/erasures/{erasure['id']}/certificate.pdf").status_code == 403

    # Gone from every door, and not restorable.
    assert am.get(f"/api/clients/{client_id}").status_code == 404
    assert admin.get("/api/clients?q=Zebulon").json["items"] == []
    assert admin.get("/api/clients?q=13800137777").json["items"] == []
    restore = admin.post(f"/api/clients/{client_id}/restore")
    assert restore.status_code == 409 and "erased" in restore.json["detail"]
    # The whole database holds none of it: name, phones, emails, contact, case texts, process data.
    everything = dump(app)
    assert [s for s in SECRETS if s in everything] == []

    with _session(app) as session:
        key = session.get(crypto.ClientKey, client_id)
        assert key.wrapped_key is None and key.destroyed_at is not None
        row = session.get(Client, client_id)
        assert (row.name, row.erased_at is not None, row.tier, row.owner) == ("", True, "A", "account_manager")
        # The figures' rows stay: the complaint is counted, nameless.
        complaint = session.get(Complaint, made["complaint"]["id"])
        assert complaint.description == "" and complaint.severity
        assert session.scalar(select(FollowUp.outcome).where(FollowUp.client_id == client_id)) == "ok"
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.target == f"client:{client_id}").order_by(AuditEntry.id)
        ).all()
        assert actions[-2:] == ["client.erase_request", "client.erase"]
    # The erased client's complaint is still in the statistics.
    with _session(app) as session:
        period = Filters(clock.now().date() - timedelta(days=30), clock.now().date() + timedelta(days=1))
        by_severity = satisfaction.complaints_by_severity(session, period).as_dicts()
        assert sum(row["received"] for row in by_severity) == 1
    # Erasing twice is a conflict.
    again = admin.post(f"/api/clients/{client_id}/erase", json={"reason": REASON})
    assert again.status_code == 409 and "already erased" in again.json["detail"]


def test_open_engagements_block_an_erasure_and_a_withdrawn_request_cannot_be_confirmed(people):
    admin, admin2, am = people["admin"], people["admin2"], people["account_manager"]
    client_id = quixote(am)
    engagement = am.post(f"/api/clients/{client_id}/engagements", json={"service_type": "audit", "status": "active"})
    assert engagement.status_code == 201, engagement.json
    refused = admin.post(f"/api/clients/{client_id}/erase", json={"reason": REASON})
    assert refused.status_code == 409 and "open engagement" in refused.json["detail"]
    closed = am.patch(f"/api/clients/{client_id}/engagements/{engagement.json['id']}", json={"status": "completed"})
    assert closed.status_code == 200, closed.json
    asked = admin.post(f"/api/clients/{client_id}/erase", json={"reason": REASON})
    assert asked.status_code == 202
    twice = admin2.post(f"/api/clients/{client_id}/erase", json={"reason": REASON})
    assert twice.status_code == 409 and "already requested" in twice.json["detail"]
    assert admin2.post(f"/api/erasures/{asked.json['id']}/withdraw").json["status"] == "withdrawn"
    unprinted = admin2.get(f"/api/erasures/{asked.json['id']}/certificate.pdf")
    assert unprinted.status_code == 409 and "no certificate" in unprinted.json["detail"]
    late = admin2.post(f"/api/erasures/{asked.json['id']}/confirm")
    assert late.status_code == 409 and "withdrawn" in late.json["detail"]
    assert am.get(f"/api/clients/{client_id}").json["phones"] == [PHONE]


def test_only_admins_erase_and_bad_requests_name_the_field(people, client):
    am = people["account_manager"]
    client_id = quixote(am)
    for role in ("partner", "manager", "account_manager", "service_desk", "viewer"):
        person = people[role]
        assert person.post(f"/api/clients/{client_id}/erase", json={"reason": REASON}).status_code == 403
        assert person.get("/api/erasures").status_code == 403
        assert person.get("/api/erasures/due").status_code == 403
    assert client.post(f"/api/clients/{client_id}/erase", json={"reason": REASON}).status_code == 401
    short = people["admin"].post(f"/api/clients/{client_id}/erase", json={"reason": "gdpr"})
    assert short.status_code == 422 and "reason" in short.json["errors"]
    missing = people["admin"].post(f"/api/clients/{client_id}/erase", json={})
    assert missing.status_code == 422 and "reason" in str(missing.json["errors"])
    unknown = people["admin"].post("/api/clients/999999/erase", json={"reason": REASON})
    assert unknown.status_code == 404
    assert people["admin"].post("/api/erasures/999999/confirm").status_code == 404
    # Nothing was requested by any of these.
    assert people["admin"].get("/api/erasures").json["items"] == []
    # An erasure request is in Chinese for a Chinese reader.
    zh = people["admin"].post(
        f"/api/clients/{client_id}/erase", json={"reason": "gdpr"}, headers={"Accept-Language": "zh-CN"}
    )
    assert zh.status_code == 422 and "原因" in str(zh.json)


def test_a_refusal_and_its_reasons_read_in_the_callers_language(people):
    # Each reason is translated too: the refusal was "客户 5 不能销毁：it has 1 open engagement(s)".
    admin, am = people["admin"], people["account_manager"]
    client_id = quixote(am)
    with_history(people, client_id)  # a running complaint process
    engagement = am.post(f"/api/clients/{client_id}/engagements", json={"service_type": "audit", "status": "active"})
    assert engagement.status_code == 201, engagement.json
    english = admin.post(f"/api/clients/{client_id}/erase", json={"reason": REASON}).json["detail"]
    assert english.startswith(f"client {client_id} cannot be erased: it has 1 open engagement(s); it has ")
    zh = admin.post(f"/api/clients/{client_id}/erase", json={"reason": REASON}, headers={"Accept-Language": "zh-CN"})
    assert zh.status_code == 409
    detail = zh.json["detail"]
    assert detail.startswith(f"客户 {client_id} 不能销毁：有 1 个未结束的业务委托；有 ") and detail.endswith(
        "个运行中的流程实例"
    )
    assert "it has" not in detail


@pytest.mark.app(firm=True, erasure_confirmation=False)
def test_without_confirmation_one_admin_erases_at_once(people):
    client_id = quixote(people["account_manager"])
    done = people["admin"].post(f"/api/clients/{client_id}/erase", json={"reason": REASON})
    assert done.status_code == 200, done.json
    assert done.json["status"] == "done" and done.json["confirmed_by"] == "admin"
    assert people["account_manager"].get(f"/api/clients/{client_id}").status_code == 404


@pytest.mark.app(firm=True, erase_after_years=2, token_ttl_seconds=LONG_TOKENS)
def test_the_retention_policy_previews_then_erases_deleted_and_former_clients(app, people, clock):
    admin, am = people["admin"], people["account_manager"]
    gone = quixote(am)
    assert am.delete(f"/api/clients/{gone}").status_code in (200, 204)
    former = make_client(am, minimal=True, name="Former Client Ltd", status="former")["id"]
    live = make_client(am, minimal=True, name="Live Client Ltd", status="active")["id"]
    engine = app.extensions["atrium.engine"]

    clock.advance(days=2 * 365 - 10)
    preview = admin.get("/api/erasures/due?within_days=30").json
    assert preview["policy_years"] == 2
    assert sorted(item["client_id"] for item in preview["items"]) == sorted([gone, former])
    assert admin.get("/api/erasures/due?within_days=0").json["items"] == []
    assert retention_job(engine) == []  # nothing due yet, but the admins are told what will be
    told = [n for n in admin.get("/api/notifications?recipient=admin").json["items"] if n["kind"] == "erasure_preview"]
    assert len(told) == 1 and f"Client {gone}" in told[0]["body"]
    assert retention_job(engine) is None  # once a day
    # What blocks one is said in the reader's language.
    engagement = am.post(f"/api/clients/{former}/engagements", json={"service_type": "audit", "status": "active"})
    assert engagement.status_code == 201, engagement.json
    blocked = admin.get("/api/erasures/due?within_days=30", headers={"Accept-Language": "zh-CN"}).json["items"]
    assert {item["client_id"]: item["blockers"] for item in blocked}[former] == ["有 1 个未结束的业务委托"]
    closed = am.patch(f"/api/clients/{former}/engagements/{engagement.json['id']}", json={"status": "completed"})
    assert closed.status_code == 200, closed.json

    clock.advance(days=12)
    done = retention_job(engine)
    assert sorted(e.client_id for e in done) == sorted([gone, former])
    with _session(app) as session:
        erased = {c.id: c.erased_at is not None for c in session.scalars(select(Client))}
        assert erased == {gone: True, former: True, live: False}
        reasons = session.scalars(select(Erasure.reason)).all()
        assert all(r.startswith("retention policy") for r in reasons)
        actors = session.scalars(select(AuditEntry.actor).where(AuditEntry.action == "client.erase")).all()
        assert actors == ["scheduler", "scheduler"]
    assert am.get(f"/api/clients/{live}").status_code == 200


def test_an_erased_clients_service_request_still_counts(app, people):
    am = people["account_manager"]
    client_id = quixote(am)
    made = am.post(f"/api/clients/{client_id}/service-requests", json={"title": "Zebulon's VAT", "content": "x"})
    assert made.status_code == 201
    assert people["admin"].post(f"/api/process-instances/{made.json['instance_id']}/cancel").status_code == 200
    asked = people["admin"].post(f"/api/clients/{client_id}/erase", json={"reason": REASON})
    assert people["admin2"].post(f"/api/erasures/{asked.json['id']}/confirm").status_code == 200
    with _session(app) as session:
        request = session.get(ServiceRequest, made.json["id"])
        assert request.title == "" and request.content is None and request.priority == "normal"
    # The instance still shows, without its data.
    shown = people["admin"].get(f"/api/process-instances/{made.json['instance_id']}")
    assert shown.status_code == 200 and "Zebulon" not in str(shown.json)


def test_the_admin_is_told_in_their_language(app, client, people):
    make_account(people["admin"], "admin_zh", roles=["admin"])
    assert caller(client, "admin_zh").patch("/api/me", json={"locale": "zh-CN"}).status_code == 200
    client_id = quixote(people["account_manager"])
    assert people["admin"].post(f"/api/clients/{client_id}/erase", json={"reason": REASON}).status_code == 202
    with _session(app) as session:
        from storage.notifications import Notification

        subjects = dict(session.execute(select(Notification.recipient, Notification.subject)).all())
    assert subjects["admin_zh"] == f"客户 {client_id} 的数据销毁待您确认"
    assert subjects["admin2"] == f"Erasure of client {client_id} awaits your confirmation"

"""Findings of the security review of the finance integration (issue 15), each reproduced here: what the
idempotency store keeps of a client, who reads a client's billing, hostile ids and amounts, free text in
audit rows and erasure, webhook addresses."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from atrium import webhooks
from storage.audit import AuditEntry
from storage.integration_accounts import IdempotencyKey

from .billing_helpers import billing_people, client_of, engagement_of

pytestmark = pytest.mark.app(firm=True)


@pytest.fixture
def people(app):
    return billing_people(app)


def test_the_idempotency_store_keeps_no_contact_data_of_a_new_client(app, people):
    body = {
        "name": "Zebulon Quixote Ltd",
        "kind": "organisation",
        "phones": ["+86 138 0013 7777"],
        "emails": ["zq@quixote.example"],
        "notes": "Zebulon prefers mornings",
    }
    made = people["partner"].post("/api/clients", json=body, headers={"Idempotency-Key": "zq-1"})
    assert made.status_code == 201, made.json
    with app.extensions["atrium.engine"].transaction() as session:
        stored = " ".join(r.response_body or "" for r in session.scalars(select(IdempotencyKey)))
    assert "Zebulon" not in stored and "0013" not in stored and "quixote" not in stored
    again = people["partner"].post("/api/clients", json=body, headers={"Idempotency-Key": "zq-1"})
    assert again.status_code == 201 and again.json["id"] == made.json["id"]  # the retry still learns the id


def test_a_viewer_reads_a_client_s_billing_as_they_read_its_invoices(app, people):
    client_id = client_of(people["partner"])
    engagement = engagement_of(people["partner"], client_id)
    billing = people["viewer"].get(f"/api/clients/{client_id}/billing")
    invoices = people["viewer"].get(f"/api/engagements/{engagement['id']}/invoices")
    assert (billing.status_code, invoices.status_code) == (200, 200)


@pytest.mark.parametrize(
    "path",
    [
        "/api/invoices/99999999999999999999999",
        "/api/invoices/99999999999999999999999/payments",
        "/api/engagements/99999999999999999999999/time-entries",
        "/api/engagements/99999999999999999999999/invoices",
        "/api/events?after=99999999999999999999999",
    ],
)
def test_huge_ids_are_a_clear_answer_not_a_500(people, path):
    answer = people["admin"].get(path)
    assert answer.status_code in (404, 422), (path, answer.status_code)
    assert answer.headers["Content-Type"] == "application/problem+json"


def test_a_request_too_large_to_store_is_a_422_naming_the_period(people):
    client_id = client_of(people["partner"])
    engagement = engagement_of(people["partner"], client_id, fee_basis="retainer", fee_amount="900000000000.00")
    asked = people["partner"].post(
        f"/api/engagements/{engagement['id']}/invoice-requests",
        json={"period_start": "2020-01-01", "period_end": "2029-12-31"},
    )
    assert asked.status_code == 422, asked.json
    assert "period_end" in asked.json["errors"]


def test_a_payment_reference_stays_out_of_the_audit_trail(app, people):
    client_id = client_of(people["partner"])
    engagement = engagement_of(people["partner"], client_id)
    invoice = people["admin"].post(
        "/api/invoices",
        json={
            "number": "INV-H-1",
            "engagement_id": engagement["id"],
            "currency": "CNY",
            "net_amount": "100.00",
            "tax_amount": "0.00",
            "total_amount": "100.00",
            "issue_date": "2026-11-01",
            "due_date": "2026-12-01",
        },
    )
    assert invoice.status_code == 201, invoice.json
    paid = people["admin"].post(
        "/api/payments",
        json={
            "invoice_id": invoice.json["id"],
            "amount": "10.00",
            "paid_on": "2026-11-20",
            "reference": "ZEBULON QUIXOTE TRANSFER",
        },
    )
    assert paid.status_code == 201, paid.json
    with app.extensions["atrium.engine"].transaction() as session:
        details = [str(a.detail) for a in session.scalars(select(AuditEntry))]
    assert not [d for d in details if "ZEBULON" in d]


@pytest.mark.parametrize("address", ["64:ff9b::a00:1", "64:ff9b::a9fe:a9fe", "2002:a00:1::1", "::ffff:10.0.0.1"])
def test_ipv6_forms_of_private_addresses_are_refused(address):
    assert not webhooks._address_allowed(address, allow_private=False)

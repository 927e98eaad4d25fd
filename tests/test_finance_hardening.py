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


def _self_signed(tmp_path, name: str):
    """A certificate for `name` (and its key), signed by itself, as PEM files."""
    from datetime import datetime, timedelta, timezone

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


def test_a_webhook_goes_to_the_address_that_was_checked_with_tls_checked_for_the_name(tmp_path, monkeypatch):
    # DNS rebinding: the POST connects to the address the check resolved, never to a second lookup, and TLS
    # still verifies the certificate for the URL's name.
    import ssl
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer
    from urllib.parse import urlsplit

    import requests

    cert_file, key_file = _self_signed(tmp_path, "hooks.example")
    hosts = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            hosts.append(self.headers["Host"])
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = urlsplit(f"https://hooks.example:{server.server_port}/hook")
    try:
        # Not trusted: refused, though the name matches (the name is checked, not skipped).
        with pytest.raises(requests.exceptions.SSLError):
            webhooks._pinned_post(url, "127.0.0.1", b"{}", {}, timeout=5)
        # Trusted, and "hooks.example" resolves nowhere: it is the checked address that is reached.
        monkeypatch.setattr(requests.Session, "merge_environment_settings", _with_ca(cert_file))
        answer = webhooks._pinned_post(url, "127.0.0.1", b"{}", {}, timeout=5)
        assert answer.status_code == 204 and hosts == [f"hooks.example:{server.server_port}"]
    finally:
        server.shutdown()
        server.server_close()


def _with_ca(cert_file):
    """Session settings that trust `cert_file` (the session ignores the environment on purpose)."""
    import requests

    original = requests.Session.merge_environment_settings

    def merged(self, url, proxies, stream, verify, cert):
        settings = original(self, url, proxies, stream, verify, cert)
        settings["verify"] = str(cert_file)
        return settings

    return merged

"""Invoice requests (time, fixed fees, retainer months; never billed twice), invoices and payments from the
finance system (idempotent, adding up, never more than outstanding), overdue invoices' follow-ups (once),
the events in order, and the attacks on each endpoint."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from atrium import billing
from storage.billing import Invoice, InvoiceRequest, Payment, TimeEntry
from storage.client_records import FollowUp
from storage.notifications import Notification

from .billing_helpers import billing_people, client_of, engagement_of, events_of, integration_key
from .conftest import LONG_TOKENS

pytestmark = pytest.mark.app(firm=True)


@pytest.fixture
def people(app):
    return billing_people(app)


@pytest.fixture
def finance(people, client):
    """The finance system's integration: invoices and payments."""
    return integration_key(people["admin"], client, "kingdee", "invoices:write", "payments:write")


def rows(app, model, *where):
    with app.extensions["atrium.engine"].transaction() as session:
        found = session.scalars(select(model).where(*where).order_by(model.id)).all()
        session.expunge_all()
        return found


def time_on(person, engagement, hours="2.00", **fields) -> dict:
    body = {"work_date": "2026-01-05", "hours": hours, **fields}
    made = person.post(f"/api/engagements/{engagement['id']}/time-entries", json=body)
    assert made.status_code == 201, made.json
    return made.json


def request_url(engagement) -> str:
    return f"/api/engagements/{engagement['id']}/invoice-requests"


def invoice_body(**changes) -> dict:
    body = {
        "number": "INV-2026-0001",
        "currency": "CNY",
        "net_amount": "1000.00",
        "tax_amount": "60.00",
        "total_amount": "1060.00",
        "issue_date": "2026-01-05",
        "due_date": "2026-02-04",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def key(name: str) -> dict:
    return {"Idempotency-Key": name}


@pytest.fixture
def hourly(people):
    client_id = client_of(people["partner"])
    return engagement_of(people["partner"], client_id, responsible="partner", fee_amount="800.00")


@pytest.fixture
def invoice(people, finance, hourly) -> dict:
    made = finance.post("/api/invoices", json=invoice_body(engagement_id=hourly["id"]), headers=key("inv-1"))
    assert made.status_code == 201, made.json
    return made.json


# Invoice requests -------------------------------------------------------------------------------------------


def test_time_is_billed_per_person_at_the_hourly_fee_once(app, people, hourly):
    am, manager = people["account_manager"], people["manager"]
    first = time_on(am, hourly, "2.50")
    second = time_on(am, hourly, "1.25", work_date="2026-01-06")
    theirs = time_on(manager, hourly, "3.00")
    time_on(am, hourly, "4.00", billable=False)
    waiting = time_on(am, hourly, "9.00")  # pending approval: not billable yet
    assert waiting["status"] == "pending_approval"
    made = people["partner"].post(request_url(hourly), json={})
    assert made.status_code == 201, made.json
    request = made.json
    assert (request["status"], request["currency"], request["total"]) == ("requested", "CNY", "5400.00")
    assert [(line["kind"], line["quantity"], line["unit_amount"], line["amount"]) for line in request["lines"]] == [
        ("time", "3.75", "800.00", "3000.00"),
        ("time", "3.00", "800.00", "2400.00"),
    ]
    assert request["lines"][0]["time_entry_ids"] == [first["id"], second["id"]]
    assert request["lines"][1]["time_entry_ids"] == [theirs["id"]]
    linked = {e.id: e.invoice_request_id for e in rows(app, TimeEntry)}
    assert linked == {first["id"]: request["id"], second["id"]: request["id"], theirs["id"]: request["id"]} | {
        i: None for i in linked if i not in (first["id"], second["id"], theirs["id"])
    }
    [event] = events_of(app, hourly["client_id"], "invoice.")
    assert event.type == "invoice.requested" and event.data["total"] == "5400.00"
    assert event.data["lines"][0]["time_entry_ids"] == [first["id"], second["id"]]
    again = people["partner"].post(request_url(hourly), json={})
    assert again.status_code == 422, again.json
    assert again.json["errors"] == {
        "engagement_id": [f"nothing to bill: no unbilled billable time on engagement {hourly['id']}"]
    }
    listed = people["account_manager"].get(request_url(hourly)).json
    assert [r["id"] for r in listed["items"]] == [request["id"]]


def test_until_bills_only_time_worked_by_then(people, hourly):
    time_on(people["account_manager"], hourly, "1.00", work_date="2026-01-02")
    later = time_on(people["account_manager"], hourly, "1.00", work_date="2026-01-09")
    made = people["partner"].post(request_url(hourly), json={"until": "2026-01-05"}).json
    assert made["total"] == "800.00" and later["id"] not in made["lines"][0]["time_entry_ids"]


def test_a_fixed_fee_is_requested_once_and_its_time_is_covered_by_it(app, people):
    client_id = client_of(people["partner"])
    fixed = engagement_of(people["partner"], client_id, responsible="partner", fee_basis="fixed", fee_amount="4800")
    time_on(people["account_manager"], fixed, "5.00")
    made = people["partner"].post(request_url(fixed), json={})
    assert made.status_code == 201, made.json
    assert [(line["kind"], line["amount"]) for line in made.json["lines"]] == [("fixed_fee", "4800.00")]
    assert all(e.invoice_request_id is None for e in rows(app, TimeEntry))  # no rate: covered by the fee
    again = people["partner"].post(request_url(fixed), json={}, headers={"Accept-Language": "zh-CN"})
    assert again.status_code == 422
    assert again.json["errors"]["engagement_id"] == [f"没有可开票的内容：业务委托 {fixed['id']} 的固定费用已申请过开票"]


@pytest.mark.app(firm=True, billing_hourly_rate=Decimal("300"))
def test_with_a_rate_set_time_on_a_fixed_fee_engagement_is_billed_too(people):
    client_id = client_of(people["partner"])
    fixed = engagement_of(people["partner"], client_id, responsible="partner", fee_basis="fixed", fee_amount="1000")
    time_on(people["account_manager"], fixed, "2.00")
    made = people["partner"].post(request_url(fixed), json={}).json
    assert [(line["kind"], line["amount"]) for line in made["lines"]] == [("time", "600.00"), ("fixed_fee", "1000.00")]
    assert made["total"] == "1600.00"


def test_a_retainer_bills_each_month_of_the_period_once(people):
    client_id = client_of(people["partner"])
    retainer = engagement_of(
        people["partner"], client_id, responsible="partner", fee_basis="retainer", fee_amount="2000"
    )
    missing = people["partner"].post(request_url(retainer), json={})
    assert missing.status_code == 422 and set(missing.json["errors"]) == {"period_start", "period_end"}
    backwards = people["partner"].post(
        request_url(retainer), json={"period_start": "2026-03-01", "period_end": "2026-01-01"}
    )
    assert backwards.status_code == 422 and "period_end" in backwards.json["errors"]
    made = people["partner"].post(
        request_url(retainer), json={"period_start": "2026-01-01", "period_end": "2026-03-31"}
    )
    assert made.status_code == 201, made.json
    [line] = made.json["lines"]
    assert (line["kind"], line["quantity"], line["amount"], line["months"]) == (
        "retainer",
        "3.00",
        "6000.00",
        ["2026-01", "2026-02", "2026-03"],
    )
    overlapping = people["partner"].post(
        request_url(retainer), json={"period_start": "2026-02-15", "period_end": "2026-04-01"}
    )
    assert overlapping.json["lines"][0]["months"] == ["2026-04"] and overlapping.json["total"] == "2000.00"
    none_left = people["partner"].post(
        request_url(retainer), json={"period_start": "2026-01-01", "period_end": "2026-04-30"}
    )
    assert none_left.status_code == 422
    assert "every month from 2026-01 to 2026-04 was already requested" in none_left.json["detail"]


def test_concurrent_requests_bill_the_time_once(app, people, hourly):
    for _ in range(3):
        time_on(people["account_manager"], hourly, "1.00")
    partner, manager = people["partner"], people["manager"]
    barrier, answers = threading.Barrier(2), []

    def ask(person):
        own = type(person)(app.test_client(), person.token)
        barrier.wait()
        answers.append(own.post(request_url(hourly), json={}))

    threads = [threading.Thread(target=ask, args=(p,)) for p in (partner, manager)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(a.status_code for a in answers)
    assert codes[0] == 201 and codes[1] in (409, 422), [a.json for a in answers]
    [request] = rows(app, InvoiceRequest)
    assert {e.invoice_request_id for e in rows(app, TimeEntry)} == {request.id}
    assert len(events_of(app, hourly["client_id"], "invoice.requested")) == 1


def test_who_may_request_an_invoice(people):
    client_id = client_of(people["partner"])
    theirs = engagement_of(
        people["partner"], client_id, responsible="account_manager", fee_basis="fixed", fee_amount="10"
    )
    others = engagement_of(people["partner"], client_id, responsible="partner", fee_basis="fixed", fee_amount="10")
    assert people["account_manager"].post(request_url(theirs), json={}).status_code == 201  # the responsible
    refused = people["account_manager"].post(request_url(others), json={})
    assert refused.status_code == 403 and "responsible" in refused.json["detail"]
    assert people["service_desk"].post(request_url(others), json={}).status_code == 403  # no billing rights here
    assert people["viewer"].post(request_url(others), json={}).status_code == 403
    assert people["manager"].post(request_url(others), json={}).status_code == 201  # a lead


# Invoices ---------------------------------------------------------------------------------------------------


def test_the_finance_system_records_the_invoice_of_a_request(app, people, finance, hourly):
    time_on(people["account_manager"], hourly, "2.00")
    request = people["partner"].post(request_url(hourly), json={}).json
    body = invoice_body(
        invoice_request_id=request["id"], net_amount="1600.00", tax_amount="96.00", total_amount="1696.00"
    )
    made = finance.post("/api/invoices", json=body, headers=key("inv-req"))
    assert made.status_code == 201, made.json
    assert (made.json["engagement_id"], made.json["outstanding"], made.json["status"]) == (
        hourly["id"],
        "1696.00",
        "issued",
    )
    [stored] = rows(app, InvoiceRequest)
    assert stored.status == "invoiced"
    [event] = events_of(app, hourly["client_id"], "invoice.recorded")
    assert (event.data["number"], event.data["invoice_request_id"], event.actor) == (
        "INV-2026-0001",
        request["id"],
        "integration:kingdee",
    )
    second = finance.post("/api/invoices", json={**body, "number": "INV-2026-0002"}, headers=key("inv-req-2"))
    assert second.status_code == 409 and "not waiting for an invoice" in second.json["detail"]
    replay = finance.post("/api/invoices", json=body, headers=key("inv-req"))
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert len(rows(app, Invoice)) == 1


def test_an_invoice_that_does_not_add_up_is_a_422_naming_the_field(people, finance, hourly):
    body = invoice_body(engagement_id=hourly["id"], total_amount="1061.00")
    refused = finance.post("/api/invoices", json=body, headers=key("bad-total"))
    assert refused.status_code == 422
    assert refused.json["errors"] == {"total_amount": ["must be net_amount + tax_amount (1060.00)"]}
    early = finance.post(
        "/api/invoices", json=invoice_body(engagement_id=hourly["id"], due_date="2026-01-01"), headers=key("early")
    )
    assert early.status_code == 422 and "due_date" in early.json["errors"]
    other_currency_request = people["partner"].post(request_url(hourly), json={})
    assert other_currency_request.status_code == 422  # nothing to bill yet


def test_a_duplicate_invoice_number_is_a_409(people, finance, hourly, invoice):
    again = finance.post("/api/invoices", json=invoice_body(engagement_id=hourly["id"]), headers=key("inv-dup"))
    assert again.status_code == 409 and "INV-2026-0001" in again.json["detail"]


def test_an_admin_may_record_an_invoice_other_people_may_not(people, hourly):
    body = invoice_body(engagement_id=hourly["id"], number="INV-ADMIN")
    for role in ("partner", "manager", "account_manager", "service_desk", "viewer"):
        assert people[role].post("/api/invoices", json=body).status_code == 403, role
    assert people["admin"].post("/api/invoices", json=body).status_code == 201


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"net_amount": "-1.00", "total_amount": "59.00"}, "net_amount"),
        ({"tax_amount": "1.005"}, "tax_amount"),
        ({"total_amount": "Infinity"}, "total_amount"),
        ({"currency": "yuan"}, "currency"),
        ({"status": "paid"}, "status"),
        ({"number": ""}, "number"),
        ({"issue_date": "soon"}, "issue_date"),
        ({"paid_amount": "1060.00"}, "paid_amount"),
        ({"follow_up_id": 1}, "follow_up_id"),
        ({"engagement_id": None}, "engagement_id"),
        ({"engagement_id": 999999}, "engagement_id"),
        ({"engagement_id": None, "invoice_request_id": 999999}, "invoice_request_id"),
    ],
)
def test_hostile_invoices_are_a_422_naming_the_field(people, finance, hourly, changes, field):
    body = invoice_body(engagement_id=hourly["id"])
    body.update(changes)
    body = {k: v for k, v in body.items() if v is not None}
    refused = finance.post("/api/invoices", json=body, headers=key(f"hostile-{field}"))
    assert refused.status_code == 422, refused.json
    assert field in refused.json["errors"]


def test_integrations_need_the_scope_and_an_idempotency_key(people, client, finance, hourly):
    payments_only = integration_key(people["admin"], client, "bank", "payments:write")
    body = invoice_body(engagement_id=hourly["id"])
    assert payments_only.post("/api/invoices", json=body, headers=key("x")).status_code == 403
    no_key = finance.post("/api/invoices", json=body)
    assert no_key.status_code == 422 and "Idempotency-Key" in no_key.json["errors"]
    assert finance.get(f"/api/engagements/{hourly['id']}/invoices").status_code == 403  # reading is for people
    assert client.post("/api/invoices", json=body).status_code == 401
    assert client.post("/api/payments", json={}).status_code == 401


# Payments ---------------------------------------------------------------------------------------------------


def pay(finance, invoice, amount, name, **fields):
    body = {"invoice_id": invoice["id"], "amount": amount, "paid_on": "2026-01-20", "reference": "BANK-1", **fields}
    return finance.post("/api/payments", json=body, headers=key(name))


def test_payments_reduce_what_is_outstanding_and_never_below_zero(app, people, finance, invoice):
    first = pay(finance, invoice, "1000.00", "p1")
    assert first.status_code == 201, first.json
    assert (first.json["amount"], first.json["outstanding"]) == ("1000.00", "60.00")
    over = pay(finance, invoice, "60.01", "p2")
    assert over.status_code == 422
    assert over.json["errors"] == {"amount": ["at most the outstanding 60.00"]}
    by_number = finance.post(
        "/api/payments",
        json={"invoice_number": invoice["number"], "amount": "60.00", "paid_on": "2026-01-21"},
        headers=key("p3"),
    )
    assert by_number.status_code == 201 and by_number.json["outstanding"] == "0.00"
    [stored] = rows(app, Invoice)
    assert stored.paid_amount == Decimal("1060.00")
    recorded = events_of(app, invoice["client_id"], "payment.recorded")
    assert [(e.data["amount"], e.data["outstanding"]) for e in recorded] == [("1000.00", "60.00"), ("60.00", "0.00")]
    listed = people["account_manager"].get(f"/api/invoices/{invoice['id']}/payments").json
    assert [p["amount"] for p in listed["items"]] == ["60.00", "1000.00"]
    assert people["account_manager"].get(f"/api/clients/{invoice['client_id']}/payments").json["total"] == 2


@pytest.mark.parametrize(
    "body, field",
    [
        ({"amount": "0"}, "amount"),
        ({"amount": "-5.00"}, "amount"),
        ({"amount": "1.001"}, "amount"),
        ({"amount": "NaN"}, "amount"),
        ({"paid_on": "tomorrow"}, "paid_on"),
        ({"invoice_id": None}, "invoice_id"),
        ({"invoice_number": "INV-2026-0001"}, "invoice_id"),  # both given
        ({"invoice_id": 999999}, "invoice_id"),
        ({"reference": "r" * 101}, "reference"),
        ({"client_id": 1}, "client_id"),
    ],
)
def test_hostile_payments_are_a_422_naming_the_field(finance, invoice, body, field):
    sent = {"invoice_id": invoice["id"], "amount": "10.00", "paid_on": "2026-01-20", **body}
    sent = {k: v for k, v in sent.items() if v is not None}
    refused = finance.post("/api/payments", json=sent, headers=key(f"hostile-{field}-{len(sent)}"))
    assert refused.status_code == 422, refused.json
    assert field in refused.json["errors"]


def test_a_person_without_billing_rights_may_not_record_payments(people, client, invoice):
    body = {"invoice_id": invoice["id"], "amount": "10.00", "paid_on": "2026-01-20"}
    for role in ("partner", "manager", "account_manager", "service_desk", "viewer"):
        assert people[role].post("/api/payments", json=body).status_code == 403, role
    invoices_only = integration_key(people["admin"], client, "ledger", "invoices:write")
    assert invoices_only.post("/api/payments", json=body, headers=key("x")).status_code == 403
    assert people["admin"].post("/api/payments", json=body).status_code == 201


def test_concurrent_retries_of_one_payment_record_it_once(app, finance, invoice):
    barrier, answers = threading.Barrier(4), []

    def retry():
        own = type(finance)(app.test_client(), finance.key)
        barrier.wait()
        answers.append(pay(own, invoice, "500.00", "same-payment"))

    threads = [threading.Thread(target=retry) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(a.status_code for a in answers)
    assert codes.count(201) >= 1 and set(codes) <= {201, 409}, [a.json for a in answers]
    assert len(rows(app, Payment)) == 1
    [stored] = rows(app, Invoice)
    assert stored.paid_amount == Decimal("500.00")
    ids = {a.json["id"] for a in answers if a.status_code == 201}
    assert len(ids) == 1  # replays answer with the one payment


def test_concurrent_payments_never_take_an_invoice_past_its_total(app, finance, invoice):
    barrier, answers = threading.Barrier(3), []

    def pay_part(n):
        own = type(finance)(app.test_client(), finance.key)
        barrier.wait()
        answers.append(pay(own, invoice, "500.00", f"part-{n}"))

    threads = [threading.Thread(target=pay_part, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a.status_code for a in answers) == [201, 201, 422], [a.json for a in answers]
    [stored] = rows(app, Invoice)
    assert stored.paid_amount == Decimal("1000.00") == sum(p.amount for p in rows(app, Payment))


# Overdue invoices ---------------------------------------------------------------------------------------------


@pytest.mark.app(firm=True, token_ttl_seconds=LONG_TOKENS)
def test_an_overdue_invoice_gets_one_follow_up_for_the_owner_in_the_client_s_language(app, people, finance, clock):
    client_id = client_of(people["partner"], locale="zh-CN")
    engagement = engagement_of(people["partner"], client_id, responsible="partner")
    made = finance.post("/api/invoices", json=invoice_body(engagement_id=engagement["id"]), headers=key("od"))
    paid = finance.post(
        "/api/invoices", json=invoice_body(engagement_id=engagement["id"], number="INV-PAID"), headers=key("od2")
    ).json
    assert pay(finance, paid, "1060.00", "pay-all").status_code == 201
    engine = app.extensions["atrium.engine"]
    assert billing.start_overdue_follow_ups(engine) == 0  # not due yet
    clock.advance(timedelta(days=30))
    assert billing.start_overdue_follow_ups(engine) == 0  # due today: not overdue until tomorrow
    clock.advance(timedelta(days=1))
    assert billing.start_overdue_follow_ups(engine) == 1
    assert billing.start_overdue_follow_ups(engine) == 0  # once
    [follow_up] = rows(app, FollowUp)
    assert follow_up.content == "发票 INV-2026-0001 已逾期：未付 1060.00 CNY"
    invoice = people["account_manager"].get(f"/api/invoices/{made.json['id']}").json
    assert invoice["follow_up_id"] == follow_up.id
    [note] = [n for n in rows(app, Notification) if n.recipient == "account_manager"]
    assert "INV-2026-0001" in note.subject
    refused = people["account_manager"].post(f"/api/invoices/{made.json['id']}/follow-up")
    assert refused.status_code == 409


def test_two_schedulers_at_once_start_one_follow_up(app, people, finance, clock, invoice):
    clock.advance(timedelta(days=40))
    engine = app.extensions["atrium.engine"]
    barrier, started = threading.Barrier(2), []

    def run():
        barrier.wait()
        started.append(billing.start_overdue_follow_ups(engine))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(started) == [0, 1]
    assert len(rows(app, FollowUp)) == 1


def test_the_owner_or_a_lead_starts_an_invoice_s_follow_up_by_hand(app, people, invoice):
    url = f"/api/invoices/{invoice['id']}/follow-up"
    assert people["service_desk"].post(url).status_code == 403
    assert people["viewer"].post(url).status_code == 403
    made = people["account_manager"].post(url)  # the client's owner
    assert made.status_code == 201, made.json
    assert made.json["follow_up_id"] == rows(app, FollowUp)[0].id
    assert people["manager"].post(url).status_code == 409


def test_another_team_s_invoices_are_not_found(people, finance):
    client_id = client_of(people["partner"], owner="am_audit")
    theirs = engagement_of(people["partner"], client_id, responsible="partner")
    made = finance.post(
        "/api/invoices", json=invoice_body(engagement_id=theirs["id"], number="INV-A"), headers=key("a")
    )
    invoice_id = made.json["id"]
    for url in (
        f"/api/invoices/{invoice_id}",
        f"/api/invoices/{invoice_id}/payments",
        f"/api/engagements/{theirs['id']}/invoices",
        f"/api/engagements/{theirs['id']}/invoice-requests",
        f"/api/clients/{client_id}/invoices",
        f"/api/clients/{client_id}/payments",
    ):
        assert people["am_tax"].get(url).status_code == 404, url
        assert people["am_audit"].get(url).status_code == 200, url
    assert people["am_tax"].post(f"/api/invoices/{invoice_id}/follow-up").status_code == 404
    assert people["am_tax"].post(f"/api/engagements/{theirs['id']}/invoice-requests", json={}).status_code == 404
    assert people["viewer"].get(f"/api/invoices/{invoice_id}").status_code == 200  # read, as its client page
    assert people["viewer"].post(f"/api/invoices/{invoice_id}/follow-up").status_code == 403


def test_unknown_fields_and_unauthenticated_calls_are_refused(client, people, hourly):
    assert people["partner"].post(request_url(hourly), json={"total": "1"}).status_code == 422
    assert client.post(request_url(hourly), json={}).status_code == 401
    assert client.get(request_url(hourly)).status_code == 401
    assert client.get("/api/invoices/1").status_code == 401
    assert client.post("/api/invoices/1/follow-up").status_code == 401


# Events -----------------------------------------------------------------------------------------------------


def test_the_client_s_events_come_in_order_without_gaps(app, people, finance, hourly):
    time_on(people["account_manager"], hourly, "2.00")
    request = people["partner"].post(request_url(hourly), json={}).json
    body = invoice_body(
        invoice_request_id=request["id"], net_amount="1600.00", tax_amount="0.00", total_amount="1600.00"
    )
    invoice = finance.post("/api/invoices", json=body, headers=key("ev")).json
    pay(finance, invoice, "1600.00", "ev-pay")
    found = events_of(app, hourly["client_id"])
    assert [e.sequence for e in found] == list(range(1, len(found) + 1))
    assert [e.type for e in found if not e.type.startswith("client.")] == [
        "engagement.approved",  # created active
        "time_entry.recorded",
        "invoice.requested",
        "invoice.recorded",
        "payment.recorded",
    ]
    assert found[-1].data["outstanding"] == "0.00"

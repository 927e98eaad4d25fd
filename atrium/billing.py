"""What an engagement has earned, what the finance system invoiced and what the client paid.

- `request_invoice`: an invoice request of an engagement's unbilled billable time, its fixed fee (once)
  and its retainer months, for the finance system to invoice (event `invoice.requested`). The time
  entries are linked to the request by a conditional UPDATE, so no entry is billed twice.
- `record_invoice`: an invoice the finance system issued (event `invoice.recorded`); its request, if
  named, becomes `invoiced`.
- `record_payment`: a payment of an invoice, added to `paid_amount` by a conditional UPDATE that never
  takes it past the total (event `payment.recorded`).
- `start_overdue_follow_ups` / `follow_up_overdue`: an invoice past due and unpaid gets one follow-up for
  its client's owner (`invoices.follow_up_id` is set by a conditional UPDATE, so only once).

Every change is audited here; callers own the transaction (the scheduler's job owns its own)."""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from atrium import audit, clock, events, i18n, notifications
from atrium.client_records import create_record
from atrium.errors import Conflict, Forbidden, InvalidInput, NotFound
from atrium.opt_outs import mail_locale
from storage.billing import Invoice, InvoiceRequest, Payment, TimeEntry
from storage.client_records import Engagement, FollowUp
from storage.clients import Client

log = logging.getLogger(__name__)
CENT = Decimal("0.01")
BILLABLE_STATUSES = ("recorded", "approved")
OPEN_REQUEST = ("requested", "invoiced")  # a cancelled request bills nothing


MAX_AMOUNT = Decimal("999999999999.99")


def _money(value: Decimal) -> Decimal:
    return Decimal(value).quantize(CENT)


def request_target(request: InvoiceRequest) -> str:
    return f"client:{request.client_id}/invoice-requests/{request.id}"


def invoice_target(invoice: Invoice) -> str:
    return f"client:{invoice.client_id}/invoices/{invoice.id}"


def payment_target(payment: Payment) -> str:
    return f"client:{payment.client_id}/payments/{payment.id}"


def outstanding(invoice: Invoice) -> Decimal:
    return _money(invoice.total_amount - invoice.paid_amount)


def may_request(engagement: Engagement, *, actor: str, is_lead: bool) -> bool:
    return is_lead or (engagement.responsible is not None and engagement.responsible == actor)


# -- invoice requests ---------------------------------------------------------------------------------------


def _months(start: date, end: date) -> list[str]:
    """Each month from `start`'s to `end`'s, as YYYY-MM."""
    months, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _requested_lines(session: Session, engagement_id: int) -> list[dict]:
    rows = session.scalars(
        select(InvoiceRequest.lines).where(
            InvoiceRequest.engagement_id == engagement_id, InvoiceRequest.status.in_(OPEN_REQUEST)
        )
    ).all()
    return [line for lines in rows for line in (lines or [])]


def _time_lines(session: Session, engagement: Engagement, rate: Decimal, until: date | None, locale: str):
    """One line per person: their unbilled billable hours at `rate`."""
    statement = select(TimeEntry).where(
        TimeEntry.engagement_id == engagement.id,
        TimeEntry.billable.is_(True),
        TimeEntry.status.in_(BILLABLE_STATUSES),
        TimeEntry.invoice_request_id.is_(None),
    )
    if until is not None:
        statement = statement.where(TimeEntry.work_date <= until)
    entries = session.scalars(statement.order_by(TimeEntry.person, TimeEntry.work_date, TimeEntry.id)).all()
    by_person: dict[str, list[TimeEntry]] = {}
    for entry in entries:
        by_person.setdefault(entry.person, []).append(entry)
    lines = []
    for person, own in by_person.items():
        hours = sum((e.hours for e in own), Decimal("0"))
        lines.append(
            {
                "kind": "time",
                "description": i18n.translate(
                    "billing.line.time",
                    locale,
                    person=person,
                    first=own[0].work_date.isoformat(),
                    last=max(e.work_date for e in own).isoformat(),
                ),
                "quantity": str(_money(hours)),
                "unit_amount": str(_money(rate)),
                "amount": str(_money(hours * rate)),
                "time_entry_ids": [e.id for e in own],
            }
        )
    return lines


def request_invoice(
    session: Session, settings, engagement: Engagement, data: dict, *, actor: str, is_lead: bool
) -> InvoiceRequest:
    """Assemble and record an invoice request of `engagement` (see README-billing.md for the rules).
    data: `until` (bill time worked up to this day; default all), `period_start`/`period_end` (the months
    a retainer engagement is billed for; required for one). Nothing to bill: 422 naming why."""
    if not may_request(engagement, actor=actor, is_lead=is_lead):
        raise Forbidden("only a lead or the engagement's responsible partner may request an invoice")
    # The engagement's row is the serialisation point of its requests: a second request waits here until
    # the first commits, then finds its time, fee and months already requested (SQLite: BEGIN IMMEDIATE
    # serialises whole transactions anyway).
    session.execute(select(Engagement.id).where(Engagement.id == engagement.id).with_for_update()).scalar_one()
    client = session.get(Client, engagement.client_id)
    locale = mail_locale(client)
    fee = _money(engagement.fee_amount) if engagement.fee_amount is not None else None
    earlier = _requested_lines(session, engagement.id)
    reasons: list[str] = []
    lines: list[dict] = []

    rate = fee if engagement.fee_basis == "hourly" else settings.billing_hourly_rate
    if engagement.fee_basis == "hourly" and fee is None:
        reasons.append(f"engagement {engagement.id} is billed by the hour and has no fee_amount (its hourly rate)")
    elif rate is not None and rate > 0:
        time_lines = _time_lines(session, engagement, rate, data.get("until"), locale)
        lines += time_lines
        if not time_lines:
            reasons.append(f"no unbilled billable time on engagement {engagement.id}")

    if engagement.fee_basis == "fixed":
        if fee is None or fee <= 0:
            reasons.append(f"engagement {engagement.id} has no fixed fee_amount")
        elif any(line.get("kind") == "fixed_fee" for line in earlier):
            reasons.append(f"the fixed fee of engagement {engagement.id} was already requested")
        else:
            lines.append(
                {
                    "kind": "fixed_fee",
                    "description": i18n.translate("billing.line.fixed_fee", locale, service=engagement.service_type),
                    "quantity": "1.00",
                    "unit_amount": str(fee),
                    "amount": str(fee),
                }
            )

    if engagement.fee_basis == "retainer":
        start, end = data.get("period_start"), data.get("period_end")
        if start is None or end is None:
            raise InvalidInput(
                "a retainer engagement is billed for a period: give period_start and period_end",
                {
                    **({"period_start": ["required for a retainer"]} if start is None else {}),
                    **({"period_end": ["required for a retainer"]} if end is None else {}),
                },
            )
        if end < start:
            raise InvalidInput("period_end is before period_start", {"period_end": ["before period_start"]})
        asked = _months(start, end)
        if len(asked) > 120:
            raise InvalidInput("a retainer period is at most 120 months", {"period_end": ["at most 120 months"]})
        billed = {m for line in earlier if line.get("kind") == "retainer" for m in line.get("months", [])}
        months = [m for m in asked if m not in billed]
        if fee is None or fee <= 0:
            reasons.append(f"engagement {engagement.id} has no retainer fee_amount")
        elif not months:
            reasons.append(f"every month from {asked[0]} to {asked[-1]} was already requested")
        else:
            lines.append(
                {
                    "kind": "retainer",
                    "description": i18n.translate(
                        "billing.line.retainer",
                        locale,
                        service=engagement.service_type,
                        first=months[0],
                        last=months[-1],
                    ),
                    "quantity": f"{len(months)}.00",
                    "unit_amount": str(fee),
                    "amount": str(_money(fee * len(months))),
                    "months": months,
                }
            )

    if not lines:
        why = "; ".join(reasons) or f"fee basis {engagement.fee_basis} bills nothing by itself"
        raise InvalidInput(
            f"nothing to bill on engagement {engagement.id}: {why}", {"engagement_id": [f"nothing to bill: {why}"]}
        )
    total = _money(sum((Decimal(line["amount"]) for line in lines), Decimal("0")))
    if total > MAX_AMOUNT:  # what Numeric(14, 2) holds: a larger request is refused, not a 500
        field = "period_end" if data.get("period_end") else "engagement_id"
        raise InvalidInput(
            f"the request would total {total}, more than {MAX_AMOUNT}; ask for a shorter period",
            {field: [f"the request would total more than {MAX_AMOUNT}; bill a shorter period"]},
        )
    request = InvoiceRequest(
        engagement_id=engagement.id,
        client_id=engagement.client_id,
        status="requested",
        currency=settings.billing_currency,
        lines=lines,
        total=total,
        requested_by=actor,
        requested_at=clock.now(),
    )
    session.add(request)
    session.flush()
    entry_ids = [i for line in lines for i in line.get("time_entry_ids", [])]
    if entry_ids:
        linked = session.execute(
            update(TimeEntry)
            .where(
                TimeEntry.id.in_(entry_ids),
                TimeEntry.invoice_request_id.is_(None),
                TimeEntry.status.in_(BILLABLE_STATUSES),
            )
            .values(invoice_request_id=request.id)
            .execution_options(synchronize_session=False)
        ).rowcount
        if linked != len(entry_ids):
            raise Conflict("some of this time was just requested or voided by someone else; reload and try again")
    audit.record(
        session,
        "invoice_request.create",
        actor=actor,
        target=request_target(request),
        detail={
            "engagement_id": engagement.id,
            "currency": request.currency,
            "total": str(total),
            "lines": [{k: line[k] for k in ("kind", "quantity", "amount")} for line in lines],
            "time_entry_ids": entry_ids,
        },
    )
    events.emit(
        session,
        "invoice.requested",
        aggregate=("client", request.client_id),
        data={
            "client_id": request.client_id,
            "engagement_id": engagement.id,
            "invoice_request_id": request.id,
            "currency": request.currency,
            "lines": [{k: v for k, v in line.items() if k != "months"} for line in lines],
            "total": total,
        },
        actor=actor,
    )
    return request


# -- invoices -------------------------------------------------------------------------------------------------


def record_invoice(session: Session, data: dict, *, actor: str) -> Invoice:
    """An invoice the finance system issued. data: number, engagement_id and/or invoice_request_id,
    currency, net_amount, tax_amount, total_amount (= net + tax), issue_date, due_date, status?"""
    errors: dict[str, list[str]] = {}
    net, tax, total = (_money(data[name]) for name in ("net_amount", "tax_amount", "total_amount"))
    if net + tax != total:
        errors["total_amount"] = [f"must be net_amount + tax_amount ({net + tax})"]
    if data["due_date"] < data["issue_date"]:
        errors["due_date"] = ["before issue_date"]
    request = None
    engagement_id = data.get("engagement_id")
    if data.get("invoice_request_id") is not None:
        request = session.get(InvoiceRequest, data["invoice_request_id"])
        if request is None:
            raise InvalidInput(
                f"invoice request {data['invoice_request_id']} does not exist",
                {"invoice_request_id": ["no such invoice request"]},
            )
        if engagement_id is not None and engagement_id != request.engagement_id:
            errors["engagement_id"] = [f"invoice request {request.id} is of engagement {request.engagement_id}"]
        engagement_id = request.engagement_id
        if data["currency"] != request.currency:
            errors["currency"] = [f"the invoice request is in {request.currency}"]
    elif engagement_id is None:
        errors["engagement_id"] = ["give engagement_id or invoice_request_id"]
    if errors:
        raise InvalidInput("the invoice does not add up: " + ", ".join(sorted(errors)), errors)
    engagement = session.get(Engagement, engagement_id)
    if engagement is None:
        raise InvalidInput(f"engagement {engagement_id} does not exist", {"engagement_id": ["no such engagement"]})
    if session.scalar(select(Invoice.id).where(Invoice.number == data["number"])) is not None:
        raise Conflict(f"invoice {data['number']} is already recorded")
    now = clock.now()
    invoice = Invoice(
        number=data["number"],
        invoice_request_id=request.id if request else None,
        engagement_id=engagement.id,
        client_id=engagement.client_id,
        currency=data["currency"],
        net_amount=net,
        tax_amount=tax,
        total_amount=total,
        paid_amount=Decimal("0.00"),
        issue_date=data["issue_date"],
        due_date=data["due_date"],
        status=data.get("status") or "issued",
        created_at=now,
        updated_at=now,
    )
    session.add(invoice)
    session.flush()
    if request is not None:
        marked = session.execute(
            update(InvoiceRequest)
            .where(InvoiceRequest.id == request.id, InvoiceRequest.status == "requested")
            .values(status="invoiced")
            .execution_options(synchronize_session=False)
        ).rowcount
        if not marked:
            raise Conflict(f"invoice request {request.id} is {request.status}, not waiting for an invoice")
        audit.record(
            session,
            "invoice_request.invoice",
            actor=actor,
            target=request_target(request),
            detail={"status": ["requested", "invoiced"], "invoice_id": invoice.id},
        )
    audit.record(
        session,
        "invoice.create",
        actor=actor,
        target=invoice_target(invoice),
        detail={
            "number": invoice.number,
            "invoice_request_id": invoice.invoice_request_id,
            "engagement_id": invoice.engagement_id,
            "currency": invoice.currency,
            "net_amount": str(net),
            "tax_amount": str(tax),
            "total_amount": str(total),
            "issue_date": invoice.issue_date.isoformat(),
            "due_date": invoice.due_date.isoformat(),
            "status": invoice.status,
        },
    )
    events.emit(
        session,
        "invoice.recorded",
        aggregate=("client", invoice.client_id),
        data={
            "client_id": invoice.client_id,
            "engagement_id": invoice.engagement_id,
            "invoice_id": invoice.id,
            "invoice_request_id": invoice.invoice_request_id,
            "number": invoice.number,
            "currency": invoice.currency,
            "net_amount": net,
            "tax_amount": tax,
            "total_amount": total,
            "issue_date": invoice.issue_date,
            "due_date": invoice.due_date,
            "status": invoice.status,
        },
        actor=actor,
    )
    return invoice


# -- payments -------------------------------------------------------------------------------------------------


def invoice_of(session: Session, *, invoice_id: int | None, number: str | None) -> Invoice:
    if invoice_id is not None:
        invoice = session.get(Invoice, invoice_id)
    else:
        invoice = session.scalar(select(Invoice).where(Invoice.number == number))
    if invoice is None:
        field = "invoice_id" if invoice_id is not None else "invoice_number"
        raise InvalidInput(f"invoice {invoice_id or number} does not exist", {field: ["no such invoice"]})
    return invoice


def record_payment(session: Session, data: dict, *, actor: str) -> tuple[Payment, Invoice]:
    """A payment of an invoice (data: invoice_id or invoice_number, amount > 0, paid_on, reference?).
    `paid_amount` grows by a conditional UPDATE that holds only while the payment fits what is outstanding:
    two payments at once are both counted, or the one that no longer fits is refused (422)."""
    amount = _money(data["amount"])
    if amount <= 0:
        raise InvalidInput("amount must be more than 0", {"amount": ["more than 0"]})
    invoice = invoice_of(session, invoice_id=data.get("invoice_id"), number=data.get("invoice_number"))
    if invoice.status != "issued":
        raise Conflict(f"invoice {invoice.number} is {invoice.status}; it takes no payments")
    now = clock.now()
    added = session.execute(
        update(Invoice)
        .where(Invoice.id == invoice.id, Invoice.paid_amount + amount <= Invoice.total_amount)
        .values(paid_amount=Invoice.paid_amount + amount, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.refresh(invoice)
    if not added:
        raise InvalidInput(
            f"amount {amount} is more than invoice {invoice.number}'s outstanding {outstanding(invoice)}",
            {"amount": [f"at most the outstanding {outstanding(invoice)}"]},
        )
    payment = Payment(
        invoice_id=invoice.id,
        client_id=invoice.client_id,
        amount=amount,
        paid_on=data["paid_on"],
        reference=data.get("reference"),
        recorded_by=actor,
        recorded_at=now,
    )
    session.add(payment)
    session.flush()
    left = outstanding(invoice)
    audit.record(
        session,
        "payment.create",
        actor=actor,
        target=payment_target(payment),
        detail={
            "invoice_id": invoice.id,
            "amount": str(amount),
            "paid_on": payment.paid_on.isoformat(),
            "reference": "given" if payment.reference else None,  # free text: never in the audit trail
            "paid_amount": [str(_money(invoice.paid_amount - amount)), str(_money(invoice.paid_amount))],
        },
    )
    events.emit(
        session,
        "payment.recorded",
        aggregate=("client", invoice.client_id),
        data={
            "client_id": invoice.client_id,
            "invoice_id": invoice.id,
            "payment_id": payment.id,
            "amount": amount,
            "paid_on": payment.paid_on,
            "outstanding": left,
        },
        actor=actor,
    )
    return payment, invoice


# -- overdue invoices -----------------------------------------------------------------------------------------


def overdue_condition(today: date):
    return (
        Invoice.status == "issued",
        Invoice.due_date < today,
        Invoice.paid_amount < Invoice.total_amount,
    )


def follow_up_overdue(engine, session: Session, invoice: Invoice, *, actor: str | None) -> FollowUp:
    """A follow-up for the client's owner about an unpaid invoice past its due date: a planned follow-up
    (atrium.client_records.create_record, audited `follow_up.create`) whose notes say so in the client's
    language, the owner told, and the invoice linked to it (`invoice.follow_up`). Once per invoice: the
    link is a conditional UPDATE on `follow_up_id IS NULL`; a second caller gets Conflict (409) and its
    transaction rolls back with its follow-up."""
    if invoice.status != "issued" or outstanding(invoice) <= 0:
        raise Conflict(f"invoice {invoice.number} is not outstanding")
    if invoice.follow_up_id is not None:
        raise Conflict(f"invoice {invoice.number} already has follow-up {invoice.follow_up_id}")
    client = session.get(Client, invoice.client_id)
    left = outstanding(invoice)
    text = i18n.translate(
        "billing.overdue.follow_up",
        mail_locale(client),
        number=invoice.number,
        outstanding=left,
        currency=invoice.currency,
    )
    follow_up = create_record(
        engine,
        session,
        FollowUp,
        invoice.client_id,
        {"planned_at": clock.now(), "channel": "call", "content": text},
        actor=actor,
    )
    linked = session.execute(
        update(Invoice)
        .where(Invoice.id == invoice.id, Invoice.follow_up_id.is_(None))
        .values(follow_up_id=follow_up.id, updated_at=clock.now())
        .execution_options(synchronize_session=False)
    ).rowcount
    if not linked:
        raise Conflict(f"invoice {invoice.number} was just given a follow-up by someone else")
    session.refresh(invoice)
    audit.record(
        session,
        "invoice.follow_up",
        actor=actor,
        target=invoice_target(invoice),
        detail={"follow_up_id": follow_up.id, "outstanding": str(left), "due_date": invoice.due_date.isoformat()},
    )
    if client is not None and client.owner:
        notifications.queue(
            session,
            kind="outcome",
            recipient=client.owner,
            subject="notification.invoice_overdue.subject",
            body="notification.invoice_overdue.body",
            params={
                "number": invoice.number,
                "client": client.name,
                "outstanding": str(left),
                "currency": invoice.currency,
                "due": invoice.due_date.isoformat(),
            },
            actor=actor,
            client_id=client.id,
        )
    return follow_up


def start_overdue_follow_ups(engine) -> int:
    """The scheduler's daily job (polled hourly; an invoice with a follow-up is not looked at again):
    one follow-up per unpaid invoice past due. Each invoice in its own transaction, so one failure or a
    second scheduler winning an invoice costs only that invoice. Returns how many follow-ups it started."""
    today = clock.now().date()
    with engine.transaction() as session:
        ids = session.scalars(
            select(Invoice.id)
            .where(*overdue_condition(today), Invoice.follow_up_id.is_(None))
            .order_by(Invoice.due_date, Invoice.id)
        ).all()
    started = 0
    for invoice_id in ids:
        try:
            with engine.transaction() as session:
                invoice = session.get(Invoice, invoice_id)
                if invoice is None or invoice.follow_up_id is not None:
                    continue
                follow_up_overdue(engine, session, invoice, actor=audit.SCHEDULER)
                started += 1
        except Conflict:
            continue  # another scheduler took it, or it was paid meanwhile
        except Exception:
            log.exception("could not start the follow-up of overdue invoice %s", invoice_id)
    return started


def invoice_or_raise(session: Session, invoice_id: int) -> Invoice:
    invoice = session.get(Invoice, invoice_id)
    if invoice is None:
        raise NotFound(f"invoice {invoice_id} not found")
    return invoice

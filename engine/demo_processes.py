"""Demo instances of the firm's business processes, in various states, so a first run's inboxes
are alive: onboardings and approvals waiting on partners and managers, service requests and
complaints at different steps, a follow-up cycle for every active client, and relationship care switched
on with the clients' birthdays and anniversaries.

Each seed runs only when its process is deployed, and only once: it looks for instances the demo
started (`started_by` one of the demo people) before starting any."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from atrium import clock, follow_up_cycles
from atrium.care_dates import record_care_date
from atrium.care_settings import care_settings, set_care_settings
from atrium.complaints import record_complaint
from atrium.service_requests import record_request
from engine.demo_firm import DEMO_PEOPLE
from storage.billing import TimeEntry
from storage.care import CareDate
from storage.client_records import Engagement
from storage.clients import Client, Contact
from storage.instances import ProcessInstance
from storage.tasks import open_tasks

ACCOUNT_MANAGER, DESK = "am", "desk"
DEMO_USERNAMES = frozenset(p.username for p in DEMO_PEOPLE)


def _seeded(session: Session, process_key: str, actor: str) -> bool:
    return session.scalar(
        select(exists().where(ProcessInstance.process_key == process_key, ProcessInstance.started_by == actor))
    )


def _complete_first(engine, session: Session, instance_id, element_id: str, data: dict, actor: str) -> None:
    task = next(t for t in open_tasks(session, instance_id=instance_id) if t.element_id == element_id)
    engine.complete_task(session, task_id=task.id, data=data, actor=actor)


def seed_onboardings(engine, session: Session, clients: list[Client]) -> list[str]:
    """One prospect being described by its account manager, one waiting for a partner's approval."""
    if _seeded(session, "client_onboarding", ACCOUNT_MANAGER):
        return ["Demo onboardings already exist."]
    draft = engine.start_instance(session, process_key="client_onboarding", actor=ACCOUNT_MANAGER)
    waiting = engine.start_instance(session, process_key="client_onboarding", actor=ACCOUNT_MANAGER)
    _complete_first(
        engine,
        session,
        waiting.id,
        "intake",
        {
            "client_name": "Lakeside Dental Group",
            "kind": "organisation",
            "industry": "healthcare",
            "tier": "B",
            "phones": ["+44 161 555 0199"],
            "emails": ["office@lakeside-dental.example"],
            "contacts": [{"name": "Priya Shah", "role": "Practice manager"}],
            "engagement": {
                "service_type": "advisory",
                "description": "Practice acquisition due diligence",
                "fee_basis": "fixed",
                "fee_amount": 9500,
                "adverse_parties": ["Northgate Clinics"],
            },
            "owner": ACCOUNT_MANAGER,
        },
        ACCOUNT_MANAGER,
    )
    return [
        f"Started client_onboarding {draft.id} (intake open for {ACCOUNT_MANAGER}) and {waiting.id} "
        "(waiting for a partner's approval)."
    ]


def seed_approvals(engine, session: Session, clients: list[Client]) -> list[str]:
    """A discount for a manager to decide and a large fee for a partner."""
    if _seeded(session, "approval", ACCOUNT_MANAGER):
        return ["Demo approvals already exist."]
    lines = []
    # About a client of the requester's: the check sends a request about a client they may not see back.
    own = [c for c in clients if c.owner == ACCOUNT_MANAGER]
    for kind, amount, justification in (
        ("discount", 800, "Loyalty discount on the annual retainer"),
        ("fee", 42000, "Fixed fee for the group restructuring"),
    ):
        instance = engine.start_instance(session, process_key="approval", actor=ACCOUNT_MANAGER)
        data = {"kind": kind, "amount": amount, "justification": justification}
        if own:
            data["client_id"] = own[0].id
        _complete_first(engine, session, instance.id, "submit", data, ACCOUNT_MANAGER)
        lines.append(f"Started approval {instance.id}: {kind} of {amount} waiting for a decision.")
    return lines


def seed_service_requests(engine, session: Session, clients: list[Client]) -> list[str]:
    """Three new requests: two waiting for triage, one triaged and waiting to be assigned."""
    if _seeded(session, "service_request", DESK) or len(clients) < 3:
        return ["Demo service requests already exist."]
    lines = []
    titles = ("Question about the VAT return", "Update our registered address", "Copy of last year's accounts")
    for number, (client, title) in enumerate(zip(clients[:3], titles)):
        request = record_request(
            engine,
            session,
            client.id,
            {"title": title, "content": title, "priority": "normal", "source": "staff"},
            actor=DESK,
        )
        instance_id = request.instance_id
        if number == 0:
            _complete_first(
                engine, session, instance_id, "triage", {"decision": "accept", "type": "tax", "priority": "high"}, DESK
            )
        lines.append(f"Recorded service request #{request.id} for {client.name}: instance {instance_id}.")
    return lines


def seed_complaints(engine, session: Session, clients: list[Client]) -> list[str]:
    """Two complaints: one waiting to be acknowledged, one acknowledged and under investigation."""
    if _seeded(session, "complaint", DESK) or len(clients) < 5:
        return ["Demo complaints already exist."]
    lines = []
    for number, (client, severity, text) in enumerate(
        ((clients[3], "medium", "Invoice sent twice"), (clients[4], "high", "Deadline for the filing was missed"))
    ):
        complaint = record_complaint(
            engine, session, client.id, {"severity": severity, "description": text}, actor=DESK
        )
        if number == 1:
            _complete_first(engine, session, complaint.instance_id, "acknowledge", {"acknowledged_via": "phone"}, DESK)
        lines.append(f"Recorded complaint #{complaint.id} for {client.name}: instance {complaint.instance_id}.")
    return lines


def seed_follow_up_cycles(engine, session: Session, clients: list[Client]) -> list[str]:
    """A follow-up cycle for every active demo client (the ones already running are left alone)."""
    started = sum(
        follow_up_cycles.sync_cycle(engine, session, client, actor="demo") == "started"
        for client in clients
        if follow_up_cycles.wants_cycle(client)
    )
    return [
        f"Started {started} follow-up cycles for active demo clients."
        if started
        else "The demo clients' follow-up cycles already run."
    ]


def _is_chinese(text: str) -> bool:
    return any("\u4e00" <= char <= "\u9fff" for char in text)


def seed_care(engine, session: Session, clients: list[Client], *, seed: int = 2026) -> list[str]:
    """Care dates for the demo clients (a person's birthday, an organisation's founding anniversary, some
    contacts' birthdays, lunar for about a third of the Chinese ones), each client's mail language from its
    name, and care switched on, which starts every active client's care cycle. The first few active A and
    B clients have a birthday in the coming days, so their owners' care tasks are in the inbox at once."""
    if care_settings(session)["enabled"] or session.scalar(select(exists().where(CareDate.created_by == "demo"))):
        return ["Demo care dates exist and care is on already."]
    rng = random.Random(seed)
    today = clock.now().date()
    contacts: dict[int, list[Contact]] = {}
    for contact in session.scalars(select(Contact).where(Contact.client_id.in_([c.id for c in clients]))):
        contacts.setdefault(contact.client_id, []).append(contact)
    soon = [c for c in clients if c.status == "active" and c.tier in ("A", "B")][:4]
    made = 0
    for client in clients:
        chinese = _is_chinese(client.name)
        client.locale = "zh-CN" if chinese else "en"
        lunar = chinese and rng.random() < 0.35
        when = {"calendar": "lunar" if lunar else "gregorian", "month": rng.randint(1, 12), "day": rng.randint(1, 28)}
        first_contact = (contacts.get(client.id) or [None])[0]
        if client in soon and first_contact is not None:
            near = today + timedelta(days=3 + soon.index(client))
            dates = [{"kind": "birthday", "contact_id": first_contact.id, "month": near.month, "day": near.day}]
        elif client.kind == "person":
            dates = [{"kind": "birthday", **when, "year": rng.randint(1955, 1995)}]
        else:
            dates = [{"kind": "founding_anniversary", **when, "year": rng.randint(1990, 2020)}]
            dates += [
                {"kind": "birthday", "contact_id": contact.id, "month": rng.randint(1, 12), "day": rng.randint(1, 28)}
                for contact in contacts.get(client.id, [])
                if rng.random() < 0.5
            ]
        for data in dates:
            record_care_date(engine, session, client, {"calendar": "gregorian", **data}, actor="demo")
            made += 1
    settings = set_care_settings(engine, session, {**care_settings(session), "enabled": True}, actor="demo")
    return [f"Recorded {made} demo care dates and switched care on (tiers: {', '.join(settings['tiers'])})."]


def seed_billing(engine, session: Session, clients: list[Client]) -> list[str]:
    """Time on the first active hourly and fixed-fee engagements of the demo firm, billed: an invoice request
    each, the finance system's invoice for it (one paid, one partly paid, one overdue, in turn) and a payment,
    through the same functions as the API; and one long day waiting for its partner's approval. So a first
    run's Billing tabs have figures and a partner's inbox a time entry to approve."""
    from atrium import billing, time_entries

    if session.scalar(select(exists().where(TimeEntry.recorded_by.in_(DEMO_USERNAMES)))):
        return ["Demo time entries exist already."]
    today = clock.now().date()
    by_id = {c.id: c for c in clients if c.status == "active" and c.owner in DEMO_USERNAMES}
    engagements = session.scalars(
        select(Engagement)
        .where(
            Engagement.client_id.in_(list(by_id)),
            Engagement.status == "active",
            Engagement.fee_basis.in_(("hourly", "fixed")),
            Engagement.responsible.is_not(None),
        )
        .order_by(Engagement.id)
        .limit(6)
    ).all()
    lines = []
    for n, engagement in enumerate(engagements):
        owner = by_id[engagement.client_id].owner
        for day in range(3):
            data = {"work_date": today - timedelta(days=45 - 4 * day), "hours": Decimal("2.50") + day, "billable": True}
            time_entries.record(engine, session, engagement, data, actor=owner, may_name_others=False)
        request = billing.request_invoice(
            session, engine.settings, engagement, {}, actor=engagement.responsible, is_lead=True
        )
        net = request.total
        tax = (net * Decimal("0.06")).quantize(Decimal("0.01"))
        overdue = n % 3 == 2
        issued = today - timedelta(days=40)
        invoice = billing.record_invoice(
            session,
            {
                "number": f"DEMO-{today.year}-{n + 1:04d}",
                "invoice_request_id": request.id,
                "engagement_id": engagement.id,
                "currency": request.currency,
                "net_amount": net,
                "tax_amount": tax,
                "total_amount": net + tax,
                "issue_date": issued,
                "due_date": issued + timedelta(days=30) if overdue else today + timedelta(days=20),
            },
            actor="demo",
        )
        if not overdue:
            paid = invoice.total_amount if n % 3 == 0 else (invoice.total_amount / 2).quantize(Decimal("0.01"))
            billing.record_payment(
                session,
                {"invoice_id": invoice.id, "amount": paid, "paid_on": today - timedelta(days=5), "reference": "DEMO"},
                actor="demo",
            )
        lines.append(f"Billed engagement {engagement.id}: invoice {invoice.number} ({invoice.total_amount}).")
    if engagements:
        engagement = engagements[0]
        long_day = {"work_date": today - timedelta(days=1), "hours": Decimal("10.00"), "billable": True}
        owner = by_id[engagement.client_id].owner
        time_entries.record(engine, session, engagement, long_day, actor=owner, may_name_others=False)
        lines.append(f"A 10-hour day on engagement {engagement.id} waits for {engagement.responsible}'s approval.")
    return lines

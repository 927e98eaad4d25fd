"""Onboarding a client (the rules behind processes/client_onboarding.bpmn, whose service tasks in
engine/handlers/onboarding.py only translate a call into these functions): the conflict-of-interest check,
opening the approved client with its contacts and first engagement, the welcome call, and the rejection
notice. Each change is audited here, in the step's transaction, as the person who made the step happen;
the client itself is created by atrium/clients.py like any other (its follow-up cycle starts with it)."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from atrium import audit, clock, i18n, notifications
from atrium.clients import client_business_key, client_target, create_client
from storage.accounts import Account
from storage.client_records import Engagement, FollowUp
from storage.clients import Contact
from storage.conflicts import adverse_parties_named, clients_named, contacts_named
from storage.instances import set_business_key

SOURCE = "onboarding"  # the `source` of the audit rows written here


def _names_of_new_client(data: dict) -> list[str]:
    names = [data.get("client_name") or ""]
    names += [c.get("name") or "" for c in data.get("contacts") or []]
    return [n for n in dict.fromkeys(names) if n.strip()]


def conflict_findings(session: Session, data: dict) -> list[dict]:
    """Findings for the partner: existing clients and contacts named like the new client (`data`, the
    intake) or its contacts, open engagements acting against them, and existing clients the new engagement
    would act against. Each finding says what matched in `detail`, and is about one client whose `owner` it
    names: a reader who may not see that client is shown only a count (atrium/disclosure.py)."""
    findings: dict[tuple, dict] = {}

    def add(key: tuple, finding: dict) -> None:
        findings.setdefault(key, finding)

    names = _names_of_new_client(data)
    for name in names:
        for client in clients_named(session, name):
            add(
                ("client", client.id),
                {
                    "kind": "client",
                    "name": name,
                    "client_id": client.id,
                    "client_name": client.name,
                    "owner": client.owner,
                    "status": client.status,
                    "detail": f"'{name}' matches existing client '{client.name}' (owner {client.owner or 'none'}, "
                    f"{client.status})",
                },
            )
        for contact, client in contacts_named(session, name):
            add(
                ("contact", contact.id),
                {
                    "kind": "contact",
                    "name": name,
                    "contact_id": contact.id,
                    "contact_name": contact.name,
                    "client_id": client.id,
                    "client_name": client.name,
                    "owner": client.owner,
                    "detail": f"'{name}' matches '{contact.name}', a contact of client '{client.name}'",
                },
            )
    for match in adverse_parties_named(session, names):
        engagement, client = match.engagement, match.client
        add(
            ("adverse_party", engagement.id, match.party),
            {
                "kind": "adverse_party",
                "party": match.party,
                "engagement_id": engagement.id,
                "engagement_status": engagement.status,
                "client_id": client.id,
                "client_name": client.name,
                "owner": client.owner,
                "detail": f"'{match.party}' is an adverse party in the {engagement.status} {engagement.service_type} "
                f"engagement of client '{client.name}'",
            },
        )
    for party in (data.get("engagement") or {}).get("adverse_parties") or []:
        for client in clients_named(session, party):
            add(
                ("adverse_party_is_client", client.id, party),
                {
                    "kind": "adverse_party_is_client",
                    "party": party,
                    "client_id": client.id,
                    "client_name": client.name,
                    "owner": client.owner,
                    "detail": f"the new engagement is against '{party}', which matches existing client '{client.name}'",
                },
            )
    return list(findings.values())


def _active_account(session: Session, username: str | None) -> bool:
    return bool(username) and bool(session.scalar(select(Account.active).where(Account.username == username)))


def open_client(session: Session, engine, *, instance_id: UUID, data: dict, actor: str | None) -> dict:
    """Create the approved client (active, so its follow-up cycle starts; its likely duplicates were among
    the partner's findings), its contacts and first engagement, as `actor` (the approving partner) for the
    requester in `data`; the onboarding instance takes the client's business key from here on."""
    now = clock.now()
    requester = data.get("requester")
    owner = data.get("owner") or requester
    owner_note = ""
    if not _active_account(session, owner):
        owner_note = i18n.Term("notification.onboarded.owner_inactive", proposed=owner, requester=requester)
        owner = requester
    client = create_client(
        session,
        engine,
        data={
            "kind": data.get("kind", "organisation"),
            "name": data["client_name"].strip(),
            "industry": data.get("industry"),
            "tier": data.get("tier", "C"),
            "status": "active",
            "owner": owner,
            "phones": data.get("phones") or [],
            "emails": data.get("emails") or [],
        },
        actor=actor,
        created_by=requester,
        confirm_duplicate=True,
        source=SOURCE,
        detail={"instance_id": str(instance_id), "requester": requester},
    )
    contacts = [
        Contact(
            client_id=client.id,
            name=c["name"].strip(),
            role=c.get("role"),
            phones=c.get("phones") or [],
            emails=c.get("emails") or [],
            created_at=now,
            updated_at=now,
        )
        for c in data.get("contacts") or []
    ]
    session.add_all(contacts)
    wanted = data["engagement"]
    fee = wanted.get("fee_amount")
    engagement = Engagement(
        client_id=client.id,
        service_type=wanted["service_type"].strip(),
        description=wanted.get("description"),
        responsible=owner,
        status="proposed",
        fee_basis=wanted.get("fee_basis", "fixed"),
        fee_amount=Decimal(str(fee)) if fee is not None else None,
        adverse_parties=wanted.get("adverse_parties") or [],
        instance_id=instance_id,
        created_at=now,
        updated_at=now,
    )
    session.add(engagement)
    session.flush()
    for contact in contacts:
        audit.record(
            session,
            "contact.create",
            actor=actor,
            target=f"{client_target(client.id)}/contacts/{contact.id}",
            detail={"source": SOURCE},
        )
    audit.record(
        session,
        "engagement.create",
        actor=actor,
        target=f"{client_target(client.id)}/engagements/{engagement.id}",
        detail={"source": SOURCE, "service_type": engagement.service_type},
    )
    set_business_key(session, instance_id=instance_id, business_key=client_business_key(client.id))
    notifications.queue(
        session,
        kind="outcome",
        recipient=requester,
        actor=actor,
        instance_id=instance_id,
        client_id=client.id,
        subject="notification.onboarded.subject",
        body="notification.onboarded.body",
        params={
            "client": client.name,
            "actor": actor,
            "service_type": engagement.service_type,
            "owner": owner,
            "owner_note": owner_note,
        },
    )
    if owner != requester:
        notifications.queue(
            session,
            kind="outcome",
            recipient=owner,
            actor=actor,
            instance_id=instance_id,
            client_id=client.id,
            subject="notification.onboarded_owner.subject",
            body="notification.onboarded_owner.body",
            params={
                "client": client.name,
                "actor": actor,
                "requester": requester,
                "service_type": engagement.service_type,
            },
        )
    return {
        "client_id": client.id,
        "client_name": client.name,
        "engagement_id": engagement.id,
        "contact_ids": [c.id for c in contacts],
        "owner": owner,
        "approved_by": actor,
    }


def plan_welcome_call(session: Session, *, instance_id: UUID, data: dict, actor: str | None) -> dict:
    """The welcome follow-up on the client's record, due now (the timer has just fired)."""
    onboarded, now = data["onboarded"], clock.now()
    service = (data.get("engagement") or {}).get("service_type", "first")
    follow_up = FollowUp(
        client_id=onboarded["client_id"],
        planned_at=now,
        channel="call",
        content=f"Welcome call: how is the {service} engagement going, and what else do they need?",
        instance_id=instance_id,
        created_at=now,
        updated_at=now,
    )
    session.add(follow_up)
    session.flush()
    audit.record(
        session,
        "follow_up.create",
        actor=actor,
        target=f"{client_target(follow_up.client_id)}/follow-ups/{follow_up.id}",
        detail={"source": SOURCE},
    )
    return {"id": follow_up.id, "planned_at": now.isoformat()}


WELCOME_CALL_FIELDS = ("done_at", "done_by", "channel", "content", "outcome", "next_step")


def record_welcome_call(session: Session, *, data: dict, actor: str | None) -> dict:
    """The owner's report of the welcome call (`data`) completes its follow-up, as `actor`."""
    now = clock.now()
    follow_up = session.get(FollowUp, data["welcome_follow_up"]["id"])
    before = audit.snapshot(follow_up, WELCOME_CALL_FIELDS)
    follow_up.done_at, follow_up.done_by, follow_up.updated_at = now, actor, now
    follow_up.channel = data.get("channel", "call")
    follow_up.content = data.get("content") or follow_up.content
    follow_up.outcome = data["outcome"]
    follow_up.next_step = data.get("next_step")
    audit.record(
        session,
        "follow_up.update",
        actor=actor,
        target=f"{client_target(follow_up.client_id)}/follow-ups/{follow_up.id}",
        detail={"source": SOURCE, "changes": audit.changes(before, audit.snapshot(follow_up, WELCOME_CALL_FIELDS))},
    )
    return {"follow_up_id": follow_up.id, "outcome": follow_up.outcome}


def notify_rejection(session: Session, *, instance_id: UUID, data: dict, actor: str | None) -> dict:
    """Tell the requester that `actor` (the partner) declined, and why."""
    requester, name = data.get("requester"), data.get("client_name")
    notifications.queue(
        session,
        kind="outcome",
        recipient=requester,
        actor=actor,
        instance_id=instance_id,
        subject="notification.onboarding_declined.subject",
        body="notification.onboarding_declined.body",
        params={"client": name, "actor": actor, "reason": data.get("reason")},
    )
    return {"notified": requester}

"""Time recorded on engagements: who worked, when, how long, whether the client is billed for it.

An entry of at most ATRIUM_TIME_APPROVAL_HOURS (8) counts as soon as it is recorded (`recorded`, event
`time_entry.recorded`); a longer one waits for the engagement's responsible partner (`pending_approval`)
in the `time_entry_approval` process, whose decision approves it (`approved`, event `time_entry.recorded`)
or rejects it (`rejected`, audited, no event). An entry not yet on an invoice request may be voided by
whoever recorded it, the person it is for, or a lead: the row goes, its audit row and (if it had counted)
the event `time_entry.voided` stay. Every change is audited here on `client:{id}/time-entries/{entry id}`;
callers own the transaction."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from atrium import audit, clock, events
from atrium.clients import client_business_key
from atrium.errors import Conflict, Forbidden, InvalidInput, NotFound
from storage.accounts import Account
from storage.billing import TimeEntry
from storage.client_records import Engagement
from storage.definitions import latest_definition

PROCESS_KEY = "time_entry_approval"
COUNTED = ("recorded", "approved")  # the statuses that are billable time
MAX_HOURS = Decimal("24")
CLOSED_ENGAGEMENT = ("cancelled",)


def target_of(entry: TimeEntry) -> str:
    return f"client:{entry.client_id}/time-entries/{entry.id}"


def engagement_or_raise(session: Session, engagement_id: int) -> Engagement:
    """The engagement, whoever may see it (callers check the client's visibility); NotFound if none."""
    engagement = session.get(Engagement, engagement_id)
    if engagement is None:
        raise NotFound(f"engagement {engagement_id} not found")
    return engagement


def entry_or_raise(session: Session, engagement: Engagement, entry_id: int) -> TimeEntry:
    entry = session.get(TimeEntry, entry_id)
    if entry is None or entry.engagement_id != engagement.id:
        raise NotFound(f"time entry {entry_id} of engagement {engagement.id} not found")
    return entry


def snapshot(entry: TimeEntry) -> dict:
    return {
        "engagement_id": entry.engagement_id,
        "person": entry.person,
        "work_date": entry.work_date,
        "hours": entry.hours,
        "billable": entry.billable,
        "description": entry.description,
        "status": entry.status,
    }


def _event(session: Session, entry: TimeEntry, *, actor: str | None) -> None:
    events.emit(
        session,
        "time_entry.recorded",
        aggregate=("client", entry.client_id),
        data={
            "client_id": entry.client_id,
            "engagement_id": entry.engagement_id,
            "time_entry_id": entry.id,
            "person": entry.person,
            "work_date": entry.work_date,
            "hours": entry.hours,
            "billable": entry.billable,
            "status": entry.status,
        },
        actor=actor,
    )


def _check_person(session: Session, person: str | None, *, actor: str, may_name_others: bool) -> str:
    """Who the entry is for: the caller by default; someone else only for a lead or an integration, and
    then an active account."""
    if person is None or person == actor:
        if actor.startswith("integration:"):
            raise InvalidInput(
                "an integration must name the person who did the work", {"person": ["required for integrations"]}
            )
        return actor
    if not may_name_others:
        raise Forbidden("you may record only your own time")
    account = session.scalar(select(Account).where(Account.username == person))
    if account is None or not account.active:
        raise InvalidInput(f"person {person} is not an active account", {"person": ["no such active account"]})
    return person


def record(
    engine, session: Session, engagement: Engagement, data: dict, *, actor: str, may_name_others: bool
) -> TimeEntry:
    """Record time on `engagement` (data: person?, work_date, hours, billable?, description?). Above the
    threshold the entry waits for approval and the approval process starts in this transaction."""
    if engagement.status in CLOSED_ENGAGEMENT:
        raise InvalidInput(
            f"engagement {engagement.id} is {engagement.status}; no time can be recorded on it",
            {"engagement_id": ["the engagement is cancelled"]},
        )
    hours = Decimal(data["hours"])
    if hours <= 0 or hours > MAX_HOURS or hours != hours.quantize(Decimal("0.01")):
        raise InvalidInput(
            "hours must be more than 0 and at most 24, with at most two decimals",
            {"hours": ["more than 0, at most 24, two decimals"]},
        )
    person = _check_person(session, data.get("person"), actor=actor, may_name_others=may_name_others)
    needs_approval = hours > engine.settings.time_approval_hours
    if needs_approval and latest_definition(session, process_key=PROCESS_KEY) is None:
        raise Conflict(
            f"an entry of more than {engine.settings.time_approval_hours} hours needs approval, "
            f"and the {PROCESS_KEY} process is not deployed"
        )
    entry = TimeEntry(
        engagement_id=engagement.id,
        client_id=engagement.client_id,
        person=person,
        work_date=data["work_date"],
        hours=hours,
        billable=data.get("billable", True),
        description=data.get("description"),
        status="pending_approval" if needs_approval else "recorded",
        recorded_by=actor,
        recorded_at=clock.now(),
    )
    session.add(entry)
    session.flush()
    audit.record(
        session,
        "time_entry.create",
        actor=actor,
        target=target_of(entry),
        detail=audit.changes({}, {k: v for k, v in snapshot(entry).items() if v is not None}),
    )
    if needs_approval:
        _start_approval(engine, session, engagement, entry, actor=actor)
    else:
        _event(session, entry, actor=actor)
    return entry


def approver_of(engagement: Engagement, entry: TimeEntry) -> str | None:
    """Who decides: the engagement's responsible partner, unless they recorded the entry or it is their
    own time (then any partner but them: the task goes to the partners group)."""
    responsible = engagement.responsible
    if responsible and responsible not in (entry.recorded_by, entry.person):
        return responsible
    return None


def _start_approval(engine, session: Session, engagement: Engagement, entry: TimeEntry, *, actor: str) -> None:
    instance = engine.start_instance(
        session,
        process_key=PROCESS_KEY,
        business_key=client_business_key(entry.client_id),
        actor=actor,
        variables={
            "time_entry_id": entry.id,
            "engagement_id": engagement.id,
            "client_id": entry.client_id,
            "person": entry.person,
            "recorded_by": entry.recorded_by,
            "work_date": entry.work_date.isoformat(),
            "hours": str(entry.hours),
            "description": entry.description or "",
            "service_type": engagement.service_type,
            "approver": approver_of(engagement, entry),
        },
    )
    entry.instance_id = instance.id


def decide(
    session: Session,
    entry_id: int,
    *,
    approved: bool,
    comment: str | None,
    actor: str | None,
    instance_id: uuid.UUID | None = None,
) -> dict:
    """The partner's decision on a pending entry (the approval process's service task calls this). A
    conditional UPDATE: an entry voided or decided meanwhile is left as it is."""
    status = "approved" if approved else "rejected"
    now = clock.now()
    changed = session.execute(
        update(TimeEntry)
        .where(TimeEntry.id == entry_id, TimeEntry.status == "pending_approval")
        .values(status=status, decided_by=actor, decided_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not changed:
        return {"status": None, "decided": False}
    entry = session.get(TimeEntry, entry_id)
    session.refresh(entry)
    detail = {**audit.changes({"status": "pending_approval"}, {"status": status})}
    if comment:
        detail["comment"] = "given"  # free text stays out of the audit trail, which erasure cannot alter
    if instance_id is not None:
        detail["instance_id"] = str(instance_id)
    audit.record(
        session,
        f"time_entry.{'approve' if approved else 'reject'}",
        actor=actor,
        target=target_of(entry),
        detail=detail,
    )
    if approved:
        _event(session, entry, actor=actor)
    return {"status": status, "decided": True}


def void(engine, session: Session, entry: TimeEntry, *, actor: str, is_lead: bool) -> None:
    """Remove an entry not yet on an invoice request: by whoever recorded it, the person it is for, or a
    lead. A pending approval is cancelled with it."""
    if not is_lead and actor not in (entry.recorded_by, entry.person):
        raise Forbidden("only who recorded the entry, whose time it is, or a lead may void it")
    if entry.invoice_request_id is not None:
        raise Conflict(f"time entry {entry.id} is on invoice request {entry.invoice_request_id}; it cannot be voided")
    before = snapshot(entry)
    gone = session.execute(
        delete(TimeEntry)
        .where(TimeEntry.id == entry.id, TimeEntry.invoice_request_id.is_(None))
        .execution_options(synchronize_session=False)
    ).rowcount
    if not gone:
        raise Conflict(f"time entry {entry.id} was just put on an invoice request; it cannot be voided")
    audit.record(session, "time_entry.void", actor=actor, target=target_of(entry), detail=audit.changes(before, {}))
    if entry.status == "pending_approval" and entry.instance_id is not None:
        engine.cancel_instance(session, instance_id=entry.instance_id, actor=actor)
    if entry.status in COUNTED:
        events.emit(
            session,
            "time_entry.voided",
            aggregate=("client", entry.client_id),
            data={
                "client_id": entry.client_id,
                "engagement_id": entry.engagement_id,
                "time_entry_id": entry.id,
                "hours": entry.hours,
                "billable": entry.billable,
            },
            actor=actor,
        )
    session.expunge(entry)

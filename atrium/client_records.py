"""The records kept under a client (contacts, engagements, follow-ups, service requests, complaints,
feedback) and the rules the generic record endpoints obey: which fields a record's process owns (nobody
writes them by hand: status, received and due times move only through the process), how records are
created, changed and deleted (complaints and feedback only softly, by leads, and no record while the
process it drives is running), each change audited here as `<label>.create/.update/.delete` on
`client:{id}/{path}/{record id}`. Complaints and service requests are created by their own modules
(atrium.complaints, atrium.service_requests), which start their processes. Callers own the transaction."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from atrium import audit, clock, events
from atrium.errors import Conflict, Forbidden, InvalidInput
from storage.care import CareDate
from storage.client_records import SOFT_DELETED, Complaint, Engagement, Feedback, FollowUp, ServiceRequest
from storage.clients import Contact
from storage.instances import CANCELLED, COMPLETED, ProcessInstance


@dataclass(frozen=True)
class ProcessOwned:
    """Fields of a kind of record that its process keeps in step with where the process is."""

    process: str  # named in the refusal: "set by the complaint process"
    fields: frozenset[str]  # read-only on update
    set_on_create: frozenset[str]  # of those, the ones a new record may still be given (its start data)
    # Complaints and requests always belong to their process (it starts with the record); a follow-up only
    # when the follow-up cycle made it: one recorded by hand is the recorder's to edit.
    linked_only: bool = False


PROCESS_OWNED: dict[type, ProcessOwned] = {
    Complaint: ProcessOwned(
        "complaint process",
        frozenset(
            {
                "status",
                "resolution",
                "satisfaction",
                "received_at",
                "acknowledge_due_at",
                "acknowledged_at",
                "resolved_at",
                "closed_at",
                "escalated_at",
                "escalated_to",
                "transitions",
                "instance_id",
            }
        ),
        # When it was received starts the acknowledgement clock; a complaint may arrive by letter.
        set_on_create=frozenset({"received_at"}),
    ),
    ServiceRequest: ProcessOwned(
        "service request process",
        frozenset(
            {
                "status",
                "type",
                "priority",
                "sla_due_at",
                "sla_due_times",
                "assignee",
                "resolution",
                "rating",
                "resolved_at",
                "closed_at",
                "instance_id",
            }
        ),
        # What the requester says it is and how urgent; the desk's triage decides afterwards.
        set_on_create=frozenset({"type", "priority"}),
    ),
    FollowUp: ProcessOwned(
        "follow-up process",
        frozenset({"planned_at", "done_at", "done_by", "channel", "content", "outcome", "next_step", "instance_id"}),
        set_on_create=frozenset(),
        linked_only=True,
    ),
}


def check_process_fields(model: type, data: dict, *, creating: bool, linked: bool = True) -> None:
    """Refuse, naming each field, data that would write what a record's process owns: on create all but
    its start data, on update all of them (for a kind owned only when `linked`, only then)."""
    owned = PROCESS_OWNED.get(model)
    if owned is None or (owned.linked_only and (creating or not linked)):
        return
    writable = owned.set_on_create if creating else frozenset()
    refused = sorted(name for name in data if name in owned.fields and name not in writable)
    if refused:
        raise InvalidInput(
            f"{', '.join(refused)} {'is' if len(refused) == 1 else 'are'} set by the {owned.process}",
            {name: [f"set by the {owned.process}"] for name in refused},
        )


# Each kind of record: its URL segment under a client, and its label in audit actions.
KINDS: dict[type, tuple[str, str]] = {
    Contact: ("contacts", "contact"),
    Engagement: ("engagements", "engagement"),
    FollowUp: ("follow-ups", "follow_up"),
    ServiceRequest: ("service-requests", "service_request"),
    Complaint: ("complaints", "complaint"),
    Feedback: ("feedback", "feedback"),
    CareDate: ("care-dates", "care_date"),
}


def label_of(record) -> str:
    return KINDS[type(record)][1]


def target_of(record) -> str:
    """The audit target of a record: `client:{id}/{path}/{record id}`."""
    return f"client:{record.client_id}/{KINDS[type(record)][0]}/{record.id}"


def fields_of(record) -> dict:
    """The record's columns, for `audit.changes`."""
    return {column.key: getattr(record, column.key) for column in type(record).__table__.columns}


def audit_create(session: Session, record, *, actor: str | None) -> None:
    """The `<label>.create` row of a new record: what it was given, personal fields masked."""
    session.flush()
    detail = audit.changes(
        {},
        {
            name: value
            for name, value in fields_of(record).items()
            if value not in (None, [], {}, "") and name not in ("id", "client_id", "created_at", "updated_at")
        },
    )
    audit.record(session, f"{label_of(record)}.create", actor=actor, target=target_of(record), detail=detail)


def create_record(engine, session: Session, model: type, client_id: int, data: dict, *, actor: str | None):
    """A new record of a kind with no process of its own (contact, engagement, follow-up recorded by hand,
    feedback), audited. `engine` is unused: the signature is the one every kind's create has."""
    check_process_fields(model, data, creating=True)
    now = clock.now()
    record = model(**data, client_id=client_id, created_at=now, updated_at=now)
    if hasattr(model, "created_by"):
        record.created_by = actor
    session.add(record)
    audit_create(session, record, actor=actor)
    if model is Engagement:
        engagement_status_event(session, record, before=None, actor=actor)
    return record


def update_record(session: Session, record, data: dict, *, actor: str | None):
    """Change some fields of a record by hand, audited with what changed; fields its process owns (status,
    received and due times...) are refused naming each, and nothing is written."""
    check_process_fields(type(record), data, creating=False, linked=getattr(record, "instance_id", None) is not None)
    before = fields_of(record)
    for key, value in data.items():
        setattr(record, key, value)
    record.updated_at = clock.now()
    changed = audit.changes(before, fields_of(record))
    changed.pop("updated_at", None)
    audit.record(session, f"{label_of(record)}.update", actor=actor, target=target_of(record), detail=changed)
    if isinstance(record, Engagement):
        engagement_status_event(session, record, before=before.get("status"), actor=actor)
    return record


# An engagement's status moving into one of these tells the finance system (events, issue 15): it may bill
# from `engagement.approved` on and stops at `engagement.closed`.
ENGAGEMENT_EVENTS = {
    "active": "engagement.approved",
    "completed": "engagement.closed",
    "cancelled": "engagement.closed",
}


def engagement_status_event(session: Session, engagement: Engagement, *, before: str | None, actor: str | None):
    """Emit `engagement.approved`/`engagement.closed` when the engagement's status became active, completed
    or cancelled (from another status, or created so), in the caller's transaction beside its audit row."""
    kind = ENGAGEMENT_EVENTS.get(engagement.status)
    if kind is None or engagement.status == before:
        return None
    session.flush()  # a new engagement's id
    return events.emit(
        session,
        kind,
        aggregate=("client", engagement.client_id),
        data={
            "client_id": engagement.client_id,
            "engagement_id": engagement.id,
            "service_type": engagement.service_type,
            "status": engagement.status,
            "fee_basis": engagement.fee_basis,
            "fee_amount": engagement.fee_amount,
            "responsible": engagement.responsible,
            "start_date": engagement.start_date,
            "end_date": engagement.end_date,
        },
        actor=actor,
    )


def process_running(session: Session, record) -> bool:
    instance_id = getattr(record, "instance_id", None)
    if instance_id is None:
        return False
    instance = session.get(ProcessInstance, instance_id)
    return instance is not None and instance.status not in (COMPLETED, CANCELLED)


def delete_record(session: Session, record, *, actor: str, is_lead: bool, content: dict | None = None) -> bool:
    """Delete a record kept under a client, audited as `<label>.delete`; returns whether it was only marked
    deleted (complaints and feedback: never removed, and only by a lead). Nothing is deleted while its
    process is running: the process would lose the record it works on. A kept record's `content` (as the
    API shows it) goes in the audit row too: what was deleted, and by whom, stays readable even if the
    row is ever purged."""
    soft = type(record) in SOFT_DELETED
    label = label_of(record)
    what = label.replace("_", " ")
    if soft and not is_lead:
        raise Forbidden(
            f"a {what} is evidence of how the client was served: only a manager, partner or admin may delete one"
        )
    if process_running(session, record):
        raise Conflict(f"the {what}'s process {record.instance_id} is still running; finish or cancel it first")
    target = target_of(record)
    if soft:
        record.deleted_at, record.deleted_by = clock.now(), actor
    else:
        session.delete(record)
    audit.record(
        session,
        f"{label}.delete",
        actor=actor,
        target=target,
        detail={"soft": True, "record": content} if soft else None,
    )
    return soft

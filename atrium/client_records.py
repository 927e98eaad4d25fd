"""The rules the generic record endpoints obey: which fields a record's process owns (nobody writes them
by hand), and how records are deleted (complaints and feedback only softly, by leads, and no record
while the process it drives is running). Callers own the transaction."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from atrium.errors import Conflict, Forbidden, InvalidInput
from storage.client_records import SOFT_DELETED, Complaint, FollowUp, ServiceRequest
from storage.instances import CANCELLED, COMPLETED, ProcessInstance


@dataclass(frozen=True)
class ProcessOwned:
    """Fields of a kind of record that its process keeps in step with where the process is."""

    process: str                       # named in the refusal: "set by the complaint process"
    fields: frozenset[str]             # read-only on update
    set_on_create: frozenset[str]      # of those, the ones a new record may still be given (its start data)
    # Complaints and requests always belong to their process (it starts with the record); a follow-up only
    # when the follow-up cycle made it: one recorded by hand is the recorder's to edit.
    linked_only: bool = False


PROCESS_OWNED: dict[type, ProcessOwned] = {
    Complaint: ProcessOwned(
        "complaint process",
        frozenset({"status", "resolution", "satisfaction", "received_at", "acknowledged_at", "resolved_at",
                   "closed_at", "escalated_at", "escalated_to", "transitions", "instance_id"}),
        # When it was received starts the acknowledgement clock; a complaint may arrive by letter.
        set_on_create=frozenset({"received_at"})),
    ServiceRequest: ProcessOwned(
        "service request process",
        frozenset({"status", "type", "priority", "sla_due_at", "assignee", "resolution", "rating", "resolved_at",
                   "closed_at", "instance_id"}),
        # What the requester says it is and how urgent; the desk's triage decides afterwards.
        set_on_create=frozenset({"type", "priority"})),
    FollowUp: ProcessOwned(
        "follow-up process",
        frozenset({"planned_at", "done_at", "done_by", "channel", "content", "outcome", "next_step", "instance_id"}),
        set_on_create=frozenset(), linked_only=True),
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
        raise InvalidInput(f"{', '.join(refused)} {'is' if len(refused) == 1 else 'are'} set by the {owned.process}",
                           {name: [f"set by the {owned.process}"] for name in refused})


def process_running(session: Session, record) -> bool:
    instance_id = getattr(record, "instance_id", None)
    if instance_id is None:
        return False
    instance = session.get(ProcessInstance, instance_id)
    return instance is not None and instance.status not in (COMPLETED, CANCELLED)


def delete_record(session: Session, record, *, label: str, actor: str, is_lead: bool, now: datetime) -> bool:
    """Delete a record kept under a client; returns whether it was only marked deleted (complaints and
    feedback: never removed, and only by a lead). Nothing is deleted while its process is running:
    the process would lose the record it works on."""
    soft = type(record) in SOFT_DELETED
    what = label.replace("_", " ")
    if soft and not is_lead:
        raise Forbidden(f"a {what} is evidence of how the client was served: only a manager, partner or admin "
                        "may delete one")
    if process_running(session, record):
        raise Conflict(f"the {what}'s process {record.instance_id} is still running; finish or cancel it first")
    if soft:
        record.deleted_at, record.deleted_by = now, actor
    else:
        session.delete(record)
    return soft

"""Complaints: starting their process, the status changes it records with their times, escalating an
unacknowledged one to a manager, and closing with the client's feedback. Callers own the transaction."""
from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from atrium.clients import client_business_key
from atrium.errors import InvalidInput, NotFound
from storage.accounts import account_by_username, active_usernames_with_role
from storage.client_records import COMPLAINT_STATUSES, Complaint, Feedback
from storage.clients import Client
from storage.definitions import latest_definition
from storage.employees import manager_of
from storage.notifications import add_notification

log = logging.getLogger(__name__)

COMPLAINT_PROCESS = "complaint"
# The status that stamps each time column, for statistics.
STATUS_TIMES = {"acknowledged": "acknowledged_at", "resolved": "resolved_at", "closed": "closed_at"}


def complaint_or_raise(session: Session, complaint_id: int) -> Complaint:
    complaint = session.get(Complaint, complaint_id)
    if complaint is None:
        raise NotFound(f"complaint {complaint_id} not found")
    return complaint


def start_complaint_process(engine, session: Session, complaint: Complaint, *, actor: str | None):
    """Start the `complaint` process for a new complaint (business key `client:{id}`) and link it; the
    acknowledgement is due `complaint_acknowledge_hours` after receipt. Without a deployed process the
    complaint is still kept, unlinked, and a warning logged: a complaint must never be lost."""
    complaint.transitions = [_transition("registered", complaint.received_at, actor)]
    definition = latest_definition(session, process_key=COMPLAINT_PROCESS)
    if definition is None:
        log.warning("complaint %s recorded without a process: '%s' is not deployed", complaint.id, COMPLAINT_PROCESS)
        return None
    acknowledge_by = complaint.received_at + timedelta(hours=engine.settings.complaint_acknowledge_hours)
    variables = {
        "complaint_id": complaint.id,
        "client_id": complaint.client_id,
        # For the tasks' subjects ("Acknowledge 广州明德's complaint by ...").
        "client_name": getattr(session.get(Client, complaint.client_id), "name", None),
        "severity": complaint.severity,
        "acknowledge_by": acknowledge_by.isoformat(),
        # Who approves the resolution and hears of a late acknowledgement: the registrant's manager
        # (None: any manager).
        "manager": manager_of(session, username=actor),
    }
    instance = engine.start_from_definition(session, definition, variables, client_business_key(complaint.client_id),
                                            actor)
    complaint.instance_id = instance.id
    return instance


def _transition(status: str, at: datetime, actor: str | None) -> dict:
    return {"status": status, "at": at.isoformat(), "by": actor}


def record_status(complaint: Complaint, *, status: str, now: datetime, actor: str | None = None,
                  resolution: str | None = None) -> Complaint:
    """Move the complaint to `status`: stamp its time column if it has one, and keep the transition."""
    if status not in COMPLAINT_STATUSES:
        raise InvalidInput(f"unknown complaint status {status!r}", {"status": [f"must be one of {COMPLAINT_STATUSES}"]})
    complaint.status = status
    column = STATUS_TIMES.get(status)
    if column:
        setattr(complaint, column, now)
    if resolution is not None:
        complaint.resolution = resolution
    # A new list, so the JSON column is seen as changed.
    complaint.transitions = [*(complaint.transitions or []), _transition(status, now, actor)]
    complaint.updated_at = now
    return complaint


def escalate(session: Session, complaint: Complaint, *, manager: str | None, due: datetime, now: datetime,
             instance_id: uuid.UUID | None = None) -> list[str]:
    """Tell a manager that the complaint was not acknowledged in time and mark it escalated; returns
    who was told: `manager` if an active account, else every manager (else every admin)."""
    recipients = [manager] if manager and _active(session, manager) else []
    recipients = (recipients or active_usernames_with_role(session, role="manager")
                  or active_usernames_with_role(session, role="admin"))
    client = session.get(Client, complaint.client_id)
    subject = f"Complaint #{complaint.id} from {client.name} not acknowledged in time"
    body = (f"A {complaint.severity} complaint from {client.name}, "
            f"received {complaint.received_at:%Y-%m-%d %H:%M} UTC, "
            f"was due to be acknowledged by {due:%Y-%m-%d %H:%M} UTC and has not been.\n\n"
            f"{complaint.description[:2000]}\n\n"
            f"Complaint: /api/clients/{client.id}/complaints/{complaint.id}")
    for username in recipients:
        # The instance is named by the caller: a complaint received long ago escalates while its
        # process is still starting, before the record is linked to it.
        add_notification(session, kind="escalation", recipient=username, subject=subject, body=body, now=now,
                         instance_id=instance_id or complaint.instance_id, client_id=complaint.client_id)
    complaint.escalated_at = now
    complaint.escalated_to = ", ".join(recipients)
    complaint.updated_at = now
    return recipients


def close_with_feedback(session: Session, complaint: Complaint, *, satisfaction: int, comment: str | None,
                        now: datetime, actor: str | None) -> Feedback:
    """Record the client's satisfaction on the complaint and as a Feedback row about it, close the
    complaint and tell whoever registered it the outcome."""
    if not isinstance(satisfaction, int) or not 1 <= satisfaction <= 5:
        raise InvalidInput("satisfaction must be 1 to 5", {"satisfaction": ["must be an integer from 1 to 5"]})
    complaint.satisfaction = satisfaction
    feedback = Feedback(client_id=complaint.client_id, csat=satisfaction, comment=comment or None,
                        subject_type="complaint", subject_id=complaint.id, created_by=actor, created_at=now,
                        updated_at=now)
    session.add(feedback)
    record_status(complaint, status="closed", now=now, actor=actor)
    if complaint.created_by:
        client = session.get(Client, complaint.client_id)
        add_notification(session, kind="outcome", recipient=complaint.created_by, now=now,
                         instance_id=complaint.instance_id, client_id=complaint.client_id,
                         subject=f"Complaint #{complaint.id} from {client.name} closed, satisfaction {satisfaction}/5",
                         body=f"Resolution: {complaint.resolution or '-'}\nClient's comment: {comment or '-'}")
    return feedback


def _active(session: Session, username: str) -> bool:
    account = account_by_username(session, username=username)
    return account is not None and account.active

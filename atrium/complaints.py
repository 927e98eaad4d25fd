"""Complaints: recording one (its acknowledgement deadline fixed at receipt, its process started), the status
changes its process records with their times, escalating an unacknowledged one to a manager, and closing
with the client's feedback. Every change is audited here (`complaint.create`, `complaint.acknowledge`,
`complaint.investigate`, `complaint.propose_resolution`, `complaint.resolve`, `complaint.close`,
`complaint.escalate`) on `client:{id}/complaints/{complaint id}`. Callers own the transaction."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from atrium import audit, clock, escalation, events, i18n, notifications, surveys
from atrium.client_records import audit_create, check_process_fields, target_of
from atrium.clients import client_business_key
from atrium.errors import InvalidInput, NotFound
from storage.client_records import COMPLAINT_STATUSES, Complaint, Feedback
from storage.clients import Client
from storage.definitions import latest_definition

log = logging.getLogger(__name__)

COMPLAINT_PROCESS = "complaint"
# The status that stamps each time column, for statistics.
STATUS_TIMES = {"acknowledged": "acknowledged_at", "resolved": "resolved_at", "closed": "closed_at"}
# The audit action of moving to each status.
STATUS_ACTIONS = {
    "registered": "complaint.register",
    "acknowledged": "complaint.acknowledge",
    "investigating": "complaint.investigate",
    "resolution_proposed": "complaint.propose_resolution",
    "resolved": "complaint.resolve",
    "closed": "complaint.close",
}


def complaint_or_raise(session: Session, complaint_id: int) -> Complaint:
    complaint = session.get(Complaint, complaint_id)
    if complaint is None:
        raise NotFound(f"complaint {complaint_id} not found")
    return complaint


def acknowledge_due(settings, received_at: datetime) -> datetime:
    """When a complaint received at `received_at` must be acknowledged by, under `settings`."""
    return received_at + timedelta(hours=settings.complaint_acknowledge_hours)


def record_complaint(engine, session: Session, client_id: int, data: dict, *, actor: str | None) -> Complaint:
    """Record a complaint received (now, or at `data["received_at"]`: one may arrive by letter) and start its
    process. Its acknowledgement deadline is fixed now, from ATRIUM_COMPLAINT_ACKNOWLEDGE_HOURS, and kept on
    it: a later change of the setting does not move it."""
    check_process_fields(Complaint, data, creating=True)
    now = clock.now()
    received_at = data.get("received_at") or now
    complaint = Complaint(
        **{**data, "received_at": received_at},
        client_id=client_id,
        status="registered",
        acknowledge_due_at=acknowledge_due(engine.settings, received_at),
        transitions=[_transition("registered", received_at, actor)],
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    session.add(complaint)
    audit_create(session, complaint, actor=actor)
    start_complaint_process(engine, session, complaint, actor=actor)
    return complaint


def start_complaint_process(engine, session: Session, complaint: Complaint, *, actor: str | None):
    """Start the `complaint` process for a recorded complaint (business key `client:{id}`) and link it; the
    acknowledgement is due at the complaint's `acknowledge_due_at`. Without a deployed process the
    complaint is still kept, unlinked, and a warning logged: a complaint must never be lost."""
    definition = latest_definition(session, process_key=COMPLAINT_PROCESS)
    if definition is None:
        log.warning("complaint %s recorded without a process: '%s' is not deployed", complaint.id, COMPLAINT_PROCESS)
        return None
    variables = {
        "complaint_id": complaint.id,
        "client_id": complaint.client_id,
        # For the tasks' subjects ("Acknowledge 广州明德's complaint by ...").
        "client_name": getattr(session.get(Client, complaint.client_id), "name", None),
        "severity": complaint.severity,
        "acknowledge_by": complaint.acknowledge_due_at.isoformat(),
        # Who approves the resolution: the registrant's manager (None: any manager), by the one rule
        # escalations follow.
        "manager": escalation.manager_of(session, actor),
    }
    instance = engine.start_from_definition(
        session, definition, variables, client_business_key(complaint.client_id), actor
    )
    complaint.instance_id = instance.id
    return instance


def _transition(status: str, at: datetime, actor: str | None) -> dict:
    return {"status": status, "at": at.isoformat(), "by": actor}


def record_status(
    session: Session, complaint: Complaint, *, status: str, actor: str | None, resolution: str | None = None
) -> Complaint:
    """Move the complaint to `status`: stamp its time column if it has one, keep the transition, audit it."""
    if status not in COMPLAINT_STATUSES:
        raise InvalidInput(f"unknown complaint status {status!r}", {"status": [f"must be one of {COMPLAINT_STATUSES}"]})
    now = clock.now()
    detail = {"status": [complaint.status, status]}
    complaint.status = status
    column = STATUS_TIMES.get(status)
    if column:
        setattr(complaint, column, now)
        detail[column] = now.isoformat()
    if resolution is not None:
        detail["resolution"] = "changed" if resolution != complaint.resolution else "unchanged"
        complaint.resolution = resolution
    # A new list, so the JSON column is seen as changed.
    complaint.transitions = [*(complaint.transitions or []), _transition(status, now, actor)]
    complaint.updated_at = now
    audit.record(session, STATUS_ACTIONS[status], actor=actor, target=target_of(complaint), detail=detail)
    if status == "closed":  # identifiers and codes only: never the description, resolution or comment
        events.emit(
            session,
            "complaint.closed",
            aggregate=("client", complaint.client_id),
            data={
                "client_id": complaint.client_id,
                "complaint_id": complaint.id,
                "severity": complaint.severity,
                "closed_at": now,
            },
            actor=actor,
        )
    return complaint


def escalate(
    session: Session, complaint: Complaint, *, actor: str | None, instance_id: uuid.UUID | None = None
) -> list[str]:
    """Tell the registrant's manager (atrium.escalation's rule) that the complaint was not acknowledged by
    its due time and mark it escalated; returns who was told."""
    client = session.get(Client, complaint.client_id)
    due = complaint.acknowledge_due_at
    params = {
        "id": complaint.id,
        "client": client.name,
        "severity": i18n.Term(f"complaint.severity.{complaint.severity}"),
        "received": f"{complaint.received_at:%Y-%m-%d %H:%M}",
        "due": f"{due:%Y-%m-%d %H:%M}",
        "description": complaint.description[:2000],
        "link": f"/api/clients/{client.id}/complaints/{complaint.id}",
    }
    # The instance is named by the caller: a complaint received long ago escalates while its process is
    # still starting, before the record is linked to it.
    _, recipients = escalation.escalate(
        session,
        about=complaint.created_by,
        subject="notification.complaint_overdue.subject",
        body="notification.complaint_overdue.body",
        params=params,
        actor=actor,
        instance_id=instance_id or complaint.instance_id,
        client_id=complaint.client_id,
    )
    now = clock.now()
    complaint.escalated_at = now
    complaint.escalated_to = ", ".join(recipients)
    complaint.updated_at = now
    audit.record(
        session,
        "complaint.escalate",
        actor=actor,
        target=target_of(complaint),
        detail={"escalated_to": recipients, "due": due.isoformat()},
    )
    return recipients


def close_with_feedback(
    session: Session,
    complaint: Complaint,
    *,
    satisfaction: int,
    comment: str | None,
    actor: str | None,
    engine=None,
) -> Feedback:
    """Record the client's satisfaction on the complaint and as a Feedback row about it, close the
    complaint and tell whoever registered it the outcome; given the `engine`, the client's contact is then
    asked in a survey (atrium.surveys) how the complaint was handled, in their own words."""
    if not isinstance(satisfaction, int) or not 1 <= satisfaction <= 5:
        raise InvalidInput("satisfaction must be 1 to 5", {"satisfaction": ["must be an integer from 1 to 5"]})
    now = clock.now()
    complaint.satisfaction = satisfaction
    feedback = Feedback(
        client_id=complaint.client_id,
        csat=satisfaction,
        comment=comment or None,
        subject_type="complaint",
        subject_id=complaint.id,
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    session.add(feedback)
    audit_create(session, feedback, actor=actor)
    record_status(session, complaint, status="closed", actor=actor)
    if complaint.created_by:
        client = session.get(Client, complaint.client_id)
        notifications.queue(
            session,
            kind="outcome",
            recipient=complaint.created_by,
            actor=actor,
            instance_id=complaint.instance_id,
            client_id=complaint.client_id,
            subject="notification.complaint_closed.subject",
            body="notification.complaint_closed.body",
            params={
                "id": complaint.id,
                "client": client.name,
                "satisfaction": satisfaction,
                "resolution": complaint.resolution or "-",
                "comment": comment or "-",
            },
        )
    if engine is not None:
        surveys.survey_after_close(engine, session, complaint, actor=actor)
    return feedback

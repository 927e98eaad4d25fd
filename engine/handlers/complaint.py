"""Service-task handlers of the `complaint` process: status changes with their times, escalation, closing."""
from __future__ import annotations

from datetime import datetime, timezone

from atrium import clock, complaints

from ..services import ServiceCall, ServiceRegistry


def complaint_status(call: ServiceCall) -> dict:
    """Params: complaint_id, status, optional resolution. Records the transition, its time and who made it
    (`by`: the approval of a proposed resolution excludes its proposer)."""
    complaint = complaints.complaint_or_raise(call.session, int(call.params["complaint_id"]))
    now = clock.now()
    complaints.record_status(complaint, status=call.params["status"], now=now, actor=call.actor,
                             resolution=call.params.get("resolution"))
    return {"status": complaint.status, "at": now.isoformat(), "by": call.actor}


def complaint_escalate(call: ServiceCall) -> dict:
    """Params: complaint_id, manager (may be None), due (ISO datetime the acknowledgement was due)."""
    complaint = complaints.complaint_or_raise(call.session, int(call.params["complaint_id"]))
    due = datetime.fromisoformat(str(call.params["due"]))
    now = clock.now()
    told = complaints.escalate(call.session, complaint, manager=call.params.get("manager"),
                               due=due if due.tzinfo else due.replace(tzinfo=timezone.utc), now=now,
                               instance_id=call.instance_id)
    return {"escalated_to": told, "at": now.isoformat()}


def complaint_close(call: ServiceCall) -> dict:
    """Params: complaint_id, satisfaction (1-5), comment (may be empty). Closes with the client's feedback."""
    complaint = complaints.complaint_or_raise(call.session, int(call.params["complaint_id"]))
    now = clock.now()
    feedback = complaints.close_with_feedback(call.session, complaint, satisfaction=call.params["satisfaction"],
                                              comment=call.params.get("comment"), now=now, actor=call.actor)
    call.session.flush()
    return {"status": complaint.status, "feedback_id": feedback.id, "at": now.isoformat()}


def register(registry: ServiceRegistry) -> None:
    registry.register("complaint_status", complaint_status)
    registry.register("complaint_escalate", complaint_escalate)
    registry.register("complaint_close", complaint_close)

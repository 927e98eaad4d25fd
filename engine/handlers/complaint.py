"""Service-task handlers of the `complaint` process: each a call of atrium.complaints (status changes with
their times, escalation, closing), which audits it with the step's actor."""

from __future__ import annotations

from atrium import complaints

from ..services import ServiceCall, ServiceRegistry


def _complaint(call: ServiceCall):
    return complaints.complaint_or_raise(call.session, int(call.params["complaint_id"]))


def complaint_status(call: ServiceCall) -> dict:
    """Params: complaint_id, status, optional resolution. Records the transition, its time and who made it
    (`by`: the approval of a proposed resolution excludes its proposer)."""
    complaint = complaints.record_status(
        call.session,
        _complaint(call),
        status=call.params["status"],
        actor=call.actor,
        resolution=call.params.get("resolution"),
    )
    return {"status": complaint.status, "at": complaint.updated_at.isoformat(), "by": call.actor}


def complaint_escalate(call: ServiceCall) -> dict:
    """Params: complaint_id (the due time is the complaint's own; `manager` and `due`, passed by earlier
    versions of the process, are not read: whom to tell is atrium.escalation's rule)."""
    complaint = _complaint(call)
    told = complaints.escalate(call.session, complaint, actor=call.actor, instance_id=call.instance_id)
    return {"escalated_to": told, "at": complaint.escalated_at.isoformat()}


def complaint_close(call: ServiceCall) -> dict:
    """Params: complaint_id, satisfaction (1-5), comment (may be empty). Closes with the client's feedback."""
    complaint = _complaint(call)
    feedback = complaints.close_with_feedback(
        call.session,
        complaint,
        satisfaction=call.params["satisfaction"],
        comment=call.params.get("comment"),
        actor=call.actor,
        engine=call.engine,
    )
    return {"status": complaint.status, "feedback_id": feedback.id, "at": complaint.updated_at.isoformat()}


def register(registry: ServiceRegistry) -> None:
    registry.register("complaint_status", complaint_status)
    registry.register("complaint_escalate", complaint_escalate)
    registry.register("complaint_close", complaint_close)

"""Service tasks of the `follow_up` process: plan a client's next follow-up by tier, open it for the
client's owner, escalate it when overdue, and record its outcome (starting a service request when the
client needs action). Records are written in the step's transaction."""
from __future__ import annotations

from sqlalchemy import func, select

from atrium import clock
from atrium.escalation import escalate
from atrium.follow_up_cycles import wants_cycle
from atrium.service_requests import start_request_process
from storage.client_records import FollowUp, ServiceRequest
from storage.clients import Client

from ..services import ServiceCall, ServiceRegistry
from ..timers import after


def _client(call: ServiceCall) -> Client | None:
    client = call.session.get(Client, int(call.data["client_id"]))
    return client if client is not None and wants_cycle(client) else None


def plan(call: ServiceCall) -> dict:
    """When the next follow-up is due: one tier interval after the last one done (by this cycle or
    recorded by hand), or after now for a client never followed up. The tier is read afresh each round."""
    client = _client(call)
    if client is None:
        return {"active": False}
    last = call.session.scalar(select(func.max(FollowUp.done_at)).where(FollowUp.client_id == client.id))
    interval = call.engine.settings.follow_up_intervals[client.tier]
    return {"active": True, "tier": client.tier, "interval": interval,
            "next_at": after(last or clock.now(), interval).isoformat()}


def open_follow_up(call: ServiceCall) -> dict:
    """A planned follow-up row and the owner's task; it is overdue after the follow-up period."""
    client = _client(call)
    if client is None:
        return {"active": False}
    now = clock.now()
    row = FollowUp(client_id=client.id, planned_at=now, channel="call", instance_id=call.instance_id,
                   created_at=now, updated_at=now)
    call.session.add(row)
    call.session.flush()
    return {"active": True, "follow_up_id": row.id, "owner": client.owner, "client_name": client.name,
            "tier": client.tier, "due_at": after(now, call.engine.settings.follow_up_due).isoformat()}


def escalate_overdue(call: ServiceCall) -> dict:
    """The owner has not followed the client up in time: their manager (or the manager group) is told."""
    current = call.data["current"]
    subject = f"Overdue follow-up of {current['client_name']} (tier {current['tier']})"
    body = (f"{current['owner'] or 'Nobody'} was to call or visit {current['client_name']} by {current['due_at']} "
            "and has not recorded it yet.")
    # The follow-up row names the client, for the notification's link.
    follow_up = call.session.get(FollowUp, int(current["follow_up_id"])) if current.get("follow_up_id") else None
    manager, notified = escalate(call.session, about=current["owner"], subject=subject, body=body,
                                 instance_id=call.instance_id, client_id=follow_up.client_id if follow_up else None)
    return {"manager": manager, "notified": notified}


def record_outcome(call: ServiceCall) -> dict:
    """What the call or visit gave, on the follow-up row; a client who needs action gets a service
    request, with its own process, in this same step."""
    data = call.data
    row = call.session.get(FollowUp, int(data["current"]["follow_up_id"]))
    now = clock.now()
    row.done_at, row.done_by, row.updated_at = now, call.actor, now
    row.channel, row.content, row.outcome, row.next_step = (
        data["channel"], data.get("content"), data["outcome"], data.get("next_step"))
    request_id = None
    if row.outcome == "needs_action":
        request = ServiceRequest(client_id=row.client_id, title=row.next_step[:300], content=row.content,
                                 priority="normal", status="new", source="staff", created_by=call.actor,
                                 created_at=now, updated_at=now)
        call.session.add(request)
        call.session.flush()
        start_request_process(call.engine, call.session, request, actor=call.actor)
        request_id = request.id
    return {"follow_up_id": row.id, "outcome": row.outcome, "service_request_id": request_id}


def register(registry: ServiceRegistry) -> None:
    registry.register("follow_up.plan", plan)
    registry.register("follow_up.open", open_follow_up)
    registry.register("follow_up.escalate_overdue", escalate_overdue)
    registry.register("follow_up.record_outcome", record_outcome)

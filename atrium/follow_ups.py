"""Follow-up records: planning a client's next follow-up by tier, opening one for the client's owner,
escalating it when overdue, and recording its outcome (a client who needs action gets a service request,
with its own process). The `follow_up` process's service tasks call these; a follow-up recorded by hand
goes through atrium.client_records. Every change is audited here (`follow_up.create`, `follow_up.escalate`,
`follow_up.complete`) on `client:{id}/follow-ups/{follow-up id}`. Callers own the transaction."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from atrium import audit, clock, escalation, i18n, service_requests
from atrium.client_records import audit_create, target_of
from atrium.errors import NotFound
from atrium.follow_up_cycles import wants_cycle
from engine.timers import after  # the calendar arithmetic the process's timers use
from storage.client_records import FollowUp
from storage.clients import Client


def follow_up_or_raise(session: Session, follow_up_id: int) -> FollowUp:
    row = session.get(FollowUp, follow_up_id)
    if row is None:
        raise NotFound(f"follow-up {follow_up_id} no longer exists")
    return row


def _cycling_client(session: Session, client_id: int) -> Client | None:
    client = session.get(Client, client_id)
    return client if client is not None and wants_cycle(client) else None


def plan(engine, session: Session, client_id: int) -> dict:
    """When the next follow-up is due: one tier interval after the last one done (by the cycle or recorded
    by hand), or after now for a client never followed up. The tier is read afresh each round. Reads only."""
    client = _cycling_client(session, client_id)
    if client is None:
        return {"active": False}
    last = session.scalar(select(func.max(FollowUp.done_at)).where(FollowUp.client_id == client.id))
    interval = engine.settings.follow_up_intervals[client.tier]
    return {
        "active": True,
        "tier": client.tier,
        "interval": interval,
        "next_at": after(last or clock.now(), interval).isoformat(),
    }


def open_follow_up(
    engine, session: Session, client_id: int, *, actor: str | None, instance_id: uuid.UUID | None
) -> dict:
    """A planned follow-up row for the owner's task; it is overdue after ATRIUM_FOLLOW_UP_DUE."""
    client = _cycling_client(session, client_id)
    if client is None:
        return {"active": False}
    now = clock.now()
    row = FollowUp(
        client_id=client.id, planned_at=now, channel="call", instance_id=instance_id, created_at=now, updated_at=now
    )
    session.add(row)
    audit_create(session, row, actor=actor)
    return {
        "active": True,
        "follow_up_id": row.id,
        "owner": client.owner,
        "client_name": client.name,
        "tier": client.tier,
        "due_at": after(now, engine.settings.follow_up_due).isoformat(),
    }


def escalate_overdue(session: Session, current: dict, *, actor: str | None, instance_id: uuid.UUID | None) -> dict:
    """The owner has not followed the client up in time: their manager (atrium.escalation's rule) is told.
    `current` is what `open_follow_up` returned."""
    params = {
        "client": current["client_name"],
        "tier": current["tier"],
        "owner": current["owner"] or i18n.Term("follow_up.nobody"),
        "due": current["due_at"],
    }
    # The follow-up row names the client, for the notification's link.
    row = session.get(FollowUp, int(current["follow_up_id"])) if current.get("follow_up_id") else None
    manager, notified = escalation.escalate(
        session,
        about=current["owner"],
        subject="notification.follow_up_overdue.subject",
        body="notification.follow_up_overdue.body",
        params=params,
        actor=actor,
        instance_id=instance_id,
        client_id=row.client_id if row else None,
    )
    if row is not None:
        audit.record(
            session,
            "follow_up.escalate",
            actor=actor,
            target=target_of(row),
            detail={"manager": manager, "notified": notified, "due": current["due_at"]},
        )
    return {"manager": manager, "notified": notified}


def record_outcome(engine, session: Session, follow_up_id: int, data: dict, *, actor: str | None) -> dict:
    """What the call or visit gave, on the follow-up row; a client who needs action gets a service request,
    with its own process, in this same transaction."""
    row = follow_up_or_raise(session, follow_up_id)
    before = {name: getattr(row, name) for name in ("done_at", "done_by", "channel", "content", "outcome", "next_step")}
    now = clock.now()
    row.done_at, row.done_by, row.updated_at = now, actor, now
    row.channel, row.content, row.outcome, row.next_step = (
        data["channel"],
        data.get("content"),
        data["outcome"],
        data.get("next_step"),
    )
    after = {name: getattr(row, name) for name in before}
    audit.record(session, "follow_up.complete", actor=actor, target=target_of(row), detail=audit.changes(before, after))
    request_id = None
    if row.outcome == "needs_action":
        request = service_requests.record_request(
            engine,
            session,
            row.client_id,
            {"title": row.next_step[:300], "content": row.content, "priority": "normal", "source": "staff"},
            actor=actor,
        )
        request_id = request.id
    return {"follow_up_id": row.id, "outcome": row.outcome, "service_request_id": request_id}

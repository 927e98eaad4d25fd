"""What the long-running per-client cycles (follow-up, care) share: one instance per active client, found by
its process and the client's business key."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.clients import Client, client_business_key
from storage.definitions import latest_definition
from storage.instances import ACTIVE, ERROR, ProcessInstance


def running_cycle(session: Session, *, process_key: str, client_id: int) -> ProcessInstance | None:
    """The client's running (or failed, awaiting a retry) instance of the cycle `process_key`, if any."""
    return session.scalars(
        select(ProcessInstance)
        .where(
            ProcessInstance.process_key == process_key,
            ProcessInstance.business_key == client_business_key(client_id),
            ProcessInstance.status.in_((ACTIVE, ERROR)),
        )
        .limit(1)
    ).first()


def wants_cycle(client: Client) -> bool:
    """Whether a client keeps its cycles: it is active and not deleted."""
    return client.status == "active" and client.deleted_at is None


def sync_client_cycle(engine, session: Session, client: Client, *, process_key: str, wanted: bool, actor: str | None):
    """Start the client's cycle of `process_key` if `wanted` and none runs (and the process is deployed); cancel
    the running one if not wanted. Returns "started", "cancelled" or None."""
    running = running_cycle(session, process_key=process_key, client_id=client.id)
    if wanted:
        if running is not None or latest_definition(session, process_key=process_key) is None:
            return None
        engine.start_instance(
            session,
            process_key=process_key,
            variables={"client_id": client.id},
            business_key=client_business_key(client.id),
            actor=actor,
        )
        return "started"
    if running is not None:
        engine.cancel_instance(session, instance_id=running.id, actor=actor)
        return "cancelled"
    return None

"""What the long-running per-client cycles (follow-up, care) share: one instance per active client, found by
its process and the client's business key."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.clients import Client, client_business_key
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

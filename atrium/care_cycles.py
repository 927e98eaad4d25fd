"""Each active client's care cycle: one long-running `care` instance per active client (business key
"client:{id}") while the firm has relationship care switched on (care settings `enabled`). It follows the
client as the follow-up cycle does: atrium.follow_up_cycles.sync_cycle calls `sync_care_cycle` in the
transaction of every client change, and switching care on or off starts or cancels the cycles of all
active clients."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from atrium.care_settings import care_settings
from atrium.client_cycles import running_cycle, sync_client_cycle, wants_cycle
from storage.clients import Client
from storage.instances import ACTIVE, ERROR, ProcessInstance
from storage.tasks import OPEN, Task

PROCESS_KEY = "care"


def running_care_cycle(session: Session, client_id: int) -> ProcessInstance | None:
    return running_cycle(session, process_key=PROCESS_KEY, client_id=client_id)


def sync_care_cycle(
    engine, session: Session, client: Client, *, actor: str | None, deleting: bool = False, enabled: bool | None = None
) -> str | None:
    """Start the client's care cycle if it is active, care is on and `care` is deployed; cancel it if
    not. Returns "started", "cancelled" or None."""
    if enabled is None:
        enabled = care_settings(session)["enabled"]
    wanted = enabled and wants_cycle(client) and not deleting
    return sync_client_cycle(engine, session, client, process_key=PROCESS_KEY, wanted=wanted, actor=actor)


def replan_care_cycle(engine, session: Session, client: Client, *, actor: str | None) -> bool:
    """After the client's care dates changed: a cycle waiting for its next occasion starts afresh, so a date
    recorded nearer than the one it waits for is not missed (occasions already cared for are skipped). A
    cycle whose owner has a care task open is left to finish it. Returns whether it was re-planned."""
    running = running_care_cycle(session, client.id)
    if running is None or running.status != ACTIVE:
        return False
    open_tasks = session.scalar(
        select(func.count()).select_from(Task).where(Task.instance_id == running.id, Task.status == OPEN)
    )
    if open_tasks:
        return False
    engine.cancel_instance(session, instance_id=running.id, actor=actor)
    return sync_care_cycle(engine, session, client, actor=actor) == "started"


def sync_all_care_cycles(engine, session: Session, *, enabled: bool, actor: str | None) -> dict:
    """After care was switched on or off: every active client's cycle started, or every cycle cancelled.
    Returns how many of each."""
    counts = {"started": 0, "cancelled": 0}
    if enabled:
        clients = session.scalars(
            select(Client).where(Client.status == "active", Client.deleted_at.is_(None)).order_by(Client.id)
        )
    else:
        keys = select(ProcessInstance.business_key).where(
            ProcessInstance.process_key == PROCESS_KEY, ProcessInstance.status.in_((ACTIVE, ERROR))
        )
        clients = session.scalars(
            select(Client).where(Client.id.in_([int(k.split(":")[1]) for k in session.scalars(keys)]))
        )
    for client in clients.all():
        outcome = sync_care_cycle(engine, session, client, actor=actor, enabled=enabled)
        if outcome:
            counts[outcome] += 1
    return counts

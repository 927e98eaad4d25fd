"""Each active client's follow-up cycle: one long-running `follow_up` instance per active client
(business key "client:{id}"). The client functions (atrium/clients.py: create, update, delete, restore,
and the imports and merges built on them) call `sync_cycle` in the transaction of the change, so a client
that becomes active gets its cycle and one that stops being active, is deleted or merged away loses it,
whichever way the change came. `start_missing_cycles` (`atrium follow-ups start`) starts them for clients
that were active before `follow_up` was deployed."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from atrium import care_cycles, client_cycles
from atrium.client_cycles import sync_client_cycle, wants_cycle
from atrium.errors import NotFound
from storage.clients import Client, client_business_key
from storage.definitions import latest_definition
from storage.instances import ACTIVE, ERROR, ProcessInstance

PROCESS_KEY = "follow_up"
# The cycles a client keeps while active: they end with the client, so they block neither its deletion nor
# its erasure.
CYCLE_PROCESS_KEYS = (PROCESS_KEY, care_cycles.PROCESS_KEY)


def running_cycle(session: Session, client_id: int) -> ProcessInstance | None:
    return client_cycles.running_cycle(session, process_key=PROCESS_KEY, client_id=client_id)


def sync_cycle(engine, session: Session, client: Client, *, actor: str | None, deleting: bool = False) -> str | None:
    """Start the client's cycle if it is active and has none; cancel it if it is no longer active (or is
    being deleted). Returns "started", "cancelled" or None. Without a deployed `follow_up`, nothing starts.
    The client's care cycle (atrium.care_cycles) follows in the same way."""
    care_cycles.sync_care_cycle(engine, session, client, actor=actor, deleting=deleting)
    wanted = wants_cycle(client) and not deleting
    return sync_client_cycle(engine, session, client, process_key=PROCESS_KEY, wanted=wanted, actor=actor)


def start_new_cycles(engine, session: Session, clients: list[Client], *, actor: str | None):
    """sync_cycle for many clients just created (an import), the deployed `follow_up` and the running
    cycles looked up once for all of them: yields (client, "started" or None) in order, each active
    client's cycle started as its turn comes (so what the caller does per client follows its start)."""
    wanted = {client_business_key(c.id): c for c in clients if wants_cycle(c)}
    definition = latest_definition(session, process_key=PROCESS_KEY, head_only=True) if wanted else None
    running = set()
    listed = list(wanted) if definition is not None else []
    for start in range(0, len(listed), 1000):  # bounded IN lists
        running.update(
            session.scalars(
                select(ProcessInstance.business_key).where(
                    ProcessInstance.process_key == PROCESS_KEY,
                    ProcessInstance.business_key.in_(listed[start : start + 1000]),
                    ProcessInstance.status.in_((ACTIVE, ERROR)),
                )
            )
        )
    care_on = care_cycles.care_settings(session)["enabled"] if wanted else False
    for client in clients:
        if client.id is not None and care_on:
            care_cycles.sync_care_cycle(engine, session, client, actor=actor, enabled=True)
        key = client_business_key(client.id)
        if definition is None or key not in wanted or key in running:
            yield client, None
            continue
        engine.start_from_definition(session, definition, {"client_id": client.id}, key, actor)
        yield client, "started"


def start_missing_cycles(engine, *, actor: str, batch_size: int = 200) -> int:
    """Start a cycle for every active client without one (after deploying `follow_up` on a database that
    already has clients); one transaction per batch, so a long run keeps what it did. Returns how many."""
    started, after_id = 0, 0
    while True:
        with engine.transaction() as session:
            if latest_definition(session, process_key=PROCESS_KEY) is None:
                raise NotFound(f"the '{PROCESS_KEY}' process is not deployed; run atrium deploy first")
            clients = session.scalars(
                select(Client)
                .where(Client.status == "active", Client.deleted_at.is_(None), Client.id > after_id)
                .order_by(Client.id)
                .limit(batch_size)
            ).all()
            for client in clients:
                started += sync_cycle(engine, session, client, actor=actor) == "started"
        if len(clients) < batch_size:
            return started
        after_id = clients[-1].id

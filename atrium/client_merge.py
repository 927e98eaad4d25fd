"""Merging a duplicate client into another: its records and processes move, its channels and tags are
united with the survivor's, and it is soft-deleted with a note of where it went. The duplicate's follow-up
cycle is cancelled (its history moves with the rest); the survivor keeps one if it is active. Two audit rows
say what happened: `client.merge` on the survivor and `client.merged_into` on the duplicate. Callers own
the transaction."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from atrium import audit, clock, follow_up_cycles
from atrium.clients import (
    change_client,
    client_business_key,
    client_target,
    remove_client,
    visible_client_or_raise,
)
from atrium.errors import Conflict, InvalidInput
from storage.care import CareActivity, CareDate
from storage.client_records import Complaint, Engagement, Feedback, FollowUp, ServiceRequest
from storage.clients import Client, Contact, email_key, phone_key
from storage.instances import ProcessInstance
from storage.surveys import Survey

# Everything kept under a client, by the name the merge reports it under.
RECORD_MODELS = {
    "contacts": Contact,
    "engagements": Engagement,
    "follow_ups": FollowUp,
    "service_requests": ServiceRequest,
    "complaints": Complaint,
    "feedback": Feedback,
    # The surveys sent to its contacts (which move too): a link still open answers for the survivor.
    "surveys": Survey,
    "care_dates": CareDate,
    "care_activities": CareActivity,
}


@dataclass
class MergeResult:
    client: Client
    from_client_id: int
    moved: dict[str, list] = field(default_factory=dict)  # kind -> ids moved to the survivor
    added: dict[str, list] = field(default_factory=dict)  # field -> values the survivor gained

    def audit_detail(self) -> dict:
        """What the merge did, for its audit row: ids moved, and what the survivor gained (contact data
        only as "changed", like any audited change)."""
        return {
            "from_client_id": self.from_client_id,
            "moved": {
                kind: [str(i) if kind == "process_instances" else i for i in ids] for kind, ids in self.moved.items()
            },
            "added": {
                name: "changed" if name in audit.PERSONAL_FIELDS and values else values
                for name, values in self.added.items()
            },
        }


def _address_key(address) -> str:
    if isinstance(address, dict):
        return json.dumps({k: str(v).strip().casefold() for k, v in address.items() if v}, sort_keys=True)
    return str(address).strip().casefold()


_SAME = {
    "tags": lambda t: t.strip().casefold(),
    "phones": lambda p: phone_key(p) or p.strip(),
    "emails": email_key,
    "addresses": _address_key,
}


def _united(kept: list, incoming: list, key) -> list:
    """`kept` followed by the items of `incoming` it does not already hold (compared by `key`)."""
    seen = {key(item) for item in kept}
    result = list(kept)
    for item in incoming:
        if key(item) not in seen:
            seen.add(key(item))
            result.append(item)
    return result


def _lock_pair(session: Session, ids: tuple[int, int]) -> None:
    """Lock both client rows, lower id first, so two merges touching the same clients queue instead of
    deadlocking, and the second sees what the first did (SQLite writers queue anyway)."""
    session.execute(
        select(Client)
        .where(Client.id.in_(sorted(ids)))
        .order_by(Client.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()


def merge_clients(
    session: Session, engine, *, into_id: int, from_id: int, owners: set[str] | None, actor: str
) -> MergeResult:
    """Move everything of client `from_id` to `into_id` and soft-delete `from_id`; both must be visible
    through `owners` (None: all). `engine` cancels the duplicate's follow-up cycle and starts the
    survivor's if it is active and has none."""
    if into_id == from_id:
        raise InvalidInput(
            "a client cannot be merged into itself", {"from_client_id": ["must differ from the client merged into"]}
        )
    _lock_pair(session, (into_id, from_id))
    for client_id in (into_id, from_id):
        client = visible_client_or_raise(session, client_id, owners, include_deleted=True)
        if client.deleted_at is not None:
            raise Conflict(f"client {client_id} is deleted (perhaps merged a moment ago); nothing was merged")
    target = session.get(Client, into_id)
    source = session.get(Client, from_id)
    result = MergeResult(client=target, from_client_id=from_id)

    for kind, model in RECORD_MODELS.items():
        if model is Contact:
            # Through the ORM: a contact's fields are re-encrypted under the survivor's data key.
            contacts = session.scalars(select(Contact).where(Contact.client_id == from_id).order_by(Contact.id)).all()
            for contact in contacts:
                contact.client_id = into_id
            result.moved[kind] = [c.id for c in contacts]
            continue
        ids = list(session.scalars(select(model.id).where(model.client_id == from_id).order_by(model.id)))
        if ids:
            session.execute(
                update(model.__table__).where(model.__table__.c.client_id == from_id).values(client_id=into_id)
            )
        result.moved[kind] = ids
    # The duplicate's cycle ends before its processes move: the survivor keeps (or gets) its own.
    source_cycle = follow_up_cycles.sync_cycle(engine, session, source, actor=actor, deleting=True)
    instances = ProcessInstance.__table__
    old_key, new_key = client_business_key(from_id), client_business_key(into_id)
    result.moved["process_instances"] = list(
        session.scalars(
            select(instances.c.id).where(instances.c.business_key == old_key).order_by(instances.c.started_at)
        )
    )
    if result.moved["process_instances"]:
        # Only the business key: a running step rewrites status and state, never this column.
        session.execute(update(instances).where(instances.c.business_key == old_key).values(business_key=new_key))

    data: dict = {}
    for name, key in _SAME.items():
        united = _united(getattr(target, name) or [], getattr(source, name) or [], key)
        result.added[name] = united[len(getattr(target, name) or []) :]
        data[name] = united
    source_custom = source.custom_fields or {}
    data["custom_fields"] = {**source_custom, **(target.custom_fields or {})}  # the survivor's values win
    result.added["custom_fields"] = sorted(set(source_custom) - set(target.custom_fields or {}))
    for name in ("industry", "owner"):
        if getattr(target, name) is None and getattr(source, name) is not None:
            data[name] = getattr(source, name)
            result.added[name] = [getattr(source, name)]
    stamp = clock.now().strftime("%Y-%m-%d %H:%M UTC")
    if source.notes:
        data["notes"] = "\n\n".join(
            filter(None, [target.notes, f"From client {from_id} ({source.name}), merged {stamp}:\n{source.notes}"])
        )
    _, target_cycle = change_client(session, engine, target, data=data, actor=actor)

    remove_client(session, engine, source, actor=actor)  # its engagements and processes have moved, so this holds
    source.notes = "\n\n".join(
        filter(None, [source.notes, f"Merged into client {into_id} ({target.name}) by {actor} on {stamp}."])
    )
    audit.record(
        session,
        "client.merge",
        actor=actor,
        target=client_target(into_id),
        detail={**result.audit_detail(), **({"follow_up_cycle": target_cycle} if target_cycle else {})},
    )
    audit.record(
        session,
        "client.merged_into",
        actor=actor,
        target=client_target(from_id),
        detail={"into_client_id": into_id, **({"follow_up_cycle": source_cycle} if source_cycle else {})},
    )
    return result

"""Service task of the `time_entry_approval` process: the partner's decision, written on the time entry
by atrium.time_entries (audited, and the event when approved) in the step's transaction."""

from __future__ import annotations

from atrium import time_entries

from ..services import ServiceCall, ServiceRegistry


def decide(call: ServiceCall) -> dict:
    return time_entries.decide(
        call.session,
        int(call.data["time_entry_id"]),
        approved=bool(call.data.get("approved")),
        comment=call.data.get("comment"),
        actor=call.actor,
        instance_id=call.instance_id,
    )


def register(registry: ServiceRegistry) -> None:
    registry.register("time_entry.decide", decide)

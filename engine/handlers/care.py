"""Service tasks of the `care` process: each a call of atrium.care (the client's next occasion, the
owner's task with its suggested greeting, the outcome recorded and the greeting mailed), which writes and
audits the records in the step's transaction."""

from __future__ import annotations

from atrium import care

from ..services import ServiceCall, ServiceRegistry


def next_occasion(call: ServiceCall) -> dict:
    last = call.data.get("occasion")
    return care.next_occasion(
        call.session, int(call.data["client_id"]), last=last if last and last.get("found") else None
    )


def open_care(call: ServiceCall) -> dict:
    return care.open_care(call.session, int(call.data["client_id"]), call.data["occasion"])


def record_outcome(call: ServiceCall) -> dict:
    return care.record_task_outcome(
        call.session,
        int(call.data["client_id"]),
        call.data["occasion"],
        call.data,
        actor=call.actor,
        instance_id=call.instance_id,
    )


def register(registry: ServiceRegistry) -> None:
    registry.register("care.next_occasion", next_occasion)
    registry.register("care.open", open_care)
    registry.register("care.record_outcome", record_outcome)

"""Service tasks of the `follow_up` process: each a call of atrium.follow_ups (plan a client's next
follow-up by tier, open it for the client's owner, escalate it when overdue, record its outcome), which
writes and audits the records in the step's transaction."""

from __future__ import annotations

from atrium import follow_ups

from ..services import ServiceCall, ServiceRegistry


def plan(call: ServiceCall) -> dict:
    return follow_ups.plan(call.engine, call.session, int(call.data["client_id"]))


def open_follow_up(call: ServiceCall) -> dict:
    return follow_ups.open_follow_up(
        call.engine, call.session, int(call.data["client_id"]), actor=call.actor, instance_id=call.instance_id
    )


def escalate_overdue(call: ServiceCall) -> dict:
    return follow_ups.escalate_overdue(
        call.session, call.data["current"], actor=call.actor, instance_id=call.instance_id
    )


def record_outcome(call: ServiceCall) -> dict:
    return follow_ups.record_outcome(
        call.engine, call.session, int(call.data["current"]["follow_up_id"]), call.data, actor=call.actor
    )


def register(registry: ServiceRegistry) -> None:
    registry.register("follow_up.plan", plan)
    registry.register("follow_up.open", open_follow_up)
    registry.register("follow_up.escalate_overdue", escalate_overdue)
    registry.register("follow_up.record_outcome", record_outcome)

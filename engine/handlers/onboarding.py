"""Client onboarding's service tasks (processes/client_onboarding.bpmn): each turns the call into the
matching function of atrium/onboarding.py, where the rules, the records and their audit rows live."""

from __future__ import annotations

from atrium import onboarding

from ..services import ServiceCall, ServiceRegistry


def check_conflicts(call: ServiceCall) -> list[dict]:
    return onboarding.conflict_findings(call.session, call.data)


def open_client(call: ServiceCall) -> dict:
    return onboarding.open_client(
        call.session, call.engine, instance_id=call.instance_id, data=call.data, actor=call.actor
    )


def plan_welcome_call(call: ServiceCall) -> dict:
    return onboarding.plan_welcome_call(call.session, instance_id=call.instance_id, data=call.data, actor=call.actor)


def record_welcome_call(call: ServiceCall) -> dict:
    return onboarding.record_welcome_call(call.session, data=call.data, actor=call.actor)


def notify_rejection(call: ServiceCall) -> dict:
    return onboarding.notify_rejection(call.session, instance_id=call.instance_id, data=call.data, actor=call.actor)


def register(registry: ServiceRegistry) -> None:
    registry.register("onboarding.check_conflicts", check_conflicts)
    registry.register("onboarding.open_client", open_client)
    registry.register("onboarding.plan_welcome_call", plan_welcome_call)
    registry.register("onboarding.record_welcome_call", record_welcome_call)
    registry.register("onboarding.notify_rejection", notify_rejection)

"""Service tasks of the `service_request` process: each a call of atrium.service_requests (triage,
assignment, knowledge-base offers, SLA escalation, resolution and closing), which writes and audits the
request record in the step's transaction, so the record always matches where the process is."""

from __future__ import annotations

from atrium import service_requests as requests

from ..services import ServiceCall, ServiceRegistry


def _request(call: ServiceCall):
    return requests.request_or_raise(call.session, int(call.data["request_id"]))


def triage(call: ServiceCall) -> dict:
    return requests.triage(
        call.engine,
        call.session,
        _request(call),
        type=call.data["type"],
        priority=call.data["priority"],
        actor=call.actor,
    )


def reject(call: ServiceCall) -> dict:
    request = _request(call)
    requests.reject(
        call.session, request, reason=call.data["reject_reason"], actor=call.actor, instance_id=call.instance_id
    )
    return {"status": request.status}


def assign(call: ServiceCall) -> dict:
    problem = requests.assign(call.session, _request(call), assignee=call.data["assignee"], actor=call.actor)
    return {"assigned": problem is None, "problem": problem}


def suggest_articles(call: ServiceCall) -> list[dict]:
    return requests.suggest_articles(call.session, _request(call), limit=int(call.params.get("limit") or 3))


def escalate_sla(call: ServiceCall) -> dict:
    return requests.escalate_sla(call.session, _request(call), actor=call.actor, instance_id=call.instance_id)


def resolve(call: ServiceCall) -> dict:
    request = _request(call)
    requests.resolve(
        call.session, request, resolution=call.data["resolution"], actor=call.actor, instance_id=call.instance_id
    )
    return {"status": request.status, "resolved_at": request.resolved_at.isoformat()}


def close(call: ServiceCall) -> dict:
    request = _request(call)
    requests.close(
        call.session,
        request,
        rating=call.data.get("rating"),
        comment=call.data.get("rating_comment"),
        actor=call.actor,
        engine=call.engine,
    )
    return {"status": request.status, "rating": request.rating}


def register(registry: ServiceRegistry) -> None:
    registry.register("service_request.triage", triage)
    registry.register("service_request.reject", reject)
    registry.register("service_request.assign", assign)
    registry.register("service_request.suggest_articles", suggest_articles)
    registry.register("service_request.escalate_sla", escalate_sla)
    registry.register("service_request.resolve", resolve)
    registry.register("service_request.close", close)

"""Approval of fees, discounts and write-offs (processes/approval.bpmn): checking the request and
telling the requester the outcome. Who approves is decided by processes/approval_route.dmn."""

from __future__ import annotations

from atrium import notifications
from atrium.clients import client_business_key, owners_visible_to_username, visible_client_or_none
from storage.instances import set_business_key

from ..services import ServiceCall, ServiceRegistry

KIND_LABELS = {"fee": "fee", "discount": "discount", "write_off": "write-off"}


def check_request(call: ServiceCall) -> dict:
    """The named client's name for the approver, or the problem that sends the request back; a
    request about a client takes the client's business key, so the client's timeline shows it.
    The client must be one the requester (who started the instance) may see: one they may not is
    answered exactly as one that does not exist, so the check reveals no other team's client."""
    client_id = call.data.get("client_id")
    if client_id is None:
        return {"problem": None, "client_name": None}
    owners = owners_visible_to_username(call.session, call.started_by)
    client = visible_client_or_none(call.session, client_id, owners)
    if client is None:
        return {
            "problem": f"client {client_id} does not exist; correct the client or leave it out",
            "client_name": None,
        }
    set_business_key(call.session, instance_id=call.instance_id, business_key=client_business_key(client.id))
    return {"problem": None, "client_name": client.name}


def notify_requester(call: ServiceCall) -> dict:
    """The outcome, who decided and why, in the requester's notifications (queued and audited by
    atrium.notifications with the decider as actor)."""
    data = call.data
    requester, decision = data.get("requester"), data["decision"]
    outcome = "approved" if decision == "approve" else "rejected"
    what = f"{KIND_LABELS.get(data.get('kind'), data.get('kind'))} of {data.get('amount'):,.2f}"
    client_name = (data.get("request_check") or {}).get("client_name")
    about = f" for {client_name}" if client_name else ""
    reason = f": {data['reason']}" if data.get("reason") else "."
    notifications.queue(
        call.session,
        kind="outcome",
        recipient=requester,
        actor=call.actor,
        instance_id=call.instance_id,
        subject=f"Your {what}{about} was {outcome}",
        body=f"{call.actor} {outcome} your {what}{about}{reason}",
    )
    return {"notified": requester, "outcome": outcome}


def register(registry: ServiceRegistry) -> None:
    registry.register("approval.check_request", check_request)
    registry.register("approval.notify_requester", notify_requester)

"""Approval of fees, discounts and write-offs (processes/approval.bpmn): checking the request and
telling the requester the outcome. Who approves is decided by processes/approval_route.dmn."""

from __future__ import annotations

from decimal import Decimal

from atrium import events, i18n, notifications
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
    client_name = (data.get("request_check") or {}).get("client_name")
    kind = data.get("kind")
    params = {
        "outcome": i18n.Term(f"approval.outcome.{outcome}"),
        "what": i18n.Term(
            "approval.what",
            kind=i18n.Term(f"approval.kind.{kind}") if kind in KIND_LABELS else kind,
            amount=f"{data.get('amount'):,.2f}",
        ),
        "about": i18n.Term("approval.about", client=client_name) if client_name else "",
        "actor": call.actor,
        "reason": i18n.Term("approval.reason", reason=data["reason"]) if data.get("reason") else ".",
    }
    notifications.queue(
        call.session,
        kind="outcome",
        recipient=requester,
        actor=call.actor,
        instance_id=call.instance_id,
        subject="notification.approval_decided.subject",
        body="notification.approval_decided.body",
        params=params,
    )
    decided(call, outcome=outcome)
    return {"notified": requester, "outcome": outcome}


def decided(call: ServiceCall, *, outcome: str) -> None:
    """`approval.decided` for the finance system, in the transaction that tells the requester (whose audit
    row atrium.notifications writes): about a client, in the client's order of events; else the instance's.
    The reason and justification are free text and stay out."""
    data = call.data
    client_id = data.get("client_id")
    amount = data.get("amount")
    events.emit(
        call.session,
        "approval.decided",
        aggregate=("client", client_id) if client_id is not None else ("instance", call.instance_id),
        data={
            "instance_id": call.instance_id,
            "kind": data.get("kind"),
            "amount": f"{Decimal(str(amount)):.2f}" if amount is not None else None,
            "client_id": client_id,
            "decision": outcome,
            "decided_by": call.actor,
        },
        actor=call.actor,
    )


def register(registry: ServiceRegistry) -> None:
    registry.register("approval.check_request", check_request)
    registry.register("approval.notify_requester", notify_requester)

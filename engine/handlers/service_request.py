"""Service tasks of the `service_request` process: triage, assignment, knowledge-base offers, SLA
escalation, resolution and closing. Each writes the request record in the step's transaction, so the
record's status, assignee, SLA, resolution, rating and dates always match where the process is."""
from __future__ import annotations

import re

from atrium import clock
from atrium.escalation import escalate
from storage.accounts import account_by_username
from storage.client_records import Feedback, ServiceRequest
from storage.knowledge import search_articles
from storage.notifications import add_notification

from ..services import ServiceCall, ServiceRegistry
from ..timers import after

# Where the work task sits in the inbox when sorted by priority.
INBOX_PRIORITY = {"urgent": 90, "high": 70, "normal": 50, "low": 30}
# Words that match almost every article and tell nothing about the request.
_STOP_WORDS = {"the", "and", "for", "with", "our", "your", "you", "are", "was", "were", "this", "that", "from",
               "have", "has", "not", "but", "can", "please", "thanks", "thank", "about", "into", "they", "them"}


def _request(call: ServiceCall) -> ServiceRequest:
    request = call.session.get(ServiceRequest, int(call.data["request_id"]))
    if request is None:
        raise LookupError(f"service request {call.data['request_id']} no longer exists")
    return request


def _tell_requester(call: ServiceCall, request: ServiceRequest, subject: str, body: str) -> None:
    """The person who registered the request hears how it ended (unless they ended it themselves)."""
    if request.created_by and request.created_by != call.actor:
        add_notification(call.session, kind="outcome", recipient=request.created_by, subject=subject, body=body,
                         now=clock.now(), instance_id=call.instance_id, client_id=request.client_id)


def triage(call: ServiceCall) -> dict:
    """Type and priority from the desk's triage; the SLA clock runs from the request's receipt."""
    request = _request(call)
    request.type = call.data["type"]
    request.priority = call.data["priority"]
    request.status = "triaged"
    request.sla_due_at = after(request.created_at, call.engine.settings.service_request_sla[request.priority])
    request.updated_at = clock.now()
    return {"due_at": request.sla_due_at.isoformat(), "inbox_priority": INBOX_PRIORITY[request.priority]}


def reject(call: ServiceCall) -> dict:
    """Not a request the firm takes on (spam, duplicate, wrong addressee): cancelled with the reason."""
    request = _request(call)
    now = clock.now()
    request.status, request.resolution, request.closed_at, request.updated_at = (
        "cancelled", call.data["reject_reason"], now, now)
    _tell_requester(call, request, f"Service request #{request.id} was not taken on",
                    f"{request.title}\n\nReason: {request.resolution}")
    return {"status": request.status}


def assign(call: ServiceCall) -> dict:
    """Give the request to the person the desk named, if that is an active account; otherwise say why,
    so the desk is asked again."""
    username = call.data["assignee"]
    account = account_by_username(call.session, username=username)
    if account is None or not account.active:
        return {"assigned": False, "problem": f"'{username}' is not an active account; name someone else"}
    request = _request(call)
    # The work task opens assigned to them, and that tells them (one task-assigned message, from the engine).
    request.assignee, request.status, request.updated_at = username, "assigned", clock.now()
    return {"assigned": True, "problem": None}


def _words(*texts: str | None) -> list[str]:
    words = []
    for text in texts:
        for word in re.split(r"\W+", (text or "").casefold()):
            if len(word) >= 3 and word not in _STOP_WORDS and word not in words:
                words.append(word)
    return words[:12]


def suggest_articles(call: ServiceCall) -> list[dict]:
    """Knowledge-base articles for the work task: those of the request's type matching its words first,
    then any matching its words; the best `limit` as {id, title}."""
    request = _request(call)
    limit = int(call.params.get("limit") or 3)
    q = " ".join(_words(request.title, request.content))
    if not q:
        return []
    found = []
    for service_type in ([request.type] if request.type else []) + [None]:
        rows, _ = search_articles(call.session, q=q, service_type=service_type, tag=None, limit=limit, offset=0)
        found += [row for row in rows if row.id not in {f.id for f in found}]
        if len(found) >= limit:
            break
    return [{"id": row.id, "title": row.title} for row in found[:limit]]


def escalate_sla(call: ServiceCall) -> dict:
    """The SLA passed with the work still open: the assignee's manager (or the manager group) is told,
    and the assignee reminded; the work itself goes on."""
    request = _request(call)
    subject = f"SLA breached: service request #{request.id} ({request.priority})"
    body = (f"{request.title}\nAssigned to {request.assignee}; it was due {request.sla_due_at:%Y-%m-%d %H:%M} UTC "
            "and is not resolved yet.")
    manager, notified = escalate(call.session, about=request.assignee, subject=subject, body=body,
                                 instance_id=call.instance_id, client_id=request.client_id)
    if request.assignee:
        add_notification(call.session, kind="escalation", recipient=request.assignee, subject=subject, body=body,
                         now=clock.now(), instance_id=call.instance_id, client_id=request.client_id)
    return {"manager": manager, "notified": notified}


def resolve(call: ServiceCall) -> dict:
    request = _request(call)
    now = clock.now()
    request.status, request.resolution, request.resolved_at, request.updated_at = (
        "resolved", call.data["resolution"], now, now)
    _tell_requester(call, request, f"Service request #{request.id} is resolved",
                    f"{request.title}\n\n{request.resolution}")
    return {"status": request.status, "resolved_at": now.isoformat()}


def close(call: ServiceCall) -> dict:
    """Closed with the client's rating when they gave one (also kept as feedback on the request)."""
    request = _request(call)
    now = clock.now()
    rating = call.data.get("rating")
    request.status, request.rating, request.closed_at, request.updated_at = "closed", rating, now, now
    if rating is not None:
        call.session.add(Feedback(client_id=request.client_id, csat=rating, comment=call.data.get("rating_comment"),
                                  subject_type="service_request", subject_id=request.id, created_by=call.actor,
                                  created_at=now, updated_at=now))
    return {"status": request.status, "rating": rating}


def register(registry: ServiceRegistry) -> None:
    registry.register("service_request.triage", triage)
    registry.register("service_request.reject", reject)
    registry.register("service_request.assign", assign)
    registry.register("service_request.suggest_articles", suggest_articles)
    registry.register("service_request.escalate_sla", escalate_sla)
    registry.register("service_request.resolve", resolve)
    registry.register("service_request.close", close)

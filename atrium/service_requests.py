"""Service requests: recording one (its SLA due times fixed at receipt, its `service_request` process
started), and every step its process takes: triage, rejection, assignment, knowledge-base offers, SLA
escalation, resolution and closing. Whoever records a request (staff through the API, an integration, a
follow-up that needs action, the demo) comes here. Every change is audited here (`service_request.create`,
`.triage`, `.reject`, `.assign`, `.escalate`, `.resolve`, `.close`) on
`client:{id}/service-requests/{request id}`. Callers own the transaction."""

from __future__ import annotations

import re
import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from atrium import audit, clock, escalation, events, i18n, notifications, surveys
from atrium.client_records import audit_create, check_process_fields, target_of
from atrium.clients import client_business_key
from atrium.errors import NotFound
from engine.timers import after  # the calendar arithmetic the process's timers use
from storage.accounts import account_by_username
from storage.client_records import Feedback, ServiceRequest
from storage.definitions import latest_definition
from storage.knowledge import search_articles

PROCESS_KEY = "service_request"
# Where the work task sits in the inbox when sorted by priority.
INBOX_PRIORITY = {"urgent": 90, "high": 70, "normal": 50, "low": 30}
# Words that match almost every article and tell nothing about the request.
_STOP_WORDS = {
    "the",
    "and",
    "for",
    "with",
    "our",
    "your",
    "you",
    "are",
    "was",
    "were",
    "this",
    "that",
    "from",
    "have",
    "has",
    "not",
    "but",
    "can",
    "please",
    "thanks",
    "thank",
    "about",
    "into",
    "they",
    "them",
}


def request_or_raise(session: Session, request_id: int) -> ServiceRequest:
    request = session.get(ServiceRequest, request_id)
    if request is None:
        raise NotFound(f"service request {request_id} no longer exists")
    return request


def sla_due_times(settings, received_at: datetime) -> dict[str, str]:
    """{priority: ISO datetime}: when a request received at `received_at` is due, for each priority."""
    return {
        priority: after(received_at, duration).isoformat()
        for priority, duration in settings.service_request_sla.items()
    }


def record_request(engine, session: Session, client_id: int, data: dict, *, actor: str | None) -> ServiceRequest:
    """Record a new service request and start its process. Its SLA due time for each priority is fixed now,
    from ATRIUM_SERVICE_REQUEST_SLA, and kept on it: triage picks the one of the priority it decides, and a
    later change of the setting moves none of them."""
    check_process_fields(ServiceRequest, data, creating=True)
    now = clock.now()
    request = ServiceRequest(
        **{"priority": "normal", "source": "staff", **data},
        client_id=client_id,
        status="new",
        sla_due_times=sla_due_times(engine.settings, now),
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    session.add(request)
    audit_create(session, request, actor=actor)
    start_request_process(engine, session, request, actor=actor)
    return request


def start_request_process(engine, session: Session, request: ServiceRequest, *, actor: str | None) -> uuid.UUID | None:
    """Start `service_request` for a recorded request, in the caller's transaction, and link the two.

    Without a deployed `service_request` the record is kept on its own (a firm that does not run the
    process still keeps requests); returns the instance id, or None then."""
    if latest_definition(session, process_key=PROCESS_KEY) is None:
        return None
    instance = engine.start_instance(
        session,
        process_key=PROCESS_KEY,
        business_key=client_business_key(request.client_id),
        actor=actor,
        variables={
            name: value
            for name, value in (
                ("request_id", request.id),
                ("client_id", request.client_id),
                ("title", request.title),
                ("content", request.content),
                ("type", request.type),
                ("priority", request.priority),
            )
            if value is not None
        },
    )  # a form shows what it is given: no nulls for fields still to fill in
    request.instance_id = instance.id
    return instance.id


def _audit(session: Session, request: ServiceRequest, verb: str, before: dict, *, actor: str | None, **extra) -> None:
    after = {name: getattr(request, name) for name in before}
    audit.record(
        session,
        f"service_request.{verb}",
        actor=actor,
        target=target_of(request),
        detail={**audit.changes(before, after), **extra},
    )


def _snapshot(request: ServiceRequest, *names: str) -> dict:
    return {name: getattr(request, name) for name in ("status", *names)}


def _tell_requester(
    session: Session,
    request: ServiceRequest,
    subject: str,
    body: str,
    *,
    params: dict,
    actor: str | None,
    instance_id: uuid.UUID | None,
) -> None:
    """The person who registered the request hears how it ended (unless they ended it themselves), in their
    language (`subject` and `body` are catalogue keys, with `params`)."""
    if request.created_by and request.created_by != actor:
        notifications.queue(
            session,
            kind="outcome",
            recipient=request.created_by,
            subject=subject,
            body=body,
            params=params,
            actor=actor,
            instance_id=instance_id,
            client_id=request.client_id,
        )


def due_time(request: ServiceRequest, priority: str, settings) -> datetime:
    """The SLA due time of `priority` fixed when the request was received (computed from its receipt under
    `settings` for a priority it was not given one for: one added since, or a request recorded before)."""
    stored = (request.sla_due_times or {}).get(priority)
    if stored is not None:
        return datetime.fromisoformat(stored)
    return after(request.created_at, settings.service_request_sla[priority])


def triage(
    engine, session: Session, request: ServiceRequest, *, type: str | None, priority: str, actor: str | None
) -> dict:
    """Type and priority from the desk's triage; the SLA due time is the one of that priority fixed at receipt."""
    before = _snapshot(request, "type", "priority", "sla_due_at")
    request.type, request.priority, request.status = type, priority, "triaged"
    request.sla_due_at = due_time(request, priority, engine.settings)
    request.updated_at = clock.now()
    _audit(session, request, "triage", before, actor=actor)
    return {"due_at": request.sla_due_at.isoformat(), "inbox_priority": INBOX_PRIORITY[request.priority]}


def reject(
    session: Session, request: ServiceRequest, *, reason: str, actor: str | None, instance_id: uuid.UUID | None
) -> None:
    """Not a request the firm takes on (spam, duplicate, wrong addressee): cancelled with the reason."""
    _finish(
        session,
        request,
        "reject",
        status="cancelled",
        resolution=reason,
        at_field="closed_at",
        subject="notification.request_rejected.subject",
        body="notification.request_rejected.body",
        params={"id": request.id, "title": request.title, "reason": reason},
        actor=actor,
        instance_id=instance_id,
    )


def _finish(
    session: Session,
    request: ServiceRequest,
    verb: str,
    *,
    status: str,
    resolution: str,
    at_field: str,
    subject: str,
    body: str,
    params: dict,
    actor: str | None,
    instance_id: uuid.UUID | None,
) -> None:
    """End the work on a request with a resolution (`reject`: cancelled and closed; `resolve`: resolved, to
    be rated and closed): its status and time, the audit row, and the requester told."""
    before = _snapshot(request, at_field)
    now = clock.now()
    request.status, request.resolution, request.updated_at = status, resolution, now
    setattr(request, at_field, now)
    _audit(session, request, verb, before, actor=actor, resolution="changed")
    if status == "resolved":  # identifiers and codes only: never the title, description or resolution
        events.emit(
            session,
            "service_request.resolved",
            aggregate=("client", request.client_id),
            data={
                "client_id": request.client_id,
                "request_id": request.id,
                "priority": request.priority,
                "type": request.type,
                "resolved_at": now,
            },
            actor=actor,
        )
    _tell_requester(session, request, subject, body, params=params, actor=actor, instance_id=instance_id)


def assign(session: Session, request: ServiceRequest, *, assignee: str, actor: str | None) -> str | None:
    """Give the request to `assignee` if that is an active account; else the problem, so the desk is asked
    again (nothing changes then)."""
    account = account_by_username(session, username=assignee)
    if account is None or not account.active:
        return f"'{assignee}' is not an active account; name someone else"
    before = _snapshot(request, "assignee")
    # The work task opens assigned to them, and that tells them (one task-assigned message, from the engine).
    request.assignee, request.status, request.updated_at = assignee, "assigned", clock.now()
    _audit(session, request, "assign", before, actor=actor)
    return None


def _words(*texts: str | None) -> list[str]:
    words = []
    for text in texts:
        for word in re.split(r"\W+", (text or "").casefold()):
            if len(word) >= 3 and word not in _STOP_WORDS and word not in words:
                words.append(word)
    return words[:12]


def suggest_articles(session: Session, request: ServiceRequest, *, limit: int = 3) -> list[dict]:
    """Knowledge-base articles for the work task: those of the request's type matching its words first,
    then any matching its words; the best `limit` as {id, title}. Reads only."""
    q = " ".join(_words(request.title, request.content))
    if not q:
        return []
    found = []
    for service_type in ([request.type] if request.type else []) + [None]:
        rows, _ = search_articles(session, q=q, service_type=service_type, tag=None, limit=limit, offset=0)
        found += [row for row in rows if row.id not in {f.id for f in found}]
        if len(found) >= limit:
            break
    return [{"id": row.id, "title": row.title} for row in found[:limit]]


def escalate_sla(
    session: Session, request: ServiceRequest, *, actor: str | None, instance_id: uuid.UUID | None
) -> dict:
    """The SLA passed with the work still open: the assignee's manager (atrium.escalation's rule) is told,
    and the assignee reminded; the work itself goes on."""
    subject, body = "notification.sla_breached.subject", "notification.sla_breached.body"
    params = {
        "id": request.id,
        "priority": i18n.Term(f"request.priority.{request.priority}"),
        "title": request.title,
        "assignee": request.assignee,
        "due": f"{request.sla_due_at:%Y-%m-%d %H:%M}",
    }
    manager, notified = escalation.escalate(
        session,
        about=request.assignee,
        subject=subject,
        body=body,
        params=params,
        actor=actor,
        instance_id=instance_id,
        client_id=request.client_id,
    )
    if request.assignee:
        notifications.queue(
            session,
            kind="escalation",
            recipient=request.assignee,
            subject=subject,
            body=body,
            params=params,
            actor=actor,
            instance_id=instance_id,
            client_id=request.client_id,
        )
    audit.record(
        session,
        "service_request.escalate",
        actor=actor,
        target=target_of(request),
        detail={"manager": manager, "notified": notified, "due": request.sla_due_at.isoformat()},
    )
    return {"manager": manager, "notified": notified}


def resolve(
    session: Session, request: ServiceRequest, *, resolution: str, actor: str | None, instance_id: uuid.UUID | None
) -> None:
    _finish(
        session,
        request,
        "resolve",
        status="resolved",
        resolution=resolution,
        at_field="resolved_at",
        subject="notification.request_resolved.subject",
        body="notification.request_resolved.body",
        params={"id": request.id, "title": request.title, "resolution": resolution},
        actor=actor,
        instance_id=instance_id,
    )


def close(
    session: Session,
    request: ServiceRequest,
    *,
    rating: int | None,
    comment: str | None,
    actor: str | None,
    engine=None,
) -> None:
    """Closed with the requester's rating when they gave one (also kept as feedback on the request); given the
    `engine`, the client's own contact is then asked in a survey (atrium.surveys) how it went."""
    before = _snapshot(request, "rating", "closed_at")
    now = clock.now()
    request.status, request.rating, request.closed_at, request.updated_at = "closed", rating, now, now
    _audit(session, request, "close", before, actor=actor)
    if rating is not None:
        feedback = Feedback(
            client_id=request.client_id,
            csat=rating,
            comment=comment,
            subject_type="service_request",
            subject_id=request.id,
            created_by=actor,
            created_at=now,
            updated_at=now,
        )
        session.add(feedback)
        audit_create(session, feedback, actor=actor)
    if engine is not None:
        surveys.survey_after_close(engine, session, request, actor=actor)

"""Erasure (data destruction): a client's personal data destroyed beyond recovery, the one home of its rules.

An admin asks, with a reason; a second admin confirms (ATRIUM_ERASURE_CONFIRMATION, on by default), or the
retention policy (ATRIUM_ERASE_AFTER_YEARS) decides. Erasing destroys the client's data key (crypto-shredding:
every ciphertext under it, in the database and in every backup, is unreadable for good) and scrubs what is
not encrypted: name, search text, identifiers, contacts, the free text of its cases, the data of its ended
process instances and their history, and the notifications about it. What the firm's figures need stays:
the client row (nameless, `erased_at` set), its tier, status, owner and industry, its status history, and its
cases' dates, statuses, priorities and ratings, so reports count it as an erased client. A client with open
engagements or running processes is refused with the reason. The result is a certificate of destruction,
kept and audited (`client.erase`)."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from atrium import audit, clock, events, follow_up_cycles, i18n, notifications
from atrium.clients import client_target
from atrium.errors import Conflict, Forbidden, InvalidInput, NotFound
from engine.serializer import scrub_state
from storage import crypto
from storage.accounts import Account, active_usernames_with_role
from storage.billing import Payment, TimeEntry
from storage.care import CareActivity, CareDate
from storage.client_records import Complaint, Engagement, Feedback, FollowUp, ServiceRequest
from storage.clients import (
    CHANGED,
    KEY,
    PLAIN,
    Client,
    ClientIdentifier,
    ClientSearchToken,
    Contact,
    client_business_key,
)
from storage.erasures import DONE, REQUESTED, WITHDRAWN, Erasure
from storage.history import HistoryEntry
from storage.instances import ACTIVE, ERROR, Incident, ProcessInstance
from storage.notifications import Notification
from storage.tasks import Task

log = logging.getLogger(__name__)

REASON_MIN = 10
REASON_MAX = 1000
OPEN_ENGAGEMENTS = ("proposed", "active")
# The free text of a client's cases, emptied (None, or "" where the column requires a value).
CASE_TEXT = {
    Engagement: {"description": None, "adverse_parties": []},
    FollowUp: {"content": None, "next_step": None},
    ServiceRequest: {"title": "", "content": None, "resolution": None},
    Complaint: {"description": "", "resolution": None},
    Feedback: {"comment": None},
    CareActivity: {"notes": None},
    TimeEntry: {"description": None},
    Payment: {"reference": None},  # a bank reference often names the payer
}
KEPT = [
    "the client row without name or contact data (kind, tier, status, owner, industry, dates)",
    "its status history",
    "its cases' dates, statuses, priorities, severities and ratings",
    "its process instances' paths (which steps ran, when, by whom)",
    "audit rows (they name the client by id only)",
]


def blockers(session: Session, client: Client) -> list[str]:
    """Why the client cannot be erased now: open engagements, and running processes other than its
    follow-up cycle (which ends with it)."""
    reasons = []
    open_engagements = session.scalar(
        select(func.count())
        .select_from(Engagement)
        .where(Engagement.client_id == client.id, Engagement.status.in_(OPEN_ENGAGEMENTS))
    )
    if open_engagements:
        reasons.append(f"it has {open_engagements} open engagement(s)")
    running = session.scalar(
        select(func.count())
        .select_from(ProcessInstance)
        .where(
            ProcessInstance.business_key == client_business_key(client.id),
            ProcessInstance.status.in_((ACTIVE, ERROR)),
            ProcessInstance.process_key.notin_(follow_up_cycles.CYCLE_PROCESS_KEYS),
        )
    )
    if running:
        reasons.append(f"it has {running} running process instance(s)")
    return reasons


def _client_to_erase(session: Session, client_id: int) -> Client:
    client = session.get(Client, client_id)
    if client is None:
        raise NotFound(f"client {client_id} not found")
    if client.erased_at is not None:
        raise Conflict(f"client {client_id} was already erased")
    return client


def _refuse_if_blocked(session: Session, client: Client) -> None:
    reasons = blockers(session, client)
    if reasons:
        raise Conflict(f"client {client.id} cannot be erased: {'; '.join(reasons)}")


def _checked_reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if not REASON_MIN <= len(reason) <= REASON_MAX:
        raise InvalidInput(
            "an erasure needs a reason",
            {"reason": [f"say why, in {REASON_MIN} to {REASON_MAX} characters"]},
        )
    return reason


def request_erasure(
    session: Session, engine, client_id: int, *, reason: str, actor: str, confirmation_required: bool
) -> Erasure:
    """Ask to erase a client (deleted or not). With `confirmation_required` the request waits for a second
    admin (the other active admins are told); without, it is carried out at once. Audited as
    `client.erase_request`, and `client.erase` once done."""
    reason = _checked_reason(reason)
    client = _client_to_erase(session, client_id)
    _refuse_if_blocked(session, client)
    pending = session.scalar(select(Erasure).where(Erasure.client_id == client.id, Erasure.status == REQUESTED))
    if pending is not None:
        raise Conflict(f"the erasure of client {client.id} was already requested (erasure {pending.id})")
    erasure = Erasure(
        client_id=client.id, status=REQUESTED, reason=reason, requested_by=actor, requested_at=clock.now()
    )
    session.add(erasure)
    session.flush()
    audit.record(
        session,
        "client.erase_request",
        actor=actor,
        target=client_target(client.id),
        detail={"erasure": erasure.id, "reason": reason, "confirmation_required": confirmation_required},
    )
    if not confirmation_required:
        return _erase(session, engine, client, erasure, actor=actor)
    for admin in active_usernames_with_role(session, role="admin"):
        if admin != actor:
            locale = session.scalar(select(Account.locale).where(Account.username == admin)) or "en"
            notifications.queue(
                session,
                kind="erasure_requested",
                recipient=admin,
                subject=i18n.translate("erasure.requested_subject", locale, client=client.id),
                body=i18n.translate("erasure.requested_body", locale, actor=actor, erasure=erasure.id),
                actor=actor,
            )
    return erasure


def _open_erasure(session: Session, erasure_id: int) -> Erasure:
    erasure = session.get(Erasure, erasure_id, with_for_update=True)
    if erasure is None:
        raise NotFound(f"erasure {erasure_id} not found")
    if erasure.status != REQUESTED:
        raise Conflict(f"erasure {erasure_id} is {erasure.status}, not waiting for confirmation")
    return erasure


def confirm_erasure(session: Session, engine, erasure_id: int, *, actor: str) -> Erasure:
    """A second admin confirms a requested erasure, which is then carried out (the checks run again)."""
    erasure = _open_erasure(session, erasure_id)
    if erasure.requested_by == actor:
        raise Forbidden(f"erasure {erasure_id} needs a second admin: whoever requested it cannot confirm it")
    client = _client_to_erase(session, erasure.client_id)
    _refuse_if_blocked(session, client)
    return _erase(session, engine, client, erasure, actor=actor)


def withdraw_erasure(session: Session, erasure_id: int, *, actor: str) -> Erasure:
    """Withdraw a request not yet confirmed (any admin may); audited as `client.erase_withdraw`."""
    erasure = _open_erasure(session, erasure_id)
    erasure.status = WITHDRAWN
    audit.record(
        session,
        "client.erase_withdraw",
        actor=actor,
        target=client_target(erasure.client_id),
        detail={"erasure": erasure.id},
    )
    return erasure


def _erase(session: Session, engine, client: Client, erasure: Erasure, *, actor: str) -> Erasure:
    now = clock.now()
    # Marked first (a version-checked update): of two confirmations racing, the second fails here.
    won = session.execute(
        update(Erasure)
        .where(Erasure.id == erasure.id, Erasure.status == REQUESTED)
        .values(status=DONE, confirmed_by=actor, completed_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if won != 1:
        raise Conflict(f"erasure {erasure.id} was carried out or withdrawn meanwhile")
    session.refresh(erasure)
    follow_up_cycles.sync_cycle(engine, session, client, actor=actor, deleting=True)
    destroyed = {
        "data_key": _destroy_key(session, client.id, now),
        "personal_fields": ["name", "phones", "emails", "addresses", "notes", "tags", "custom_fields"],
        "identifiers": _delete(session, ClientIdentifier, ClientIdentifier.client_id == client.id),
        "search_tokens": _delete(session, ClientSearchToken, ClientSearchToken.client_id == client.id),
        # Birthdays and anniversaries are personal data; before the contacts they name.
        "care_dates": _delete(session, CareDate, CareDate.client_id == client.id),
        "contacts": _delete(session, Contact, Contact.client_id == client.id),
        # Planned follow-ups that will never happen (they would count as overdue for ever).
        "planned_follow_ups": _delete(
            session, FollowUp, (FollowUp.client_id == client.id) & FollowUp.done_at.is_(None)
        ),
        "case_texts": {
            model.__tablename__: session.execute(
                update(model).where(model.client_id == client.id).values(**values)
            ).rowcount
            for model, values in CASE_TEXT.items()
        },
        **_scrub_processes(session, client.id),
    }
    _scrub_client(client, actor=actor, now=now)
    # Its past events keep identifiers only; the finance system is told to erase what it holds.
    destroyed["event_data"] = events.scrub_client(session, client.id)
    events.emit(
        session,
        "client.erased",
        aggregate=("client", client.id),
        data={"client_id": client.id, "erased_at": now},
        actor=actor,
    )
    erasure.certificate = certificate(erasure, client_id=client.id, destroyed=destroyed, erased_at=now)
    audit.record(
        session,
        "client.erase",
        actor=actor,
        target=client_target(client.id),
        detail={
            "erasure": erasure.id,
            "requested_by": erasure.requested_by,
            "certificate_sha256": erasure.certificate["sha256"],
        },
    )
    return erasure


def _delete(session: Session, model, condition) -> int:
    return session.execute(delete(model).where(condition).execution_options(synchronize_session=False)).rowcount


def _destroy_key(session: Session, client_id: int, now: datetime) -> bool:
    """Crypto-shredding: the wrapped data key is overwritten, so no master key can recover it."""
    destroyed = session.execute(
        update(crypto.ClientKey)
        .where(crypto.ClientKey.client_id == client_id)
        .values(wrapped_key=None, destroyed_at=now)
    ).rowcount
    session.info.get(crypto.SESSION_KEYS, {})[client_id] = None
    return bool(destroyed)


def _scrub_client(client: Client, *, actor: str, now: datetime) -> None:
    for attribute in (PLAIN, CHANGED, KEY):  # the plaintext the object held, and its key
        client.__dict__.pop(attribute, None)
    for field in Client.ENCRYPTED:
        setattr(client, f"{field}_stored", None)
    client.name = ""
    client.name_key = ""
    client.search_text = ""
    client.tags = []
    client.erased_at = now
    client.updated_at = now
    if client.deleted_at is None:
        client.deleted_at = now
        client.deleted_by = actor


def _scrub_processes(session: Session, client_id: int) -> dict:
    """Empty the data of the client's process instances (all ended by now), their history details, their
    tasks' subjects, incident messages, and the notifications about the client or its instances."""
    instances = session.execute(
        select(ProcessInstance.id, ProcessInstance.state, ProcessInstance.lock_version).where(
            ProcessInstance.business_key == client_business_key(client_id)
        )
    ).all()
    ids = [row.id for row in instances]
    for row in instances:
        # A new lock version: any cached copy of the workflow (with its data) is never used again.
        session.execute(
            update(ProcessInstance)
            .where(ProcessInstance.id == row.id)
            .values(state=scrub_state(row.state) if row.state else row.state, lock_version=row.lock_version + 1)
            .execution_options(synchronize_session=False)
        )
    history = tasks = 0
    if ids:
        history = session.execute(
            update(HistoryEntry).where(HistoryEntry.instance_id.in_(ids)).values(detail=None)
        ).rowcount
        tasks = _scrub_task_subjects(session, ids)
        session.execute(update(Incident).where(Incident.instance_id.in_(ids)).values(message=""))
    about = Notification.client_id == client_id
    if ids:
        about = or_(about, Notification.instance_id.in_(ids))
    notes = session.execute(update(Notification).where(about).values(subject="", body="")).rowcount
    return {"process_instances": len(ids), "history_entries": history, "tasks": tasks, "notifications": notes}


def _scrub_task_subjects(session: Session, instance_ids: list) -> int:
    """A task's subject may name the client ("Call Harbour Ltd"): dropped; its name stays."""
    rows = session.execute(select(Task.id, Task.texts).where(Task.instance_id.in_(instance_ids))).all()
    for task_id, texts in rows:
        kept = {k: v for k, v in (texts or {}).items() if k != "subject"}
        session.execute(
            update(Task)
            .where(Task.id == task_id)
            .values(texts=kept, subject_search=None)
            .execution_options(synchronize_session=False)
        )
    return len(rows)


def certificate(erasure: Erasure, *, client_id: int, destroyed: dict, erased_at: datetime) -> dict:
    """What was destroyed, when, by whom and why, sealed with the SHA-256 of its canonical JSON."""
    body = {
        "erasure": erasure.id,
        "client_id": client_id,
        "reason": erasure.reason,
        "requested_by": erasure.requested_by,
        "requested_at": erasure.requested_at.isoformat(),
        "confirmed_by": erasure.confirmed_by,
        "erased_at": erased_at.isoformat(),
        "destroyed": destroyed,
        "kept": KEPT,
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return {**body, "sha256": hashlib.sha256(canonical.encode()).hexdigest()}


def certificate_intact(cert: dict) -> bool:
    """Whether a certificate still matches its SHA-256 (the stored one was not edited)."""
    body = {k: v for k, v in cert.items() if k != "sha256"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest() == cert.get("sha256")


# Retention ------------------------------------------------------------------------------------------
def _years_before(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year - years, day=28)


def due_for_erasure(session: Session, *, years: int, now: datetime, within_days: int = 0) -> list[dict]:
    """Clients the retention policy erases by `now` + `within_days`: deleted, or former, for `years` years
    (the latest of deletion and last change counts). Each with when it is due and what blocks it."""
    cutoff = _years_before(now + timedelta(days=within_days), years)
    since = func.coalesce(Client.deleted_at, Client.updated_at)  # deleted: since then; former: since its last change
    rows = session.scalars(
        select(Client)
        .where(
            Client.erased_at.is_(None),
            or_(Client.deleted_at.is_not(None), Client.status == "former"),
            since <= cutoff,
        )
        .order_by(since, Client.id)
    ).all()
    found = []
    for client in rows:
        found.append(
            {
                "client_id": client.id,
                "name": client.name,
                "status": client.status,
                "deleted_at": client.deleted_at,
                "due_at": _years_before(client.deleted_at or client.updated_at, -years),
                "blockers": blockers(session, client),
            }
        )
    return found


def erase_due(engine, *, years: int, actor: str) -> list[Erasure]:
    """Erase every client the retention policy makes due now and nothing blocks, one transaction each,
    confirmed by the policy itself; returns the erasures done."""
    with engine.transaction() as session:
        due = [d["client_id"] for d in due_for_erasure(session, years=years, now=clock.now()) if not d["blockers"]]
    done = []
    for client_id in due:
        with engine.transaction() as session:
            client = session.get(Client, client_id)
            if client is None or client.erased_at is not None or blockers(session, client):
                continue  # changed meanwhile
            reason = f"retention policy: deleted or former for {years} years (ATRIUM_ERASE_AFTER_YEARS)"
            done.append(
                request_erasure(session, engine, client_id, reason=reason, actor=actor, confirmation_required=False)
            )
    return done


PREVIEW_DAYS = 30
_RETENTION_ACTION = "erasure.retention"


def retention_job(engine) -> list[Erasure] | None:
    """The scheduler's daily job (polled hourly, run once a UTC day): erase the clients due now, and tell the
    admins which clients fall due within PREVIEW_DAYS, so nothing is erased they were not told of. None
    when there is no policy, or today's run was made."""
    years = engine.settings.erase_after_years
    if not years:
        return None
    try:
        with engine.transaction() as session:
            today = clock.now().replace(hour=0, minute=0, second=0, microsecond=0)
            from storage.audit import AuditEntry

            ran = session.scalar(
                select(AuditEntry.id).where(AuditEntry.action == _RETENTION_ACTION, AuditEntry.at >= today).limit(1)
            )
            if ran is not None:
                return None
            upcoming = due_for_erasure(session, years=years, now=clock.now(), within_days=PREVIEW_DAYS)
            audit.record(
                session,
                _RETENTION_ACTION,
                actor=audit.SCHEDULER,
                target="clients",
                detail={"years": years, "due_within_days": PREVIEW_DAYS, "clients": [d["client_id"] for d in upcoming]},
            )
            _tell_admins_of(session, upcoming)
        return erase_due(engine, years=years, actor=audit.SCHEDULER)
    except Exception:  # a database outage must not kill the scheduler thread; the next poll tries again
        log.exception("the retention erasure failed")
        return None


def _tell_admins_of(session: Session, upcoming: list[dict]) -> None:
    if not upcoming:
        return
    for admin in active_usernames_with_role(session, role="admin"):
        locale = session.scalar(select(Account.locale).where(Account.username == admin)) or "en"
        lines = "\n".join(
            i18n.translate(
                "erasure.preview_line",
                locale,
                client=d["client_id"],
                due=i18n.format_date(d["due_at"], locale),
                blocked=i18n.LIST_SEPARATOR.get(locale, "; ").join(i18n.translate(b, locale) for b in d["blockers"])
                or "-",
            )
            for d in upcoming
        )
        notifications.queue(
            session,
            kind="erasure_preview",
            recipient=admin,
            subject=i18n.translate("erasure.preview_subject", locale, count=len(upcoming), days=PREVIEW_DAYS),
            body=lines,
            actor=audit.SCHEDULER,
        )

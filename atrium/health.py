"""Client health: the signals the firm records about each active client, scored by the newest deployed
decision table `client_health` (processes/client_health.dmn), with its band and the rules that fired.

Score = 100 + the points of every rule that fired (hit policy COLLECT), kept within 0..100; the bands'
thresholds are settings (ATRIUM_HEALTH_WATCH_BELOW, ATRIUM_HEALTH_AT_RISK_BELOW). The firm changes the
weights by deploying a new version of the table; the next recompute uses it. Signals are read for all
clients at once, one grouped query per kind of record, so a recompute of 100,000 clients is a few
queries, not 100,000."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, case, func, select, text
from sqlalchemy.orm import Session

from atrium import audit, clock, i18n, notifications
from atrium.errors import DefinitionInvalid, NotFound, Problem
from engine.decision_tables import CompiledTable, UnsupportedCell, compile_decision, parse_decision
from engine.timers import after
from storage import health as store
from storage.accounts import Account
from storage.audit import AuditEntry
from storage.client_records import Complaint, Engagement, Feedback, FollowUp, ServiceRequest, live
from storage.clients import Client
from storage.definitions import latest_decision
from storage.health import AT_RISK, HEALTHY, WATCH, ClientHealth
from storage.notifications import Notification

log = logging.getLogger(__name__)

DECISION = "client_health"
# What the table may read, each a number (a client without such records reads 0).
SIGNALS = (
    "contact_ratio",  # days since the last contact / the tier's follow-up interval in days
    "open_complaints",
    "worst_severity",  # of the open complaints: 0 none, 1 low, 2 medium, 3 high, 4 critical
    "csat_ratings",  # CSAT ratings in the last 90 days
    "csat_avg",
    "csat_trend",  # CSAT average of the last 90 days minus that of the 90 before (0 without both)
    "nps_ratings",
    "nps_avg",
    "overdue_follow_ups",
    "requests_90d",
    "sla_breaches_90d",
    "active_engagements",
)
SEVERITY_RANK = {"low": 1, "medium": 2, "high": 3, "critical": 4}
OPEN_COMPLAINT = ("registered", "acknowledged", "investigating", "resolution_proposed")
WINDOW = timedelta(days=90)
# Only active clients are scored: a prospect or a former client has no relationship to keep healthy.
SCORED_STATUS = "active"


@dataclass(frozen=True)
class HealthTable:
    version: int
    compiled: CompiledTable


# (decision_definitions.id, content hash) -> compiled table: a deployed version never changes.
_compiled: dict[tuple[int, str], HealthTable] = {}


def health_table(session: Session) -> HealthTable:
    """The newest deployed `client_health` table, compiled once per version. Raises NotFound when
    none is deployed, DefinitionInvalid when it cannot be evaluated (naming the rule and the cell)."""
    row = latest_decision(session, decision_key=DECISION)
    if row is None:
        raise NotFound("no decision table client_health is deployed: deploy processes/client_health.dmn")
    key = (row.id, row.content_hash)
    table = _compiled.get(key)
    if table is None:
        table = _compiled[key] = HealthTable(row.version, _checked(row))
    return table


def _checked(row) -> CompiledTable:
    """The compiled table of a deployed version, or DefinitionInvalid naming the version, rule and cell."""

    def refused(message: str, element: str | None = DECISION):
        return DefinitionInvalid([Problem(row.source_name, None, element, f"version {row.version}: {message}")])

    try:
        compiled = compile_decision(parse_decision(row.dmn_xml))
    except UnsupportedCell as exc:
        raise refused(str(exc)) from exc
    if compiled.hit_policy != "COLLECT":
        raise refused(
            f"the hit policy must be COLLECT (every matching rule adds its points), not {compiled.hit_policy}"
        )
    unknown = [name for name in compiled.inputs if name not in SIGNALS]
    if unknown:
        raise refused(f"unknown input {', '.join(unknown)} (known: {', '.join(SIGNALS)})")
    for rule in compiled.rules:
        points = rule.outputs.get("points")
        if not isinstance(points, int | float) or isinstance(points, bool) or not rule.outputs.get("reason"):
            raise refused(f"rule {rule.rule_id} (row {rule.row}) needs a number `points` and a `reason`", rule.rule_id)
    return compiled


def band_of(score: int, settings) -> str:
    if score < settings.health_at_risk_below:
        return AT_RISK
    if score < settings.health_watch_below:
        return WATCH
    return HEALTHY


def score_signals(table: HealthTable, signals: dict) -> tuple[int, list[dict]]:
    """The score and the fired rules ({rule, reason, points}) of one client's signals."""
    fired = table.compiled.evaluate(tuple(signals[name] for name in table.compiled.inputs))
    reasons = [
        {"rule": rule.rule_id, "reason": rule.outputs["reason"], "points": rule.outputs["points"]} for rule in fired
    ]
    total = 100 + sum(reason["points"] for reason in reasons)
    return max(0, min(100, round(total))), reasons


def _interval_days(settings, now: datetime) -> dict[str, float]:
    return {
        tier: max((after(now, duration) - now).total_seconds() / 86400, 1.0)
        for tier, duration in settings.follow_up_intervals.items()
    }


def _grouped(session: Session, query) -> dict[int, tuple]:
    return {row[0]: tuple(row[1:]) for row in session.execute(query)}


def client_signals(session: Session, settings, *, client_ids: list[int] | None = None) -> dict[int, dict]:
    """Each scored client's signals (client id -> {signal: number, plus `days_since_contact`})."""
    now = clock.now()
    since, before = now - WINDOW, now - 2 * WINDOW
    overdue_before = now - (after(now, settings.follow_up_due) - now)

    def scoped(query, column):
        return query.where(column.in_(client_ids)) if client_ids is not None else query

    clients = session.execute(
        scoped(
            select(Client.id, Client.tier, Client.created_at).where(
                Client.deleted_at.is_(None), Client.erased_at.is_(None), Client.status == SCORED_STATUS
            ),
            Client.id,
        )
    ).all()
    if not clients:
        return {}
    # Grouped by client over each table (read whole, not per client: one scan each).
    follow_ups = _grouped(
        session,
        scoped(
            select(
                FollowUp.client_id,
                func.max(FollowUp.done_at),
                func.sum(case((and_(FollowUp.done_at.is_(None), FollowUp.planned_at < overdue_before), 1), else_=0)),
            ).group_by(FollowUp.client_id),
            FollowUp.client_id,
        ),
    )
    breached = and_(
        ServiceRequest.sla_due_at.is_not(None),
        ServiceRequest.status != "cancelled",
        func.coalesce(ServiceRequest.resolved_at, ServiceRequest.closed_at, now) > ServiceRequest.sla_due_at,
    )
    requests = _grouped(
        session,
        scoped(
            select(
                ServiceRequest.client_id,
                func.max(ServiceRequest.created_at),
                func.count(),
                func.sum(case((breached, 1), else_=0)),
            )
            .where(ServiceRequest.created_at >= since)
            .group_by(ServiceRequest.client_id),
            ServiceRequest.client_id,
        ),
    )
    last_requests = (
        _grouped(
            session,
            scoped(
                select(ServiceRequest.client_id, func.max(ServiceRequest.created_at))
                .where(ServiceRequest.created_at < since)
                .group_by(ServiceRequest.client_id),
                ServiceRequest.client_id,
            ),
        )
        if len(requests) < len(clients)
        else {}
    )
    engagements = _grouped(
        session,
        scoped(
            select(
                Engagement.client_id,
                func.max(Engagement.updated_at),
                func.sum(case((Engagement.status == "active", 1), else_=0)),
            ).group_by(Engagement.client_id),
            Engagement.client_id,
        ),
    )
    severity = case(*((Complaint.severity == name, rank) for name, rank in SEVERITY_RANK.items()), else_=0)
    complaints = _grouped(
        session,
        scoped(
            select(Complaint.client_id, func.count(), func.max(severity))
            .where(live(Complaint), Complaint.status.in_(OPEN_COMPLAINT))
            .group_by(Complaint.client_id),
            Complaint.client_id,
        ),
    )
    recent = Feedback.created_at >= since

    def when(condition, value):
        return case((condition, value), else_=None)

    feedback = _grouped(
        session,
        scoped(
            select(
                Feedback.client_id,
                func.count(when(recent, Feedback.csat)),
                func.avg(when(recent, Feedback.csat)),
                func.avg(when(~recent, Feedback.csat)),
                func.count(when(recent, Feedback.nps)),
                func.avg(when(recent, Feedback.nps)),
            )
            .where(live(Feedback), Feedback.created_at >= before)
            .group_by(Feedback.client_id),
            Feedback.client_id,
        ),
    )

    intervals = _interval_days(settings, now)
    default_interval = max(intervals.values())
    result = {}
    for client_id, tier, created_at in clients:
        done, overdue = follow_ups.get(client_id, (None, 0))
        last_request, request_count, breaches = requests.get(client_id, (None, 0, 0))
        last_request = last_request or last_requests.get(client_id, (None,))[0]
        engaged, active = engagements.get(client_id, (None, 0))
        open_count, worst = complaints.get(client_id, (0, 0))
        csat_count, csat_avg, csat_before, nps_count, nps_avg = feedback.get(client_id, (0, None, None, 0, None))
        contacts = [moment for moment in (done, last_request, engaged) if moment is not None]
        last_contact = max(contacts) if contacts else created_at
        days = max((now - last_contact).total_seconds() / 86400, 0.0)
        csat_avg = float(csat_avg) if csat_avg is not None else None
        result[client_id] = {
            "contact_ratio": round(days / intervals.get(tier, default_interval), 3),
            "open_complaints": int(open_count or 0),
            "worst_severity": int(worst or 0),
            "csat_ratings": int(csat_count or 0),
            "csat_avg": round(csat_avg, 2) if csat_avg is not None else 0,
            "csat_trend": round(csat_avg - float(csat_before), 2)
            if csat_avg is not None and csat_before is not None
            else 0,
            "nps_ratings": int(nps_count or 0),
            "nps_avg": round(float(nps_avg), 2) if nps_avg is not None else 0,
            "overdue_follow_ups": int(overdue or 0),
            "requests_90d": int(request_count or 0),
            "sla_breaches_90d": int(breaches or 0),
            "active_engagements": int(active or 0),
            "days_since_contact": round(days, 1),
        }
    return result


def iso_week(moment: datetime) -> date:
    """The Monday of `moment`'s ISO week (UTC)."""
    day = moment.date()
    return day - timedelta(days=day.weekday())


def recompute_health(
    session: Session, settings, *, client_ids: list[int] | None = None, actor: str | None = audit.SCHEDULER
) -> int:
    """Score every active client (or those of `client_ids`) with the newest deployed table, replacing
    their current scores and this week's snapshots; returns how many were scored. Audited as
    `health.recompute` with the table version."""
    table = health_table(session)
    now = clock.now()
    rows = []
    for client_id, signals in client_signals(session, settings, client_ids=client_ids).items():
        score, reasons = score_signals(table, signals)
        rows.append(
            {
                "client_id": client_id,
                "score": score,
                "band": band_of(score, settings),
                "reasons": reasons,
                "signals": signals,
                "computed_at": now,
                "table_version": table.version,
            }
        )
    store.replace_health(session, rows, week=iso_week(now), client_ids=client_ids)
    audit.record(
        session,
        "health.recompute",
        actor=actor,
        target="health" if client_ids is None else f"health:{len(client_ids)} clients",
        detail={"table_version": table.version, "scored": len(rows)},
    )
    return len(rows)


AT_RISK_MAIL = "health_at_risk"
# Two workers polling at once: one runs the day's recompute (PostgreSQL advisory lock, any number).
_JOB_LOCK = 0x48454C54  # "HELT"


def at_risk_by_owner(session: Session) -> dict[str, list[tuple[int, str, int]]]:
    """Each owner's at-risk clients (id, name, score), lowest score first."""
    rows = session.execute(
        select(Client.owner, Client.id, Client.name, ClientHealth.score)
        .join(ClientHealth, ClientHealth.client_id == Client.id)
        .where(
            ClientHealth.band == AT_RISK,
            Client.owner.is_not(None),
            Client.deleted_at.is_(None),
            Client.erased_at.is_(None),
        )
        .order_by(Client.owner, ClientHealth.score, Client.name_key, Client.id)
    )
    owners: dict[str, list[tuple[int, str, int]]] = {}
    for owner, client_id, name, score in rows:
        owners.setdefault(owner, []).append((client_id, name, score))
    return owners


def mail_at_risk_owners(session: Session, settings, *, actor: str | None = audit.SCHEDULER) -> list[str]:
    """Queue each active owner, once per ISO week, the list of their at-risk clients, in their language;
    returns who was mailed. An owner already mailed this week is skipped, so the job may run any number
    of times."""
    now = clock.now()
    week = iso_week(now)
    week_start = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=now.weekday())
    already = set(
        session.scalars(
            select(Notification.recipient).where(
                Notification.kind == AT_RISK_MAIL, Notification.created_at >= week_start
            )
        )
    )
    active = set(session.scalars(select(Account.username).where(Account.active)))
    mailed = []
    for owner, clients in at_risk_by_owner(session).items():
        if owner in already or owner not in active:
            continue
        notifications.queue(
            session,
            kind=AT_RISK_MAIL,
            recipient=owner,
            subject="notification.health_at_risk.subject",
            body="notification.health_at_risk.body",
            actor=actor,
            params={
                "count": len(clients),
                "week": week.isoformat(),
                "threshold": settings.health_at_risk_below,
                "clients": "\n".join(f"- {name} (#{client_id}): {score}" for client_id, name, score in clients),
            },
        )
        mailed.append(owner)
    return mailed


def _claim_today(session: Session) -> bool:
    """Whether this process should run today's recompute: no other is running it, and none has today."""
    if session.get_bind().dialect.name == "postgresql":
        if not session.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _JOB_LOCK}).scalar():
            return False
    today = clock.now().replace(hour=0, minute=0, second=0, microsecond=0)
    done = select(AuditEntry.id).where(
        AuditEntry.action == "health.recompute", AuditEntry.actor == audit.SCHEDULER, AuditEntry.at >= today
    )
    return session.execute(done.limit(1)).first() is None


def daily_health(engine) -> int | None:
    """The scheduler's job (polled hourly): once a UTC day recompute every client's health, then mail the
    owners of at-risk clients their weekly list (once an ISO week). Returns how many clients were
    scored, or None when today's run was made already (or failed: logged, tried at the next poll)."""
    try:
        with engine.transaction() as session:
            if not _claim_today(session):
                return None
            scored = recompute_health(session, engine.settings)
            mail_at_risk_owners(session, engine.settings)
            return scored
    except NotFound as exc:  # no table deployed yet: nothing to score with
        log.info("client health not computed: %s", exc)
    except Exception:
        log.exception("client health recompute failed")
    return None


def translated_reasons(reasons: list[dict], locale: str) -> list[dict]:
    """The fired rules as a reader sees them: reason key, its text in `locale`, points."""
    return [
        {"reason": r["reason"], "text": i18n.translate(f"health.reason.{r['reason']}", locale), "points": r["points"]}
        for r in reasons
    ]


def client_health_or_raise(session: Session, *, client_id: int) -> ClientHealth:
    """A client's current health (the caller checked it may see the client), or NotFound."""
    health = store.health_of(session, client_id=client_id)
    if health is None:
        raise NotFound(f"client {client_id} has no health score (only active clients are scored)")
    return health


def health_list(
    session: Session,
    *,
    owners: set[str] | None,
    owner: str | None = None,
    tier: str | None = None,
    bands: tuple[str, ...] = (AT_RISK,),
    limit: int,
    offset: int,
) -> tuple[list, int]:
    """Scored live clients in `bands` whose owner is in `owners` (None: any), lowest score first:
    (rows of ClientHealth and Client, total)."""
    conditions = [ClientHealth.band.in_(bands), Client.deleted_at.is_(None), Client.erased_at.is_(None)]
    if owners is not None:
        conditions.append(Client.owner.in_(owners))
    if owner is not None:
        conditions.append(Client.owner == owner)
    if tier is not None:
        conditions.append(Client.tier == tier)
    joined = select(ClientHealth, Client).join(Client, Client.id == ClientHealth.client_id).where(*conditions)
    total = session.scalar(
        select(func.count())
        .select_from(ClientHealth)
        .join(Client, Client.id == ClientHealth.client_id)
        .where(*conditions)
    )
    rows = (
        session.execute(
            joined.order_by(ClientHealth.score, Client.name_key, Client.id).limit(limit).offset(offset)
        ).all()
        if total
        else []
    )
    return rows, total

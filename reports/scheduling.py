"""Scheduled reports: when a schedule fires, making each run, and mailing its PDF.

APScheduler's own SQLAlchemy job store must not be shared by several scheduler processes
(its FAQ: each would run every job), and `atrium serve` runs one scheduler per worker. So the
schedules live in `report_schedules`, APScheduler's CronTrigger computes their fire times, and
the poll job every worker runs (engine/scheduler.py) claims due rows with SKIP LOCKED: one run
per firing, however many workers poll. A run that fails keeps its error and is tried again
later; an exception never leaves this module into the scheduler thread.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from atrium import audit, clock, i18n, notifications
from atrium.errors import Conflict, InvalidInput
from storage.accounts import Account
from storage.reports import FAILED, QUEUED, SUCCEEDED, ReportRun, ReportSchedule, claim_due_schedules, claim_runnable

from .making import Viewer, make, report_or_raise, resolve_filters
from .periods import period_dates
from .render import period_label
from .tables import Filters

log = logging.getLogger(__name__)


def zone_or_raise(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"unknown time zone {name!r}", {"timezone": ["not an IANA time zone, e.g. Asia/Shanghai"]}
        ) from None


def _trigger(cron: str, zone: str) -> CronTrigger:
    try:
        return CronTrigger.from_crontab(cron, timezone=zone_or_raise(zone))
    except ValueError as exc:
        raise InvalidInput(f"invalid cron expression {cron!r}: {exc}", {"cron": [str(exc)]}) from None


def next_fire_time(cron: str, zone: str, after: datetime) -> datetime:
    """The first firing of `cron` (5 fields, in time zone `zone`) strictly after `after`, in UTC."""
    fire = _trigger(cron, zone).get_next_fire_time(None, after + timedelta(seconds=1))
    if fire is None:
        raise InvalidInput(f"cron expression {cron!r} never fires", {"cron": ["never fires"]})
    return fire.astimezone(timezone.utc)


def fire_due_schedules(engine, *, limit: int = 50) -> int:
    """Queue a run for every schedule due now and move each to its next firing; returns runs queued.

    Firings missed while no worker ran (a stopped server) are coalesced into one run, for the latest."""
    queued = 0
    with engine.transaction() as session:
        now = clock.now()
        for schedule in claim_due_schedules(session, now=now, limit=limit):
            firing = _latest_firing(schedule, now)
            period_from, period_to = period_dates(schedule.period, firing, schedule.timezone)
            try:
                with session.begin_nested():
                    run = ReportRun(
                        schedule_id=schedule.id,
                        report=schedule.report,
                        period_from=period_from,
                        period_to=period_to,
                        parameters=schedule.parameters,
                        recipients=schedule.recipients,
                        requested_by=schedule.created_by,
                        scheduled_for=firing,
                        status=QUEUED,
                        attempts=0,
                        created_at=now,
                    )
                    session.add(run)
                    session.flush()
                    audit.record(
                        session,
                        "report_schedule.fire",
                        actor=audit.SCHEDULER,
                        target=schedule_target(schedule.id),
                        detail={"run": run.id, "report": schedule.report, "scheduled_for": firing.isoformat()},
                    )
                queued += 1
            except IntegrityError:  # this firing already has its run
                pass
            schedule.next_run_at = next_fire_time(schedule.cron, schedule.timezone, max(now, firing))
    return queued


def _latest_firing(schedule: ReportSchedule, now: datetime, *, at_most: int = 10_000) -> datetime:
    """The last firing due by `now`, from the first one missed (`next_run_at`) on."""
    firing = schedule.next_run_at
    for _ in range(at_most):  # a minutely schedule stopped for a week is 10,080 firings: close enough
        following = next_fire_time(schedule.cron, schedule.timezone, firing)
        if following > now:
            break
        firing = following
    return firing


def run_pending_reports(engine, *, limit: int = 20) -> int:
    """Make queued runs (and failed ones due for a retry), one transaction each; returns runs made."""
    done = 0
    for _ in range(limit):
        with engine.transaction() as session:
            runs = claim_runnable(session, now=clock.now(), limit=1)
            if not runs:
                break
            execute_run(session, runs[0], engine.settings)
            done += 1
    return done


def report_jobs(engine) -> int:
    """The scheduler's job: fire due schedules, then make the runs waiting."""
    try:
        fire_due_schedules(engine)
        return run_pending_reports(engine)
    except Exception:  # a database outage must not kill the scheduler thread; the next poll tries again
        log.exception("report scheduling failed")
        return 0


def execute_run(session, run: ReportRun, settings) -> None:
    """Make `run`'s PDF, keep it, and queue a mail with it to each recipient; or record why not."""
    run.attempts += 1
    run.started_at = now = clock.now()
    try:
        with session.begin_nested():
            account = session.scalar(select(Account).where(Account.username == run.requested_by))
            if account is None or not account.active:
                raise RuntimeError(f"the schedule's owner {run.requested_by} is no longer active")
            report = report_or_raise(run.report)
            # Written, and mailed, in the language of the schedule's creator, whose figures these are.
            locale = account.locale if account.locale in i18n.SUPPORTED else i18n.DEFAULT
            viewer = Viewer(account.username, tuple(account.roles or ()), locale)
            filters = resolve_filters(session, viewer, run.period_from, run.period_to, run.parameters or {})
            pdf = make(session, report, filters, "pdf", generated_at=now, firm=settings.firm_name)
    except Exception as exc:  # any failure is the run's outcome, kept with it
        run.status, run.error = FAILED, f"{type(exc).__name__}: {exc}"[:4000]
        run.retry_at = (
            now + timedelta(seconds=settings.report_retry_seconds * 2 ** (run.attempts - 1))
            if run.attempts < settings.report_max_attempts
            else None
        )
        log.warning("report run %s (%s) failed, attempt %s: %s", run.id, run.report, run.attempts, exc)
    else:
        run.status, run.error, run.retry_at = SUCCEEDED, None, None
        run.pdf, run.pdf_size = pdf, len(pdf)
        _mail(session, run, report.title, filters)
    run.finished_at = clock.now()
    audit.record(
        session,
        "report_run.execute",
        actor=audit.SCHEDULER,
        target=f"report_run:{run.id}",
        outcome="success" if run.status == SUCCEEDED else "failed",
        detail={
            "report": run.report,
            "schedule": run.schedule_id,
            "attempt": run.attempts,
            "status": run.status,
            "recipients": len(run.recipients or []),
            **({"error": run.error[:300]} if run.error else {}),
        },
    )


def _mail(session, run: ReportRun, title: str, filters: Filters) -> None:
    """Mail the run's PDF to each recipient, in the language it is written in (`filters.locale`)."""
    period = period_label(filters)
    for recipient in run.recipients or []:
        email = recipient if "@" in recipient else None
        notifications.queue(
            session,
            kind="report",
            recipient=None if email else recipient,
            email=email,
            subject="notification.report_mailed.subject",
            body="notification.report_mailed.body",
            params={"title": i18n.Term(title), "period": period, "run": run.id},
            locale=filters.locale,
            actor=audit.SCHEDULER,
            report_run_id=run.id,
        )


# How far ahead a new schedule's firings are checked: a year and a bit covers every pattern a 5-field cron
# can make but 29 February's (and the firing count bounds the work when the firm allows short intervals).
CADENCE_HORIZON = timedelta(days=400)
CADENCE_FIRINGS = 2000


def check_cadence(cron: str, zone: str, *, min_interval: timedelta, now: datetime) -> None:
    """Refuse a cron whose firings, over the next year, ever come closer than `min_interval`. Gaps are
    measured on the zone's wall clock, so a daily report does not fail on the night the clocks change."""
    trigger = _trigger(cron, zone)
    previous = trigger.get_next_fire_time(None, now)
    for _ in range(CADENCE_FIRINGS):
        if previous is None or previous - now >= CADENCE_HORIZON:
            return
        fire = trigger.get_next_fire_time(previous, previous + timedelta(seconds=1))
        if fire is None:
            return
        if fire.replace(tzinfo=None) - previous.replace(tzinfo=None) < min_interval:
            at = f"{previous:%Y-%m-%d %H:%M} and {fire:%Y-%m-%d %H:%M} ({zone})"
            raise InvalidInput(
                f"cron expression {cron!r} fires more often than every {_span(min_interval)}",
                {"cron": [f"fires at {at}; at most once every {_span(min_interval)}"]},
            )
        previous = fire


def _span(interval: timedelta) -> str:
    seconds = int(interval.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"


def check_recipients(session, recipients: list[str], *, firm_domains: tuple[str, ...]) -> None:
    """A report goes to accounts (by username, or the email address an account has) and to addresses in
    the firm's own email domains, never anywhere else: the PDF holds client figures."""
    usernames = {r for r in recipients if "@" not in r}
    emails = {r.casefold() for r in recipients if "@" in r}
    known = (
        set(session.scalars(select(Account.username).where(Account.username.in_(usernames)))) if usernames else set()
    )
    account_emails = (
        set(session.scalars(select(func.lower(Account.email)).where(func.lower(Account.email).in_(emails))))
        if emails
        else set()
    )
    errors: dict[str, list[str]] = {}
    for index, recipient in enumerate(recipients):
        if "@" not in recipient:
            if recipient not in known:
                errors[f"recipients.{index}"] = [f"{recipient}: not an account (give a username or an email address)"]
        elif recipient.casefold() not in account_emails and recipient.rpartition("@")[2].casefold() not in firm_domains:
            allowed = (
                f"an address in {', '.join(firm_domains)} or an account's"
                if firm_domains
                else "an account's (no firm email domains are configured)"
            )
            errors[f"recipients.{index}"] = [f"{recipient}: reports are mailed only to {allowed} email address"]
    if errors:
        raise InvalidInput(f"{len(errors)} recipient(s) cannot receive reports", errors)


def schedule_target(schedule_id: int) -> str:
    return f"report_schedule:{schedule_id}"


def create_schedule(
    session,
    *,
    report: str,
    cron: str,
    timezone_name: str,
    period: str,
    parameters: dict,
    recipients: list[str],
    created_by: str,
    settings,
) -> ReportSchedule:
    """A new schedule, checked against the firm's limits: its cadence, the creator's quota, its recipients.
    Audited as `report_schedule.create` by its creator."""
    report_or_raise(report)
    zone_or_raise(timezone_name)
    now = clock.now()
    check_cadence(cron, timezone_name, min_interval=timedelta(seconds=settings.report_min_interval_seconds), now=now)
    check_recipients(session, recipients, firm_domains=settings.firm_email_domains)
    _lock_account(session, created_by)
    kept = session.scalar(
        select(func.count()).select_from(ReportSchedule).where(ReportSchedule.created_by == created_by)
    )
    if kept >= settings.report_schedules_per_person:
        raise Conflict(
            f"{created_by} already keeps {kept} report schedules, the most one person may keep "
            f"({settings.report_schedules_per_person}); remove one first"
        )
    try:
        period_dates(period, now, timezone_name)
    except ValueError as exc:
        raise InvalidInput(str(exc), {"period": [str(exc)]}) from None
    schedule = ReportSchedule(
        report=report,
        cron=cron,
        timezone=timezone_name,
        period=period,
        parameters=parameters,
        recipients=recipients,
        active=True,
        created_by=created_by,
        created_at=now,
        next_run_at=next_fire_time(cron, timezone_name, now),
    )
    session.add(schedule)
    session.flush()
    audit.record(
        session,
        "report_schedule.create",
        actor=created_by,
        target=schedule_target(schedule.id),
        detail={
            "report": report,
            "cron": cron,
            "timezone": timezone_name,
            "period": period,
            "recipients": len(recipients),
        },
    )
    return schedule


def delete_schedule(session, schedule: ReportSchedule, *, actor: str) -> None:
    """Stop a schedule and remove it; its past runs and their PDFs stay."""
    audit.record(
        session,
        "report_schedule.delete",
        actor=actor,
        target=schedule_target(schedule.id),
        detail={"report": schedule.report, "cron": schedule.cron, "created_by": schedule.created_by},
    )
    session.delete(schedule)


def _lock_account(session, username: str) -> None:
    """Serialise one person's schedule creations, so two at once cannot both pass the quota."""
    if session.get_bind().dialect.name == "postgresql":  # SQLite serialises writers already
        session.execute(select(Account.id).where(Account.username == username).with_for_update())

"""Firing due timers (claim, fire each in a savepoint, commit per batch) and mailing the outbox; run by APScheduler.

On PostgreSQL the claim is `SELECT ... FOR UPDATE SKIP LOCKED`, so any number of worker
processes can poll the same table and a timer is fired by exactly one of them: the row is
locked until the batch commits, and deleted (or moved to its next cycle) in that commit.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from atrium import clock
from atrium.audit_chain import daily_check
from atrium.errors import AtriumError
from atrium.mailer import send_queued_notifications
from reports.scheduling import report_jobs
from storage.db import job_lock
from storage.timers import claim_due_timers, postpone_timer

log = logging.getLogger(__name__)

# A timer whose firing fails for an unexpected reason is tried again after this delay.
FAILED_TIMER_DELAY = timedelta(seconds=60)


def fire_due_timers(engine, *, batch_size: int | None = None, max_batches: int | None = None) -> int:
    """Fire every timer due now; returns how many were fired."""
    batch_size = batch_size or engine.settings.timer_batch_size
    fired = 0
    batches = 0
    while max_batches is None or batches < max_batches:
        batches += 1
        with engine.transaction() as session:
            timers = claim_due_timers(session, now=clock.now(), limit=batch_size)
            for timer in timers:
                try:
                    with session.begin_nested():
                        fired += engine.fire_timer(session, timer)
                except Exception as exc:  # one bad timer must not stop the others
                    if timer.instance_id is not None:
                        engine.workflows.discard(timer.instance_id)
                    level = logging.WARNING if isinstance(exc, AtriumError) else logging.ERROR
                    log.log(
                        level,
                        "timer %s (%s) failed: %s",
                        timer.id,
                        timer.element_id,
                        exc,
                        exc_info=level == logging.ERROR,
                    )
                    with session.begin_nested():
                        postpone_timer(session, timer_id=timer.id, due_at=clock.now() + FAILED_TIMER_DELAY)
        if len(timers) < batch_size:
            break
    return fired


def _job(function, name: str, *, singleton: bool = False):
    """`function(engine, **kwargs)` as a scheduler job that never takes the process down: an error (the
    database restarting, say) is logged and the job runs again at its next beat, on a fresh connection
    (the pool drops connections a disconnect invalidated). A `singleton` job (daily and hourly work that
    no row lock shares out) runs in one scheduler process at a time: the others skip that beat while one
    holds its PostgreSQL advisory lock, then find the day's work done by its "already done" guard."""

    def run(engine, **kwargs):
        try:
            if not singleton:
                return function(engine, **kwargs)
            with job_lock(engine.sessions.kw["bind"], name) as mine:
                return function(engine, **kwargs) if mine else None
        except Exception as exc:
            log.error("scheduler job %s failed, tried again at its next beat: %s: %s", name, type(exc).__name__, exc)
            log.debug("scheduler job %s failed", name, exc_info=True)
            return None

    run.__name__ = name
    run.__wrapped__ = function  # what the job runs, for a reader (and a test) of the scheduler
    return run


def scheduler_jobs(engine) -> list[tuple[str, object, dict, dict]]:
    """Every job a scheduler process runs: (id, callable(engine, **kwargs), kwargs, interval trigger args).

    Timers, report schedules and the mail outbox are claimed row by row (SKIP LOCKED), so every scheduler
    process polls them; the rest are singletons (see `_job`)."""
    settings = engine.settings
    poll = {"seconds": settings.timer_poll_seconds}
    jobs = [
        ("fire_due_timers", _job(fire_due_timers, "fire_due_timers"), {}, poll),
        ("report_jobs", _job(report_jobs, "report_jobs"), {}, poll),
    ]
    if settings.smtp_configured:
        jobs.append(
            ("send_queued_notifications", _job(send_queued_notifications, "send_queued_notifications"), {}, poll)
        )
    # The outbox's events to webhook subscribers (atrium/webhooks.py): fan-out and deliveries are claimed row by
    # row (SKIP LOCKED), so every scheduler process polls them.
    from atrium.webhooks import webhook_job

    jobs.append(("webhook_job", _job(webhook_job, "webhook_job"), {}, poll))
    if settings.amqp_url:  # the outbox's events to the message broker (atrium/amqp.py): one publisher at a time
        from atrium.amqp import publish_events

        jobs.append(("publish_events", _job(publish_events, "publish_events", singleton=True), {}, poll))
    if settings.backup_cron:  # checked each poll against the folder's newest archive (atrium/backup.py)
        from atrium.backup import scheduled_backup

        jobs.append(
            (
                "scheduled_backup",
                _job(scheduled_backup, "scheduled_backup", singleton=True),
                {"since": clock.now()},
                {"seconds": max(settings.timer_poll_seconds, 30.0)},
            )
        )
    from atrium.billing import start_overdue_follow_ups
    from atrium.erasure import retention_job
    from atrium.health import daily_health
    from atrium.integration_accounts import purge_expired_idempotency_keys
    from atrium.surveys import start_due_nps_surveys

    hourly = {"hours": 1}
    # The audit chain is verified once a UTC day (daily_check skips a day already checked); polled hourly
    # so a restart does not skip a day.
    jobs.append(("audit_daily_check", _job(daily_check, "audit_daily_check", singleton=True), {}, hourly))
    # Client health is recomputed once a UTC day and at-risk owners mailed once an ISO week (atrium/health.py).
    jobs.append(("daily_health", _job(daily_health, "daily_health", singleton=True), {}, hourly))
    # The periodic NPS survey of each active client (atrium/surveys.py): started when due, polled hourly;
    # a client asked within ATRIUM_SURVEY_NPS_MONTHS is not due, so a second poll starts nothing twice.
    jobs.append(("survey_nps", _job(start_due_nps_surveys, "survey_nps", singleton=True), {}, hourly))
    # Idempotency-Keys past their expiry are forgotten (api/idempotency.py), hourly; a plain DELETE, so any
    # scheduler may run it.
    jobs.append(("idempotency_cleanup", _job(purge_expired_idempotency_keys, "idempotency_cleanup"), {}, hourly))
    # Unpaid invoices past due get one follow-up for their client's owner (atrium/billing.py): polled hourly,
    # so each is started within the hour after its due day ends; an invoice with one is not looked at again.
    jobs.append(("overdue_invoices", _job(start_overdue_follow_ups, "overdue_invoices", singleton=True), {}, hourly))
    if settings.erase_after_years:  # once a UTC day, like the audit check (atrium/erasure.py)
        jobs.append(("erasure_retention", _job(retention_job, "erasure_retention", singleton=True), {}, hourly))
    return jobs


def start_scheduler(engine) -> BackgroundScheduler:
    """Run `scheduler_jobs` in a background thread: timers, report schedules and (with SMTP configured)
    the notification outbox every `timer_poll_seconds`, the daily jobs polled hourly. Any number of
    processes may run it against one PostgreSQL database (`atrium serve` workers, `atrium scheduler`)."""
    scheduler = BackgroundScheduler(timezone="UTC")
    for job_id, job, kwargs, interval in scheduler_jobs(engine):
        scheduler.add_job(
            job, "interval", args=[engine], kwargs=kwargs, id=job_id, max_instances=1, coalesce=True, **interval
        )
    scheduler.start()
    return scheduler

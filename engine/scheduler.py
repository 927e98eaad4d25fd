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


def start_scheduler(engine) -> BackgroundScheduler:
    """Poll for due timers every `timer_poll_seconds` in a background thread; with SMTP
    configured, mail the notification outbox on the same beat."""
    scheduler = BackgroundScheduler(timezone="UTC")
    jobs = [fire_due_timers, report_jobs] + ([send_queued_notifications] if engine.settings.smtp_configured else [])
    for job in jobs:
        scheduler.add_job(
            job,
            "interval",
            args=[engine],
            seconds=engine.settings.timer_poll_seconds,
            id=job.__name__,
            max_instances=1,
            coalesce=True,
        )
    if engine.settings.backup_cron:  # checked each poll against the folder's newest archive (atrium/backup.py)
        from atrium.backup import scheduled_backup

        scheduler.add_job(
            scheduled_backup,
            "interval",
            args=[engine],
            kwargs={"since": clock.now()},
            seconds=max(engine.settings.timer_poll_seconds, 30.0),
            id="scheduled_backup",
            max_instances=1,
            coalesce=True,
        )
    # The audit chain is verified once a UTC day (daily_check skips a day already checked); polled hourly
    # so a restart does not skip a day.
    scheduler.add_job(
        daily_check, "interval", args=[engine], hours=1, id="audit_daily_check", max_instances=1, coalesce=True
    )
    # Client health is recomputed once a UTC day and at-risk owners mailed once an ISO week (atrium/health.py).
    from atrium.health import daily_health

    scheduler.add_job(
        daily_health, "interval", args=[engine], hours=1, id="daily_health", max_instances=1, coalesce=True
    )
    # The periodic NPS survey of each active client (atrium/surveys.py): started when due, polled hourly;
    # a client asked within ATRIUM_SURVEY_NPS_MONTHS is not due, so a second poll starts nothing twice.
    from atrium.surveys import start_due_nps_surveys

    scheduler.add_job(
        start_due_nps_surveys, "interval", args=[engine], hours=1, id="survey_nps", max_instances=1, coalesce=True
    )
    # Idempotency-Keys past their expiry are forgotten (api/idempotency.py), hourly.
    from atrium.integration_accounts import purge_expired_idempotency_keys

    scheduler.add_job(
        purge_expired_idempotency_keys,
        "interval",
        args=[engine],
        hours=1,
        id="idempotency_cleanup",
        max_instances=1,
        coalesce=True,
    )
    # Unpaid invoices past due get one follow-up for their client's owner (atrium/billing.py): polled hourly,
    # so each is started within the hour after its due day ends; an invoice with one is not looked at again.
    from atrium.billing import start_overdue_follow_ups

    scheduler.add_job(
        start_overdue_follow_ups,
        "interval",
        args=[engine],
        hours=1,
        id="overdue_invoices",
        max_instances=1,
        coalesce=True,
    )
    if engine.settings.erase_after_years:  # once a UTC day, like the audit check (atrium/erasure.py)
        from atrium.erasure import retention_job

        scheduler.add_job(
            retention_job, "interval", args=[engine], hours=1, id="erasure_retention", max_instances=1, coalesce=True
        )
    scheduler.start()
    return scheduler

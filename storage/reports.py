"""Report schedules and report runs: when a report is made, for whom, and every run's outcome and PDF.

A schedule's `next_run_at` is the persistent record of its next firing. Whichever worker's
scheduler claims the row (FOR UPDATE SKIP LOCKED on PostgreSQL) creates the run and moves
`next_run_at` on in the same commit, and the unique (schedule_id, scheduled_for) pair makes a
second run of one firing impossible even so.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    or_,
    select,
)
from sqlalchemy.orm import Mapped, Session, deferred, mapped_column

from .base import Base, BigId, UTCDateTime

QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"


class ReportSchedule(Base):
    __tablename__ = "report_schedules"
    __table_args__ = (Index("ix_report_schedules_due", "active", "next_run_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    report: Mapped[str] = mapped_column(String(100))
    cron: Mapped[str] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(64))
    # The period each run covers, relative to its firing: previous_month, previous_week, ...
    period: Mapped[str] = mapped_column(String(30))
    # Filters (owner, team, service_type, process_key) as given to the report.
    parameters: Mapped[dict] = mapped_column(JSON, default=dict)
    recipients: Mapped[list] = mapped_column(JSON, default=list)  # usernames or email addresses
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReportRun(Base):
    __tablename__ = "report_runs"
    __table_args__ = (
        UniqueConstraint("schedule_id", "scheduled_for", name="uq_report_runs_firing"),
        Index("ix_report_runs_status_retry", "status", "retry_at"),
        Index("ix_report_runs_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("report_schedules.id", ondelete="SET NULL"))
    report: Mapped[str] = mapped_column(String(100))
    period_from: Mapped[date] = mapped_column(Date)
    period_to: Mapped[date] = mapped_column(Date)  # exclusive
    parameters: Mapped[dict] = mapped_column(JSON, default=dict)
    recipients: Mapped[list] = mapped_column(JSON, default=list)
    # Whose view the figures are: an account manager's schedule reports on their own clients only.
    requested_by: Mapped[str] = mapped_column(String(100))
    scheduled_for: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(10), default=QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # a failed run is tried again then
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pdf_size: Mapped[int | None] = mapped_column(Integer)
    pdf: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))


def _skip_locked(session: Session, query):
    # SQLite serialises writers (BEGIN IMMEDIATE), so only PostgreSQL needs the row locks.
    return query.with_for_update(skip_locked=True) if session.get_bind().dialect.name == "postgresql" else query


def claim_due_schedules(session: Session, *, now: datetime, limit: int) -> list[ReportSchedule]:
    query = (
        select(ReportSchedule)
        .where(ReportSchedule.active, ReportSchedule.next_run_at <= now)
        .order_by(ReportSchedule.next_run_at)
        .limit(limit)
    )
    return list(session.scalars(_skip_locked(session, query)))


def claim_runnable(session: Session, *, now: datetime, limit: int) -> list[ReportRun]:
    """Queued runs, and failed ones whose retry is due, locked for this transaction."""
    query = (
        select(ReportRun)
        .where(or_(ReportRun.status == QUEUED, (ReportRun.status == FAILED) & (ReportRun.retry_at <= now)))
        .order_by(ReportRun.created_at, ReportRun.id)
        .limit(limit)
    )
    return list(session.scalars(_skip_locked(session, query)))


def report_pdfs(session: Session, *, run_ids: set[int]) -> dict[int, tuple[str, bytes]]:
    """run id -> (file name, PDF) for the runs that have one: what report mail attaches."""
    if not run_ids:
        return {}
    rows = session.execute(
        select(ReportRun.id, ReportRun.report, ReportRun.period_from, ReportRun.pdf).where(
            ReportRun.id.in_(run_ids), ReportRun.pdf.is_not(None)
        )
    )
    return {row.id: (pdf_filename(row.report, row.period_from), row.pdf) for row in rows}


def pdf_filename(report: str, period_from: date) -> str:
    return f"{report}-{period_from.isoformat()}.pdf"
